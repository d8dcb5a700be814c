import type { Logger } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { llamaLogSink } from "./llamaLog.js";

function recordingLogger() {
  const lines: { obj: object; msg?: string | undefined }[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (obj, msg) => lines.push({ obj, msg }),
    error: () => {},
    child: () => logger,
  };
  return { logger, lines };
}

// Review LOW-2: llama.cpp's lines reached the node's log whole, and once serving one may quote a sealed request's
// schema (a grammar it failed to parse) or a token's text.
describe("llama.cpp's log lines", () => {
  it("are logged whole while the models load, and only by level and length once the engine serves", () => {
    let serving = false;
    const { logger, lines } = recordingLogger();
    const sink = llamaLogSink(logger, () => serving);
    sink("warn", "no GPU found, using the CPU\n");
    serving = true;
    sink("error", 'parse: error parsing grammar: "secret_property_name" ::= ...');
    expect(lines[0]!.obj).toEqual({ level: "warn", llama: "no GPU found, using the CPU" });
    expect(JSON.stringify(lines[1])).not.toContain("secret_property_name");
    expect(lines[1]!.obj).toEqual({ level: "error", chars: 60 });
  });
});
