import { HERMES_DIALECT } from "./hermesDialect.js";
import { LLAMA3_DIALECT } from "./llama3Dialect.js";
import { MISTRAL_DIALECT } from "./mistralDialect.js";
import type { ToolDialect } from "./ToolDialect.js";

/** Every dialect, by name. */
export const TOOL_DIALECTS: Readonly<Record<string, ToolDialect>> = Object.freeze({
  hermes: HERMES_DIALECT,
  llama3: LLAMA3_DIALECT,
  mistral: MISTRAL_DIALECT,
});

/**
 * The tool-call format a chat template was trained with, read from the template's own text: `[TOOL_CALLS]` is
 * Mistral's; Llama 3's header tokens with `"parameters"` or `<|python_tag|>` are Llama 3.1's; anything else
 * (`<tool_call>` templates, ChatML, templates that say nothing of tools) writes Hermes / Qwen blocks.
 */
export function detectToolDialect(templateSource: string): ToolDialect {
  if (templateSource.includes("[TOOL_CALLS]")) return MISTRAL_DIALECT;
  if (
    templateSource.includes("<|start_header_id|>") &&
    (templateSource.includes("<|python_tag|>") || templateSource.includes('"parameters"'))
  )
    return LLAMA3_DIALECT;
  return HERMES_DIALECT;
}

/** Whether the template renders a request's tools itself (its text uses `tools`): then they are passed to it. */
export function templateRendersTools(templateSource: string): boolean {
  return /\btools\b/.test(templateSource);
}
