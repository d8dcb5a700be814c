import { DEFAULT_MAX_TOKENS } from "../requestUnitBound.js";
import type { Endpoint } from "./clientArguments.js";

type Body = Record<string, unknown>;

/**
 * A chat or completion naming no limit gets `max_tokens: DEFAULT_MAX_TOKENS` before it is signed or sent: the
 * limit is then the client's, and neither a gateway (which may add one where none is named) nor a node picks it.
 */
export function withTokenLimit(endpoint: Endpoint, body: Body): Body {
  if (endpoint === "embeddings") return body;
  if (body.max_tokens != null || body.max_completion_tokens != null) return body;
  return { ...body, max_tokens: DEFAULT_MAX_TOKENS };
}

/**
 * Adds `atoma_nonce`, 128 random bits, to a request sent through a gateway. The node's receipt covers the whole
 * body (its request hash), so an answer the gateway kept from an earlier call, of this process or another, is for
 * another nonce and fails `request_hash`. The caller's own `user` is left as given: unlike an in-memory list of
 * receipts seen, this holds across processes and machines.
 */
export function withRequestNonce(body: Body): Body {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return { ...body, atoma_nonce: Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("") };
}
