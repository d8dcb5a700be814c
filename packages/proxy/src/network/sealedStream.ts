import { SEALED_ANSWER_OBJECT } from "@atoma/core";
import { readSse, type SseLimits } from "@atoma/sdk";
import { NodeFailedError } from "../errors.js";

/** One sealed stream chunk as the node sends it (and the gateway relays it, unchanged). */
export const SEALED_CHUNK_OBJECT = "atoma.confidential.chunk";

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Reads a node's sealed stream (events `{object: "atoma.confidential.chunk", sealed}`, then the clear
 * `{object: "atoma.confidential.answer", usage, atoma}`) and returns it as the non-streamed sealed answer
 * `{object, chunks, usage, atoma}`, whose hash is the one the receipt signs: the SDK's `StackClient` verifies that as
 * any JSON answer. `onSealed` sees each sealed chunk event as it arrives, with its position in the stream (a resend
 * replays the stream from its start: the caller relays only positions it has not relayed). The gateway opens
 * nothing: it cannot.
 */
export async function collectSealedStream(
  answer: Response,
  limits: SseLimits,
  onSealed: (event: Json, position: number) => void,
): Promise<Response> {
  if (!answer.body) throw new NodeFailedError("the node sent no stream");
  const chunks: string[] = [];
  let final: Json | undefined;
  for await (const event of readSse(answer.body, limits)) {
    if (!isRecord(event) || final !== undefined)
      throw new NodeFailedError("the node's sealed stream is malformed");
    if (event.error !== undefined) throw new NodeFailedError("the node failed its sealed stream");
    if (event.object === SEALED_CHUNK_OBJECT && typeof event.sealed === "string") {
      onSealed({ object: SEALED_CHUNK_OBJECT, sealed: event.sealed }, chunks.length);
      chunks.push(event.sealed);
    } else if (event.object === SEALED_ANSWER_OBJECT && event.atoma !== undefined) final = event;
    else throw new NodeFailedError("the node's sealed stream carries an event that is not sealed");
  }
  if (final === undefined) throw new NodeFailedError("the node's sealed stream ended without its receipt");
  const body = { object: SEALED_ANSWER_OBJECT, chunks, usage: final.usage, atoma: final.atoma };
  return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
}
