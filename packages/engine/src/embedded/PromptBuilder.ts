import { Template } from "@huggingface/jinja";
import type { LlamaModel } from "node-llama-cpp";
import { InvalidRequestError } from "../errors.js";
import type { ChatRequest } from "../openai/requests.js";
import { detectToolDialect, templateRendersTools } from "../structured/dialects/detectToolDialect.js";
import type { ToolDialect } from "../structured/dialects/ToolDialect.js";
import { templateChatInput } from "../structured/templateChatInput.js";
import { promptMessages } from "../structured/toolPrompt.js";

/** Used when a GGUF carries no `tokenizer.chat_template`. */
const CHATML_FALLBACK =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * Turns requests into prompt tokens, the same way on the serving node and on every verifier: chats through the
 * Jinja chat template in the model's metadata, text prompts as plain text (control-token spellings in a text
 * prompt stay text), with the beginning-of-sequence token the model asks for. The template also says how the model
 * writes tool calls (its dialect), and whether it renders tools, calls and results itself (they are then passed
 * to it) or they are written into the messages' text.
 */
export class PromptBuilder {
  readonly #model: LlamaModel;
  readonly #template: Template;
  readonly templateSource: string;
  /** How this model writes tool calls. */
  readonly dialect: ToolDialect;
  /** Whether the template renders `tools` (and calls and results) itself. */
  readonly rendersTools: boolean;

  constructor(model: LlamaModel) {
    this.#model = model;
    const metadata = model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } };
    const source = metadata.tokenizer?.chat_template;
    this.templateSource = typeof source === "string" && source.length > 0 ? source : CHATML_FALLBACK;
    this.#template = new Template(this.templateSource);
    this.dialect = detectToolDialect(this.templateSource);
    this.rendersTools = templateRendersTools(this.templateSource);
  }

  /** The rendered chat prompt (what the template makes of the messages and tools, generation prompt included). */
  renderChat(request: Pick<ChatRequest, "messages" | "tools">): string {
    const tokens = this.#model.tokens;
    const input = this.rendersTools
      ? templateChatInput(request)
      : templateChatInput({ messages: promptMessages(request, this.dialect) });
    try {
      return this.#template.render({
        messages: input.messages,
        ...(input.tools === undefined ? {} : { tools: input.tools }),
        add_generation_prompt: true,
        bos_token: tokens.bosString ?? "",
        eos_token: tokens.eosString ?? "",
      });
    } catch (error) {
      throw new InvalidRequestError("the model's chat template rejected these messages", {
        details: error instanceof Error ? error.message : String(error),
        param: "messages",
      });
    }
  }

  chatTokens(request: Pick<ChatRequest, "messages" | "tools">): number[] {
    return this.#withBos(this.#model.tokenize(this.renderChat(request), true));
  }

  textTokens(prompt: string): number[] {
    return this.#withBos(this.#model.tokenize(prompt, false));
  }

  #withBos(tokens: number[]): number[] {
    const bos = this.#model.tokens.bos;
    if (bos == null || !this.#model.tokens.shouldPrependBosToken || tokens[0] === bos) return tokens;
    return [bos, ...tokens];
  }
}
