import { describe, expect, it } from "vitest";
import { gbnfText, prefixRules, schemaGrammarRules } from "./gbnf.js";

describe("gbnf rules", () => {
  it("cuts node-llama-cpp's newline trailer and renames rules only where they are references", () => {
    const grammar = [
      'root ::= "{" ws "\\"root\\"" ":" rule0 [root]{0,2} ws "}" "\\n\\n\\n\\n" [\\n]*',
      'rule0 ::= "ws" | ws',
      "ws ::= [ ]?",
    ].join("\n");
    const rules = prefixRules(schemaGrammarRules(grammar), "a-");
    expect(gbnfText(rules)).toBe(
      [
        'a-root ::= "{" a-ws "\\"root\\"" ":" a-rule0 [root]{0,2} a-ws "}"',
        'a-rule0 ::= "ws" | a-ws',
        "a-ws ::= [ ]?",
      ].join("\n"),
    );
  });

  it("writes integers without an exponent and other numbers with one of two digits at most", () => {
    const grammar = [
      'root ::= integer-number-rule fractional-number-rule "\\n\\n\\n\\n" [\\n]*',
      "integer-number-rule ::= [0-9]+ ([eE] [-+]? [0-9]+)?",
      "fractional-number-rule ::= [0-9]+ ([eE] [-+]? [0-9]+)?",
    ].join("\n");
    const rules = schemaGrammarRules(grammar);
    expect(rules.get("integer-number-rule")).not.toContain("eE");
    expect(rules.get("fractional-number-rule")).toContain("[eE] [-+]? [0-9]{1,2}");
  });

  it("fails loudly on a grammar of another shape", () => {
    expect(() => schemaGrammarRules('root ::= "x"')).toThrow(/trailer/);
  });
});
