import type { ToolDialect } from "./ToolDialect.js";

/**
 * Mistral (v3 tokenizer templates): after the `[TOOL_CALLS]` control token (which reads as no text), the calls as
 * one JSON array of objects with `name` and `arguments`.
 *
 *     [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "search", "arguments": {}}]
 */
export const MISTRAL_DIALECT: ToolDialect = Object.freeze({
  name: "mistral",
  open: "[",
  callOpen: '{"name": "',
  callArguments: '", "arguments": ',
  callClose: "}",
  separator: ", ",
  close: "]",
  toolsInstruction:
    'For function calls, respond with a JSON array of objects in the format {"name": function name, "arguments": dictionary of argument name and its value}:',
});
