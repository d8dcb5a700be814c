import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { gatewayHint } from "../src/dev/gatewayHint.js";
import { shellWord } from "../src/shellWord.js";

/** What `sh` makes of one pasted line: its words, each as the command would get it. */
const wordsOf = (line: string): string[] =>
  execFileSync("sh", ["-c", `printf '%s\\0' ${line}`], { encoding: "utf8" })
    .split("\0")
    .slice(0, -1);

// A model's name comes from its file's name, which for an `hf:` source a third party chooses.
const HOSTILE = [
  `x'; touch /tmp/atoma-pwned; echo '`,
  "$(touch /tmp/atoma-pwned)",
  "`touch /tmp/atoma-pwned`",
  'say "hi" \\ and\nbye',
  "-rf",
  "é ü \u202e",
];

describe("atoma dev's gateway hint, pasted into a shell", () => {
  it("keeps every hostile model name one word of data in the curl line, and a string in the JS line", () => {
    for (const model of HOSTILE) {
      const hint = gatewayHint({ url: "http://127.0.0.1:8090", apiKey: "sk-atoma-abc", model });
      const lines = hint.split("\n");
      const curl = `${lines[1]!.replace(/\\$/, "").trim()} ${lines[2]!.trim()}`;
      const words = wordsOf(curl.replace(/^curl /, ""));
      expect(words, model).toEqual([
        "-s",
        "http://127.0.0.1:8090/v1/chat/completions",
        "-H",
        "Authorization: Bearer sk-atoma-abc",
        "-H",
        "content-type: application/json",
        "-d",
        JSON.stringify({ model, messages: [{ role: "user", content: "Hello" }] }),
      ]);
      const js = lines[3]!.trim().replace(/^new OpenAI\(/, "(");
      expect(new Function(`return ${js}`)(), model).toEqual({
        baseURL: "http://127.0.0.1:8090/v1",
        apiKey: "sk-atoma-abc",
      });
    }
  });

  it("quotes only what needs it", () => {
    expect(shellWord("/tmp/state/network.json")).toBe("/tmp/state/network.json");
    expect(wordsOf(shellWord("/tmp/a b/it's.json"))).toEqual(["/tmp/a b/it's.json"]);
  });
});
