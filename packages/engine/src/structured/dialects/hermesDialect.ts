import type { ToolDialect } from "./ToolDialect.js";

/**
 * Hermes / Qwen: one block per call, separated by a newline (the format this engine used before dialects, and the
 * one for templates that say nothing of tools):
 *
 *     <tool_call>
 *     {"name": "get_weather", "arguments": {"city": "Paris"}}
 *     </tool_call>
 */
export const HERMES_DIALECT: ToolDialect = Object.freeze({
  name: "hermes",
  open: "",
  callOpen: '<tool_call>\n{"name": "',
  callArguments: '", "arguments": ',
  callClose: "}\n</tool_call>",
  separator: "\n",
  close: "",
  toolsInstruction:
    "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
});
