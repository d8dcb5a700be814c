type Json = Record<string, unknown>;

/** Adds streamed chunks up to the complete response they stand for (one choice), as the node hashed it. */
export class StreamAssembler {
  #text = "";
  #finishReason: unknown = null;
  #object: "chat.completion" | "text_completion" = "chat.completion";
  #id: unknown;
  #created: unknown;
  #model: unknown;
  #usage: unknown;

  add(chunk: Json): void {
    this.#id ??= chunk.id;
    this.#created ??= chunk.created;
    this.#model ??= chunk.model;
    if (chunk.object === "text_completion") this.#object = "text_completion";
    if (chunk.usage) this.#usage = chunk.usage;
    for (const choice of (Array.isArray(chunk.choices) ? chunk.choices : []) as Json[]) {
      const delta = choice.delta as Json | undefined;
      const piece = this.#object === "text_completion" ? choice.text : delta?.content;
      if (typeof piece === "string") this.#text += piece;
      if (choice.finish_reason != null) this.#finishReason = choice.finish_reason;
    }
  }

  response(): Json {
    const choice =
      this.#object === "chat.completion"
        ? { index: 0, message: { role: "assistant", content: this.#text }, finish_reason: this.#finishReason }
        : { index: 0, text: this.#text, finish_reason: this.#finishReason };
    return {
      id: this.#id,
      object: this.#object,
      created: this.#created,
      model: this.#model,
      choices: [choice],
      usage: this.#usage,
    };
  }
}
