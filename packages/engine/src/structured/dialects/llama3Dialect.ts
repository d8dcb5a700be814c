import type { ToolDialect } from "./ToolDialect.js";

/**
 * Llama 3.1+ custom tools: a JSON object with the function's name and its `parameters`, as the Llama 3.1 template
 * asks ("Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}")
 * and renders an assistant's call. `<|python_tag|>` (a control token, which reads as no text) is the cue of the
 * built-in tools; the grammar writes the bare object. Several calls are one object a line.
 *
 *     {"name": "get_weather", "parameters": {"city": "Paris"}}
 */
export const LLAMA3_DIALECT: ToolDialect = Object.freeze({
  name: "llama3",
  open: "",
  callOpen: '{"name": "',
  callArguments: '", "parameters": ',
  callClose: "}",
  separator: "\n",
  close: "",
  toolsInstruction:
    'For a function call, respond with a JSON object in the format {"name": function name, "parameters": dictionary of argument name and its value}:',
});
