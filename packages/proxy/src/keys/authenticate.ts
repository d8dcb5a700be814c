import { InvalidApiKeyError } from "../errors.js";
import { bearerToken, isApiKeyShaped } from "./apiKeySecret.js";
import { type KeyRecord, keyStatus } from "./keyRecord.js";
import type { KeyStore } from "./keyStore.js";

/**
 * The key an `Authorization` header names, if it may be used now. Anything else is `InvalidApiKeyError`, alike
 * for every reason; a token that is not shaped like a key is refused before any lookup.
 */
export async function authenticate(
  keys: KeyStore,
  header: string | undefined,
  nowMs: number,
): Promise<KeyRecord> {
  const token = bearerToken(header);
  if (token === undefined) throw new InvalidApiKeyError(header === undefined ? "missing" : "malformed");
  if (!isApiKeyShaped(token)) throw new InvalidApiKeyError("malformed");
  const key = await keys.findByKey(token);
  if (!key) throw new InvalidApiKeyError("unknown");
  const status = keyStatus(key, nowMs);
  if (status !== "active") throw new InvalidApiKeyError(status);
  return key;
}

/** Whether the key may use `model` (a key without a list may use every model). */
export function keyAllows(key: KeyRecord, model: string): boolean {
  return key.models === null || key.models.includes(model);
}
