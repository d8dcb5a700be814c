import { createHash, randomBytes } from "node:crypto";

const PREFIX = "sk-atoma-";
/** 32 random bytes in base64url: guessing one is hopeless, so a fast hash is all storage needs. */
const KEY_PATTERN = /^sk-atoma-[A-Za-z0-9_-]{43}$/;
const KEY_ID_PATTERN = /^key_[0-9a-f]{16}$/;

export interface NewKeySecret {
  keyId: string;
  /** The key itself: shown once, never stored. */
  key: string;
  keyHash: string;
  /** Enough of the key for people to tell theirs apart. */
  keyPrefix: string;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function newKeySecret(): NewKeySecret {
  const key = `${PREFIX}${randomBytes(32).toString("base64url")}`;
  return {
    keyId: `key_${randomBytes(8).toString("hex")}`,
    key,
    keyHash: hashApiKey(key),
    keyPrefix: key.slice(0, PREFIX.length + 6),
  };
}

/** Whether `text` has the shape of a key this gateway issues (checked before any lookup). */
export function isApiKeyShaped(text: string): boolean {
  return KEY_PATTERN.test(text);
}

export function isKeyId(text: string): boolean {
  return KEY_ID_PATTERN.test(text);
}

/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, one space), or undefined when
 * the header is absent or has another shape.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([^\s]+)$/i.exec(header);
  return match?.[1];
}
