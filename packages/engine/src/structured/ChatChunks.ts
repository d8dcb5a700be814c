import type { GeneratedDelta, GenerationEnd, TokenLogprob } from "../embedded/generate.js";
import { chatChunk, type ResponseIdentity } from "../openai/build.js";
import { chatLogprobs, type TokenText } from "../openai/logprobs.js";
import type { ChatCompletionChunk } from "../openai/responses.js";
import { type CallId, chatAnswer, isToolAnswer } from "./chatAnswer.js";
import type { ToolDialect } from "./dialects/ToolDialect.js";
import type { OutputFormat } from "./outputFormat.js";
import { scanToolCalls } from "./toolCallText.js";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

/**
 * A chat stream's chunks, from the generated text as it becomes final: content deltas, or, once the text is tool
 * calls, OpenAI's tool-call deltas (a call's first names it with its id, the next ones add to its arguments).
 * Calls are read from all the text so far the way the final answer reads them, so the deltas add up to it. Logprobs
 * ride on the first chunk after their tokens (those of tokens that gave no chunk, on the last).
 */
export class ChatChunks {
  readonly #identity: ResponseIdentity;
  readonly #output: OutputFormat;
  readonly #callId: CallId;
  readonly #textOf: TokenText | undefined;
  readonly #dialect: ToolDialect;
  #text = "";
  readonly #argumentsSent: number[] = [];
  #logprobs: TokenLogprob[] = [];

  /** `textOf` when the request asked for logprobs. */
  constructor(
    identity: ResponseIdentity,
    output: OutputFormat,
    callId: CallId,
    textOf: TokenText | undefined,
    dialect: ToolDialect,
  ) {
    this.#dialect = dialect;
    this.#identity = identity;
    this.#output = output;
    this.#callId = callId;
    this.#textOf = textOf;
  }

  push(delta: GeneratedDelta): ChatCompletionChunk[] {
    this.#logprobs.push(...delta.logprobs);
    this.#text += delta.text;
    const deltas = isToolAnswer(this.#text, this.#output, this.#dialect)
      ? this.#callDeltas()
      : [{ content: delta.text }];
    return deltas.map((piece, i) =>
      chatChunk(this.#identity, piece, null, i === 0 ? this.#takeLogprobs() : null),
    );
  }

  /** The chunk that ends the choice. */
  finish(end: GenerationEnd): ChatCompletionChunk {
    const { finishReason } = chatAnswer(this.#text, end, this.#output, this.#callId, this.#dialect);
    return chatChunk(this.#identity, {}, finishReason, this.#takeLogprobs());
  }

  #callDeltas(): Delta[] {
    const deltas: Delta[] = [];
    for (const [index, call] of scanToolCalls(this.#text, this.#dialect).entries()) {
      const sent = this.#argumentsSent[index];
      if (sent === undefined) {
        deltas.push({
          tool_calls: [
            {
              index,
              id: this.#callId(index),
              type: "function",
              function: { name: call.name, arguments: call.arguments },
            },
          ],
        });
      } else if (call.arguments.length > sent)
        deltas.push({ tool_calls: [{ index, function: { arguments: call.arguments.slice(sent) } }] });
      this.#argumentsSent[index] = call.arguments.length;
    }
    return deltas;
  }

  #takeLogprobs() {
    if (!this.#textOf || this.#logprobs.length === 0) return null;
    const taken = chatLogprobs(this.#logprobs, this.#textOf);
    this.#logprobs = [];
    return taken;
  }
}
