import type { GbnfJsonSchema } from "node-llama-cpp";
import { InvalidRequestError } from "../errors.js";
import type { ChatRequest } from "../openai/requests.js";
import type { SamplingSettings } from "../sampling.js";
import { grammarSchemaOf } from "./grammarSchema.js";

/** A function the answer may call, its arguments' schema as the grammar takes it. */
export interface ToolSpec {
  name: string;
  parameters: GbnfJsonSchema;
}

/** What an answer that calls no tool is: free text, or a JSON value of a schema. */
export type AnswerFormat = { kind: "text" } | { kind: "json"; schema: GbnfJsonSchema };

/** What a chat's answer may be, from its tools, tool_choice, parallel_tool_calls and response_format. */
export interface OutputFormat {
  /** The functions the answer may call (none when tool_choice is "none" or there are no tools). */
  tools: readonly ToolSpec[];
  /** The answer is tool calls only (tool_choice "required" or a named function). */
  mustCall: boolean;
  /** More than one call in an answer. */
  parallel: boolean;
  /** What an answer is when it calls no tool. */
  answer: AnswerFormat;
}

export const TEXT_OUTPUT: OutputFormat = Object.freeze({
  tools: [],
  mustCall: false,
  parallel: false,
  answer: { kind: "text" as const },
});

/** Any JSON object: `json_object`, and a `json_schema` that gives no schema. */
const ANY_OBJECT: GbnfJsonSchema = { type: "object", additionalProperties: true };
const NO_ARGUMENTS: GbnfJsonSchema = { type: "object", properties: {} };

/** Whether decoding needs a grammar (anything but free text). */
export function isConstrained(format: OutputFormat): boolean {
  return format.tools.length > 0 || format.answer.kind === "json";
}

/**
 * The output format a chat asks for. tool_choice defaults to "auto" when tools are given; "auto" lets the answer
 * be tool calls or what response_format asks for; parallel_tool_calls defaults to true (a named function: one
 * call). Throws InvalidRequestError (with `param`) for a bad tool definition, a tool_choice naming no tool, or an
 * unsatisfiable (or, with strict, unenforceable) schema.
 */
export function outputFormatOf(request: ChatRequest): OutputFormat {
  const tools = request.tools ?? [];
  const names = new Set<string>();
  const specs = tools.map((tool, i): ToolSpec => {
    const name = tool.function.name;
    if (names.has(name))
      throw new InvalidRequestError(`two tools are named ${name}`, { param: `tools.${i}.function.name` });
    names.add(name);
    return { name, parameters: parametersOf(tool.function.parameters, tool.function.strict === true, i) };
  });
  const answer = answerFormatOf(request);
  const choice = request.tool_choice ?? (specs.length > 0 ? "auto" : "none");
  if (choice === "none") return { ...TEXT_OUTPUT, answer };
  if (specs.length === 0) {
    if (choice === "auto") return { ...TEXT_OUTPUT, answer };
    throw new InvalidRequestError("tool_choice asks for a tool call, and the request has no tools", {
      param: "tool_choice",
    });
  }
  const parallel = request.parallel_tool_calls ?? true;
  if (choice === "auto") return { tools: specs, mustCall: false, parallel, answer };
  if (choice === "required") return { tools: specs, mustCall: true, parallel, answer };
  const named = specs.find((spec) => spec.name === choice.function.name);
  if (!named)
    throw new InvalidRequestError(`tool_choice names ${choice.function.name}, which is not among the tools`, {
      param: "tool_choice.function.name",
    });
  return { tools: [named], mustCall: true, parallel: false, answer };
}

function parametersOf(parameters: Record<string, unknown> | null | undefined, strict: boolean, i: number) {
  const param = `tools.${i}.function.parameters`;
  if (parameters == null || Object.keys(parameters).length === 0) return NO_ARGUMENTS;
  const schema = grammarSchemaOf(parameters, { strict, param });
  if (!("type" in schema) || schema.type !== "object")
    throw new InvalidRequestError(`${param}: a function's parameters must be a schema of type object`, {
      param,
    });
  return schema;
}

function answerFormatOf(request: ChatRequest): AnswerFormat {
  const format = request.response_format;
  if (format == null || format.type === "text") return { kind: "text" };
  if (format.type === "json_object") return { kind: "json", schema: ANY_OBJECT };
  const { schema, strict } = format.json_schema;
  if (schema == null) return { kind: "json", schema: ANY_OBJECT };
  return {
    kind: "json",
    schema: grammarSchemaOf(schema, { strict: strict === true, param: "response_format.json_schema.schema" }),
  };
}

/**
 * Refuses what would let a grammar-constrained text end where the grammar has not: a stop sequence cuts it,
 * ignore_eos runs past it.
 */
export function refuseOtherEndings(format: OutputFormat, sampling: SamplingSettings): void {
  if (!isConstrained(format)) return;
  if (sampling.stop.length > 0)
    throw new InvalidRequestError("stop sequences cannot cut tool calls or JSON answers", { param: "stop" });
  if (sampling.ignoreEos)
    throw new InvalidRequestError("ignore_eos cannot be combined with tools or a JSON answer", {
      param: "ignore_eos",
    });
}
