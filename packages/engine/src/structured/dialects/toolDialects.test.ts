import { LlamaGrammar } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { testLlama } from "../../../test/helpers/llama.js";
import { TINY_CHAT_TEMPLATE } from "../../tinyModel/chatTemplate.js";
import { LLAMA3_CHAT_TEMPLATE } from "../../tinyModel/llama3ChatTemplate.js";
import { MISTRAL_CHAT_TEMPLATE } from "../../tinyModel/mistralChatTemplate.js";
import type { OutputFormat } from "../outputFormat.js";
import { outputGrammarText } from "../outputGrammar.js";
import { isToolCallText, scanToolCalls, toolCallText } from "../toolCallText.js";
import { detectToolDialect, TOOL_DIALECTS, templateRendersTools } from "./detectToolDialect.js";

/** Excerpts of the published templates, as far as detection reads them. */
const QWEN25 =
  '{%- if tools %}{{- "<|im_start|>system\\n" }}# Tools\\n<tools>{%- for tool in tools %}{{ tool | tojson }}{%- endfor %}</tools>For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags{%- endif %}';
const LLAMA31 =
  '{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}{%- if tools is not none %}Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.{%- endif %}{{- "<|python_tag|>" + tool_call.name }}{{- \'"parameters": \' }}';
const MISTRAL_V3 =
  '{%- if tools is not none %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{%- endif %}{{- "[TOOL_CALLS][" }}{%- for tool_call in message.tool_calls %}{{ tool_call | tojson }}{%- endfor %}';

describe("tool-call dialects", () => {
  it("are detected from the chat template", () => {
    expect(detectToolDialect(QWEN25).name).toBe("hermes");
    expect(detectToolDialect(TINY_CHAT_TEMPLATE).name).toBe("hermes");
    expect(detectToolDialect(LLAMA31).name).toBe("llama3");
    expect(detectToolDialect(LLAMA3_CHAT_TEMPLATE).name).toBe("llama3");
    expect(detectToolDialect(MISTRAL_V3).name).toBe("mistral");
    expect(detectToolDialect(MISTRAL_CHAT_TEMPLATE).name).toBe("mistral");
    expect(templateRendersTools(QWEN25)).toBe(true);
    expect(templateRendersTools(LLAMA31)).toBe(true);
    expect(templateRendersTools(TINY_CHAT_TEMPLATE)).toBe(false);
  });

  const calls = [
    { name: "get_weather", arguments: '{"city": "Paris", "tags": ["a}", "b"]}' },
    { name: "search", arguments: "{}" },
  ];

  it.each(Object.entries(TOOL_DIALECTS))(
    "%s: the text of calls reads back as the calls, at every prefix",
    (_, dialect) => {
      const text = toolCallText(calls, dialect);
      expect(isToolCallText(text, dialect)).toBe(true);
      expect(scanToolCalls(text, dialect)).toEqual(calls.map((call) => ({ ...call, complete: true })));
      for (let end = 0; end < text.length; end++) {
        const read = scanToolCalls(text.slice(0, end), dialect);
        for (const [i, call] of read.entries()) {
          expect(call.name).toBe(calls[i]!.name);
          expect(calls[i]!.arguments.startsWith(call.arguments)).toBe(true);
        }
      }
    },
  );

  it("spell the known formats", () => {
    expect(toolCallText([calls[1]!], TOOL_DIALECTS.llama3)).toBe('{"name": "search", "parameters": {}}');
    expect(toolCallText(calls, TOOL_DIALECTS.mistral)).toBe(
      '[{"name": "get_weather", "arguments": {"city": "Paris", "tags": ["a}", "b"]}}, {"name": "search", "arguments": {}}]',
    );
  });

  it.each(Object.entries(TOOL_DIALECTS))(
    "%s: llama.cpp takes the grammar of calls or a text answer",
    async (_, dialect) => {
      const llama = await testLlama();
      const format: OutputFormat = {
        tools: [{ name: "search", parameters: { type: "object", properties: { q: { type: "string" } } } }],
        mustCall: false,
        parallel: true,
        answer: { kind: "text" },
      };
      const text = outputGrammarText(llama, format, dialect);
      expect(text).toContain(
        `[^${dialect.name === "mistral" ? "\\[" : dialect.name === "llama3" ? "{" : "<"}]`,
      );
      expect(() => new LlamaGrammar(llama, { grammar: text })).not.toThrow();
    },
  );
});
