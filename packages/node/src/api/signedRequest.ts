import type { ResponseSealer } from "@atoma/confidential";
import type { Hash, TranscriptEntry } from "@atoma/core";
import type { Reservation } from "../accounting/types.js";
import type { Endpoint } from "./apiContext.js";
import type { RequestEnvelope } from "./envelope.js";
import type { PreparedBody } from "./prepareBody.js";

/** A request whose owner's signature checked out: what the steps after `authorize` read. */
export interface SignedRequest {
  endpoint: Endpoint;
  envelope: RequestEnvelope;
  /** The body the engine runs: as the owner signed it, or for a confidential request the one sealed inside. */
  body: Record<string, unknown>;
  /** The body as the owner signed it (after the body transforms): the confidential envelope, if it is one. */
  signedBody: Record<string, unknown>;
  /** A confidential request's answer sealer: its answer is recorded and sent sealed only. */
  sealer?: ResponseSealer | undefined;
  reqHash: Hash;
  /** Answered as server-sent events. */
  stream: boolean;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** `performance.now()` when the request arrived. */
  started: number;
}

/** A signed request with its units reserved: what the engine, the leaf and the receipt steps read. */
export interface Admitted extends SignedRequest {
  prepared: PreparedBody;
  reservation: Reservation;
  /** The leaf's `request`: the owner-signed transcript entry. */
  request: TranscriptEntry;
}
