type Json = Record<string, unknown>;

/** A tool call being assembled from its deltas. */
interface CallInProgress {
  id: unknown;
  type: unknown;
  function: { name: unknown; arguments: string };
}

/**
 * Adds streamed chunks up to the complete response they stand for (one choice), as the node hashed it: the text,
 * or the tool calls (the first delta of a call names it, the next ones add to its arguments).
 */
export class StreamAssembler {
  #text = "";
  readonly #calls: CallInProgress[] = [];
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
      if (Array.isArray(delta?.tool_calls))
        for (const call of delta.tool_calls as Json[]) this.#addCall(call);
      if (choice.finish_reason != null) this.#finishReason = choice.finish_reason;
    }
  }

  #addCall(delta: Json): void {
    const index = typeof delta.index === "number" ? delta.index : this.#calls.length;
    const fn = (delta.function ?? {}) as Json;
    let call = this.#calls[index];
    if (!call) {
      call = { id: delta.id, type: delta.type, function: { name: fn.name, arguments: "" } };
      this.#calls[index] = call;
    }
    if (typeof fn.arguments === "string") call.function.arguments += fn.arguments;
  }

  response(): Json {
    const message =
      this.#calls.length > 0
        ? { role: "assistant", content: this.#text, tool_calls: this.#calls }
        : { role: "assistant", content: this.#text };
    const choice =
      this.#object === "chat.completion"
        ? { index: 0, message, finish_reason: this.#finishReason }
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
