import type { Hash } from "@atoma/core";
import { InvalidBlobIdError } from "../errors.js";

const BLOB_ID = /^0x[0-9a-fA-F]{64}$/;

/** Validates a blob id (`0x` and 64 hex digits, either case) and returns it lowercase. */
export function parseBlobId(text: string): Hash {
  if (typeof text !== "string" || !BLOB_ID.test(text)) throw new InvalidBlobIdError();
  return text.toLowerCase() as Hash;
}
