/**
 * Units a node may still use after the last chunk the gateway got from it, before it sees the stream gone (a stop
 * reaches it a few tokens late).
 */
export const OVERBILL_SLACK_UNITS = 32n;

/** A request of this gateway's left with no receipt after its stream was cut or stopped (`NetworkUpstream`). */
export interface CutRequest {
  /** Its request hash, lowercase. */
  reqHash: string;
  /**
   * The most units its stream can have used as far as the gateway saw it: the signed body's bytes (no tokenizer makes
   * more prompt tokens) and a token for each answer chunk the node sent before the cut, as `cutStreamCharge` bounds
   * the key's charge.
   */
  relayedUnits: bigint;
  /**
   * Whether the node sent any answer chunk before the cut: a plain request (or a stream cut before its first chunk)
   * carried nothing that bounds what its leaf may bill, so it is never counted as over-billed (review 3 of h-gw,
   * MEDIUM-5: an honest node finishing a plain request whose connection broke billed its whole answer). Such cuts are
   * counted as cuts (`cutLimit`).
   */
  streamed: boolean;
}

/** The `CutRequest` of `json` (the signed body) whose stream carried `chunks` answer chunks. */
export function cutRequest(reqHash: string, json: string, chunks: number): CutRequest {
  return {
    reqHash: reqHash.toLowerCase(),
    relayedUnits: BigInt(new TextEncoder().encode(json).length) + BigInt(chunks),
    streamed: chunks > 0,
  };
}

/**
 * Whether the receipt `fields` for a cut request bills far more than its stream carried (review 2 of h-gw, MEDIUM-D):
 * the key pays what was relayed and the gateway the rest, so a node that cuts streams and bills their leaves up to the
 * signed bound is paid for answers nobody saw. An honest node whose half-open connection hid the cut may finish the
 * answer and bill it, so one such leaf is no proof: each is counted against the node (`NodeCuts`).
 */
export function overbilledCut(
  cut: CutRequest | undefined,
  fields: { reqHash: string; units: bigint },
): boolean {
  return (
    cut?.streamed === true &&
    cut.reqHash === fields.reqHash.toLowerCase() &&
    fields.units > cut.relayedUnits + OVERBILL_SLACK_UNITS
  );
}
