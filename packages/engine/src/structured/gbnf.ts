/**
 * node-llama-cpp's JSON-schema grammars end their root rule with four newlines and any number more: its stop
 * trigger for chat sessions. This engine ends an answer where the grammar completes (the model must then pick an
 * end-of-generation token), so the trailer is cut off.
 */
const SCHEMA_GRAMMAR_TRAILER = ` "${"\\n".repeat(4)}" [\\n]*`;

/**
 * Numbers as this engine writes them. node-llama-cpp lets an integer carry any exponent (`91E-3` is no integer)
 * and a number an exponent of up to 16 digits (`1E400` parses as Infinity); here integers have no exponent and
 * other numbers one of at most two digits, so every number parses to a finite value of its type.
 */
const NUMBER_RULES: Record<string, string> = {
  "integer-number-rule": '"-"? ("0" | [1-9] [0-9]{0,15})',
  "fractional-number-rule": '"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?',
};

/** A GBNF grammar's rules, by name, in their order (each rule one `name ::= body` line). */
export type GbnfRules = ReadonlyMap<string, string>;

/**
 * The rules of a grammar node-llama-cpp made for a JSON schema, its root ending where the JSON value does and its
 * numbers this engine's.
 */
export function schemaGrammarRules(grammar: string): GbnfRules {
  const rules = new Map<string, string>();
  for (const line of grammar.split("\n")) {
    const at = line.indexOf(" ::= ");
    if (at <= 0) throw new Error(`unexpected line in a JSON-schema grammar: ${line}`);
    rules.set(line.slice(0, at), line.slice(at + 5));
  }
  const root = rules.get("root");
  if (root === undefined || !root.endsWith(SCHEMA_GRAMMAR_TRAILER))
    throw new Error(
      "node-llama-cpp's JSON-schema grammar changed shape: its root rule has no newline trailer",
    );
  rules.set("root", root.slice(0, -SCHEMA_GRAMMAR_TRAILER.length));
  for (const [name, body] of Object.entries(NUMBER_RULES)) if (rules.has(name)) rules.set(name, body);
  return rules;
}

/**
 * The same rules with every rule name prefixed, so grammars made separately (each names its rules `root`,
 * `rule0`, `string-char-rule`…) can live in one. Names are renamed outside string literals, character classes and
 * repetition bounds only.
 */
export function prefixRules(rules: GbnfRules, prefix: string): Map<string, string> {
  const renamed = new Map<string, string>();
  for (const [name, body] of rules) renamed.set(prefix + name, renameReferences(body, rules, prefix));
  return renamed;
}

function renameReferences(body: string, rules: GbnfRules, prefix: string): string {
  let out = "";
  let i = 0;
  while (i < body.length) {
    const char = body[i]!;
    const close = char === '"' ? '"' : char === "[" ? "]" : char === "{" ? "}" : undefined;
    if (close !== undefined) {
      let end = i + 1;
      while (end < body.length && body[end] !== close) end += body[end] === "\\" ? 2 : 1;
      out += body.slice(i, end + 1);
      i = end + 1;
    } else if (/[A-Za-z0-9_-]/.test(char)) {
      let end = i + 1;
      while (end < body.length && /[A-Za-z0-9_-]/.test(body[end]!)) end++;
      const word = body.slice(i, end);
      out += rules.has(word) ? prefix + word : word;
      i = end;
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

/** A GBNF string literal of `text` (which must hold no character that needs more than a backslash). */
export function gbnfLiteral(text: string): string {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}

/** The grammar text of these rules. */
export function gbnfText(rules: GbnfRules): string {
  return [...rules].map(([name, body]) => `${name} ::= ${body}`).join("\n");
}
