/**
 * A Mistral-v3-style chat template, the third template a tiny model can carry: `[INST]…[/INST]` turns, the request's
 * tools as `[AVAILABLE_TOOLS]…[/AVAILABLE_TOOLS]` before the first user turn, an assistant's calls as
 * `[TOOL_CALLS][{"name": …, "arguments": …}, …]` and tool results as `[TOOL_RESULTS]…[/TOOL_RESULTS]`. The system
 * text goes before the first user turn's text.
 */
export const MISTRAL_CHAT_TEMPLATE = [
  "{{- bos_token }}",
  "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] + '\\n\\n' %}{%- set loop_messages = messages[1:] %}",
  "{%- else %}{%- set system_message = '' %}{%- set loop_messages = messages %}{%- endif %}",
  "{%- for message in loop_messages %}",
  "{%- if message['role'] == 'user' %}",
  "{%- if loop.first and tools is defined and tools is not none %}{{- '[AVAILABLE_TOOLS]' }}{{- tools | tojson }}{{- '[/AVAILABLE_TOOLS]' }}{%- endif %}",
  "{%- if loop.first %}{{- '[INST]' + system_message + message['content'] + '[/INST]' }}{%- else %}{{- '[INST]' + message['content'] + '[/INST]' }}{%- endif %}",
  "{%- elif message['tool_calls'] is defined and message['tool_calls'] %}",
  "{{- '[TOOL_CALLS][' }}",
  "{%- for tool_call in message['tool_calls'] %}",
  "{{- '{\"name\": \"' + tool_call['function']['name'] + '\", \"arguments\": ' }}{{- tool_call['function']['arguments'] | tojson }}{{- '}' }}",
  "{%- if not loop.last %}{{- ', ' }}{%- endif %}",
  "{%- endfor %}",
  "{{- ']' + eos_token }}",
  "{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}",
  "{%- elif message['role'] == 'tool' %}{{- '[TOOL_RESULTS]' + message['content'] + '[/TOOL_RESULTS]' }}",
  "{%- endif %}",
  "{%- endfor %}",
].join("");

/** The control tokens the Mistral template uses, added after the tiny vocabulary's own. */
export const MISTRAL_CONTROL_TOKENS = [
  "[INST]",
  "[/INST]",
  "[TOOL_CALLS]",
  "[AVAILABLE_TOOLS]",
  "[/AVAILABLE_TOOLS]",
  "[TOOL_RESULTS]",
  "[/TOOL_RESULTS]",
] as const;
