/**
 * A Llama-3.1-style chat template, the second template a tiny model can carry: header tokens around each role,
 * `<|eot_id|>` after each turn, the request's tools rendered into the system turn with Llama 3.1's instruction for
 * custom tools, an assistant's calls as `{"name": …, "parameters": …}` and tool results as `ipython` turns. It
 * mentions `<|python_tag|>` (built-in tools' cue) as Llama 3.1's does, so dialect detection reads it as Llama 3.
 */
export const LLAMA3_CHAT_TEMPLATE = [
  "{{- bos_token }}",
  "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}",
  "{%- else %}{%- set system_message = '' %}{%- set loop_messages = messages %}{%- endif %}",
  "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}",
  "{%- if tools is defined and tools is not none %}",
  "{{- 'Environment: ipython\\n\\nGiven the following functions, respond with a JSON for a function call with its proper arguments.\\n\\n' }}",
  '{{- \'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.\\n\\n\' }}',
  "{%- for t in tools %}{{- t | tojson }}{{- '\\n\\n' }}{%- endfor %}",
  "{%- endif %}",
  "{{- system_message + '<|eot_id|>' }}",
  "{%- for message in loop_messages %}",
  "{%- if message['role'] == 'tool' or message['role'] == 'ipython' %}",
  "{{- '<|start_header_id|>ipython<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}",
  "{%- elif message['tool_calls'] is defined and message['tool_calls'] %}",
  "{%- for tool_call in message['tool_calls'] %}{%- set call = tool_call['function'] %}",
  "{%- if call['name'] == 'python' %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n<|python_tag|>' + call['arguments']['code'] + '<|eom_id|>' }}",
  "{%- else %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n{\"name\": \"' + call['name'] + '\", \"parameters\": ' }}{{- call['arguments'] | tojson }}{{- '}<|eot_id|>' }}",
  "{%- endif %}{%- endfor %}",
  "{%- else %}",
  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}",
  "{%- endif %}",
  "{%- endfor %}",
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
].join("");

/** The control tokens the Llama 3 template uses, added after the tiny vocabulary's own. */
export const LLAMA3_CONTROL_TOKENS = [
  "<|start_header_id|>",
  "<|end_header_id|>",
  "<|eot_id|>",
  "<|eom_id|>",
  "<|python_tag|>",
] as const;
