import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { configOptions } from "./env.js";
import { loadNodeConfig } from "./loadConfig.js";

const example = fileURLToPath(new URL("../../node.example.toml", import.meta.url));

describe("node.example.toml", () => {
  it("is a valid configuration", () => {
    const config = loadNodeConfig({ file: example, env: {} });
    expect(config.chain.chainId).toBe(31337);
    expect(config.model.id).toBe("tiny");
  });

  it("documents every option, in its section", () => {
    const text = readFileSync(example, "utf8");
    const sections = text.split(/^\[/m).slice(1);
    for (const option of configOptions()) {
      const section = sections.find((s) => s.startsWith(`${option.section}]`));
      expect(section, option.section).toBeDefined();
      expect(section, option.path).toMatch(new RegExp(`^#? ?${option.key} = `, "m"));
    }
  });
});
