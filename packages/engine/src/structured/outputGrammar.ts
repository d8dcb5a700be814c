import { type GbnfJsonSchema, type Llama, LlamaGrammar, LlamaJsonSchemaGrammar } from "node-llama-cpp";
import { InvalidRequestError } from "../errors.js";
import { callsStart, type ToolDialect } from "./dialects/ToolDialect.js";
import { gbnfLiteral, gbnfText, prefixRules, schemaGrammarRules } from "./gbnf.js";
import { isConstrained, type OutputFormat } from "./outputFormat.js";

/** Grammars kept for reuse (an agent sends the same tools every turn). */
const CACHED_GRAMMARS = 64;

/**
 * The grammar an output format decodes under, in GBNF, in the model's tool-call dialect (here Hermes's):
 *
 *     root   ::= calls                 (tool_choice "required" or a named function)
 *     root   ::= calls | text          (tool_choice "auto", text answers)
 *     root   ::= calls | a-root        (tool_choice "auto", JSON answers)
 *     root   ::= a-root                (no tools, JSON answers)
 *     calls  ::= open call (separator call)* close    (one call only without parallel_tool_calls)
 *     call   ::= "<tool_call>\n{\"name\": \"" ( "f\", \"arguments\": " t0-root | … ) "}\n</tool_call>"
 *     text   ::= ( [^<] [^\x00]* )?
 *
 * `t<i>-…` and `a-…` are node-llama-cpp's grammars for each tool's parameters and for the answer's schema, their
 * rules renamed apart. So with tool_choice "auto" the first character decides: the first character of the
 * dialect's calls ("<", Llama 3's "{", Mistral's "[") starts calls, anything else a text answer (which therefore
 * never starts with it). A dialect whose calls start like JSON cannot tell them from a JSON answer: tool_choice
 * "auto" with a JSON answer is refused for it. The text is a function of the format and the dialect alone, so
 * every verifier decodes under the same grammar.
 */
export function outputGrammarText(llama: Llama, format: OutputFormat, dialect: ToolDialect): string {
  const rules = new Map<string, string>();
  const schemaRoot = (schema: GbnfJsonSchema, prefix: string) => {
    const grammar = new LlamaJsonSchemaGrammar(llama, schema as never);
    for (const [name, body] of prefixRules(schemaGrammarRules(grammar.grammar), prefix))
      rules.set(name, body);
    return `${prefix}root`;
  };
  const alternatives: string[] = [];
  const first = callsStart(dialect)[0]!;
  if (format.tools.length > 0) {
    const calls: string[] = [];
    for (const [i, tool] of format.tools.entries())
      calls.push(
        `${gbnfLiteral(`${tool.name}${dialect.callArguments}`)} ${schemaRoot(tool.parameters, `t${i}-`)}`,
      );
    rules.set(
      "call",
      `${gbnfLiteral(dialect.callOpen)} ( ${calls.join(" | ")} ) ${gbnfLiteral(dialect.callClose)}`,
    );
    const repeated = format.parallel ? `call ( ${gbnfLiteral(dialect.separator)} call )*` : "call";
    rules.set(
      "calls",
      [optionalLiteral(dialect.open), repeated, optionalLiteral(dialect.close)].join(" ").trim(),
    );
    alternatives.push("calls");
  }
  if (!format.mustCall) {
    if (format.answer.kind === "json") {
      if (format.tools.length > 0 && (first === "{" || first === "["))
        throw new InvalidRequestError(
          `this model writes tool calls as JSON (its ${dialect.name} format): with tool_choice "auto" its answer cannot also be JSON`,
          { param: "response_format" },
        );
      alternatives.push(schemaRoot(format.answer.schema, "a-"));
    } else {
      const notFirst = first === "[" || first === "]" || first === "\\" ? `\\${first}` : first;
      rules.set("text", `( [^${notFirst}] [^\\x00]* )?`);
      alternatives.push("text");
    }
  }
  return gbnfText(new Map([["root", alternatives.join(" | ")], ...rules]));
}

/**
 * Makes and keeps the grammars of output formats (none for free text). Synchronously, with the grammar classes'
 * constructors (what `llama.createGrammar…` call): a request is queued in the same turn it is made, so the queue
 * keeps arrival order and a caller sees it queued at once.
 */
export class OutputGrammars {
  readonly #llama: Llama;
  readonly #cache = new Map<string, LlamaGrammar>();

  constructor(llama: Llama) {
    this.#llama = llama;
  }

  grammarFor(format: OutputFormat, dialect: ToolDialect): LlamaGrammar | undefined {
    if (!isConstrained(format)) return undefined;
    const key = `${dialect.name} ${JSON.stringify(format)}`;
    let grammar = this.#cache.get(key);
    if (grammar) this.#cache.delete(key);
    else
      grammar = new LlamaGrammar(this.#llama, { grammar: outputGrammarText(this.#llama, format, dialect) });
    this.#cache.set(key, grammar);
    if (this.#cache.size > CACHED_GRAMMARS) this.#cache.delete(this.#cache.keys().next().value as string);
    return grammar;
  }
}

/** The literal, or nothing for empty text. */
function optionalLiteral(text: string): string {
  return text === "" ? "" : gbnfLiteral(text);
}
