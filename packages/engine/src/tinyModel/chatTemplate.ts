/**
 * ChatML, the template the tiny model carries in `tokenizer.chat_template`. Message content may be a string or
 * a list of text parts (OpenAI's content-part form); other part types render nothing.
 */
export const TINY_CHAT_TEMPLATE = [
  "{% for message in messages %}",
  "{{ '<|im_start|>' + message['role'] + '\\n' }}",
  "{% if message['content'] is string %}{{ message['content'] }}",
  "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}",
  "{% endif %}",
  "{{ '<|im_end|>' + '\\n' }}",
  "{% endfor %}",
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
].join("");
