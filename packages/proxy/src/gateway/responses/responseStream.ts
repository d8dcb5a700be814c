import {
  type ChatOutcome,
  functionCallItem,
  idsOf,
  messageItem,
  outputText,
  responseObject,
} from "./responseObject.js";

type Json = Record<string, unknown>;
const encoder = new TextEncoder();

/** The `data:` payloads of a server-sent event stream, one by one. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const bytes of body) {
    buffered += decoder.decode(bytes, { stream: true });
    let end = buffered.search(/\r?\n\r?\n/);
    while (end !== -1) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end).replace(/^\r?\n\r?\n/, "");
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data.length > 0) yield data;
      end = buffered.search(/\r?\n\r?\n/);
    }
  }
}

/**
 * Turns the gateway's chat completion stream into the Responses API's events (`response.created`,
 * `response.output_text.delta`, `response.function_call_arguments.delta`, …, `response.completed`), whose
 * final response carries the node's `atoma` receipt. An error event of the chat stream becomes an `error` event.
 */
export function responseStream(request: Json, chat: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let sequence = 0;
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      const emit = (type: string, fields: Json) =>
        controller.enqueue(
          encoder.encode(
            `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`,
          ),
        );
      const outcome: ChatOutcome = {
        id: "",
        created: 0,
        model: "",
        text: "",
        toolCalls: [],
        finishReason: null,
        usage: undefined,
        atoma: undefined,
      };
      let started = false;
      let outputs = 0;
      let message: { index: number } | undefined;
      const calls = new Map<number, { index: number; position: number }>();
      const closeMessage = () => {
        if (!message) return;
        const at = { item_id: idsOf(outcome.id).message, output_index: message.index, content_index: 0 };
        emit("response.output_text.done", { ...at, text: outcome.text, logprobs: [] });
        emit("response.content_part.done", { ...at, part: outputText(outcome.text) });
        emit("response.output_item.done", {
          output_index: message.index,
          item: messageItem(outcome, "completed"),
        });
        message = undefined;
      };
      const closeCalls = () => {
        for (const [position, { index }] of calls) {
          const call = outcome.toolCalls[position];
          if (!call) continue;
          const item_id = idsOf(outcome.id).call(position);
          emit("response.function_call_arguments.done", {
            item_id,
            output_index: index,
            name: call.name,
            arguments: call.arguments,
          });
          emit("response.output_item.done", {
            output_index: index,
            item: functionCallItem(outcome.id, position, call, "completed"),
          });
        }
        calls.clear();
      };
      try {
        for await (const data of sseData(chat)) {
          if (data === "[DONE]") break;
          const chunk = JSON.parse(data) as Json;
          if (chunk.error !== undefined) {
            const error = (chunk.error ?? {}) as Json;
            emit("error", {
              code: error.code ?? null,
              message: error.message ?? "",
              param: error.param ?? null,
            });
            controller.close();
            return;
          }
          if (!started) {
            started = true;
            outcome.id = String(chunk.id ?? "");
            outcome.created = Number(chunk.created ?? Math.floor(Date.now() / 1000));
            outcome.model = String(chunk.model ?? "");
            const response = responseObject(request, outcome, "in_progress");
            emit("response.created", { response });
            emit("response.in_progress", { response });
          }
          if (chunk.usage) outcome.usage = chunk.usage as Json;
          if (chunk.atoma !== undefined) outcome.atoma = chunk.atoma;
          const choice = (Array.isArray(chunk.choices) ? chunk.choices[0] : undefined) as Json | undefined;
          if (!choice) continue;
          if (typeof choice.finish_reason === "string") outcome.finishReason = choice.finish_reason;
          const delta = (choice.delta ?? {}) as Json;
          if (typeof delta.content === "string" && delta.content.length > 0) {
            if (!message) {
              message = { index: outputs++ };
              emit("response.output_item.added", {
                output_index: message.index,
                item: messageItem(outcome, "in_progress"),
              });
              emit("response.content_part.added", {
                item_id: idsOf(outcome.id).message,
                output_index: message.index,
                content_index: 0,
                part: outputText(""),
              });
            }
            outcome.text += delta.content;
            emit("response.output_text.delta", {
              item_id: idsOf(outcome.id).message,
              output_index: message.index,
              content_index: 0,
              delta: delta.content,
              logprobs: [],
            });
          }
          for (const raw of Array.isArray(delta.tool_calls) ? (delta.tool_calls as Json[]) : []) {
            const position = Number(raw.index ?? 0);
            const fn = (raw.function ?? {}) as Json;
            let open = calls.get(position);
            if (!open) {
              closeMessage();
              outcome.toolCalls[position] = {
                id: String(raw.id ?? ""),
                name: String(fn.name ?? ""),
                arguments: "",
              };
              open = { index: outputs++, position };
              calls.set(position, open);
              emit("response.output_item.added", {
                output_index: open.index,
                item: functionCallItem(outcome.id, position, outcome.toolCalls[position], "in_progress"),
              });
            }
            const call = outcome.toolCalls[position];
            if (call && typeof fn.arguments === "string" && fn.arguments.length > 0) {
              call.arguments += fn.arguments;
              emit("response.function_call_arguments.delta", {
                item_id: idsOf(outcome.id).call(position),
                output_index: open.index,
                delta: fn.arguments,
              });
            }
          }
        }
        closeMessage();
        closeCalls();
        emit("response.completed", { response: responseObject(request, outcome, "completed") });
        controller.close();
      } catch (error) {
        controller.error(error);
      }
    },
  });
}
