import { type GbnfJsonSchema, type Llama, LlamaGrammar, LlamaJsonSchemaGrammar } from "node-llama-cpp";
import { gbnfLiteral, gbnfText, prefixRules, schemaGrammarRules } from "./gbnf.js";
import { isConstrained, type OutputFormat } from "./outputFormat.js";
import { TOOL_CALL_ARGUMENTS, TOOL_CALL_CLOSE, TOOL_CALL_OPEN, TOOL_CALL_SEPARATOR } from "./toolCallText.js";

/** Grammars kept for reuse (an agent sends the same tools every turn). */
const CACHED_GRAMMARS = 64;

/**
 * The grammar an output format decodes under, in GBNF:
 *
 *     root   ::= calls                 (tool_choice "required" or a named function)
 *     root   ::= calls | text          (tool_choice "auto", text answers)
 *     root   ::= calls | a-root        (tool_choice "auto", JSON answers)
 *     root   ::= a-root                (no tools, JSON answers)
 *     calls  ::= call ("\n" call)*     (one call only without parallel_tool_calls)
 *     call   ::= "<tool_call>\n{\"name\": \"" ( "f\", \"arguments\": " t0-root | … ) "}\n</tool_call>"
 *     text   ::= ( [^<] [^\x00]* )?
 *
 * `t<i>-…` and `a-…` are node-llama-cpp's grammars for each tool's parameters and for the answer's schema, their
 * rules renamed apart. So with tool_choice "auto" the first character decides: "<" starts a call, anything else a
 * text answer (which therefore never starts with "<"). The text is a function of the format alone, so every
 * verifier decodes under the same grammar.
 */
export function outputGrammarText(llama: Llama, format: OutputFormat): string {
  const rules = new Map<string, string>();
  const schemaRoot = (schema: GbnfJsonSchema, prefix: string) => {
    const grammar = new LlamaJsonSchemaGrammar(llama, schema as never);
    for (const [name, body] of prefixRules(schemaGrammarRules(grammar.grammar), prefix))
      rules.set(name, body);
    return `${prefix}root`;
  };
  const alternatives: string[] = [];
  if (format.tools.length > 0) {
    const calls: string[] = [];
    for (const [i, tool] of format.tools.entries())
      calls.push(
        `${gbnfLiteral(`${tool.name}${TOOL_CALL_ARGUMENTS}`)} ${schemaRoot(tool.parameters, `t${i}-`)}`,
      );
    rules.set(
      "call",
      `${gbnfLiteral(TOOL_CALL_OPEN)} ( ${calls.join(" | ")} ) ${gbnfLiteral(TOOL_CALL_CLOSE)}`,
    );
    rules.set("calls", format.parallel ? `call ( ${gbnfLiteral(TOOL_CALL_SEPARATOR)} call )*` : "call");
    alternatives.push("calls");
  }
  if (!format.mustCall) {
    if (format.answer.kind === "json") alternatives.push(schemaRoot(format.answer.schema, "a-"));
    else {
      rules.set("text", "( [^<] [^\\x00]* )?");
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

  grammarFor(format: OutputFormat): LlamaGrammar | undefined {
    if (!isConstrained(format)) return undefined;
    const key = JSON.stringify(format);
    let grammar = this.#cache.get(key);
    if (grammar) this.#cache.delete(key);
    else grammar = new LlamaGrammar(this.#llama, { grammar: outputGrammarText(this.#llama, format) });
    this.#cache.set(key, grammar);
    if (this.#cache.size > CACHED_GRAMMARS) this.#cache.delete(this.#cache.keys().next().value as string);
    return grammar;
  }
}
