import { AttestationMalformedError } from "./errors.js";

/** `0x`-prefixed lowercase hex, the form every byte string takes on the wire. */
export type HexString = `0x${string}`;

export function toHex(bytes: Uint8Array): HexString {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

/** Parses `0x`-prefixed hex of exactly `length` bytes (any length when omitted); `what` names it in the error. */
export function fromHex(value: string, what: string, length?: number): Uint8Array {
  if (typeof value !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(value))
    throw new AttestationMalformedError(`${what} is not 0x-prefixed hex`);
  const bytes = new Uint8Array(Buffer.from(value.slice(2), "hex"));
  if (length !== undefined && bytes.length !== length)
    throw new AttestationMalformedError(`${what} has ${bytes.length} bytes, expected ${length}`);
  return bytes;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
