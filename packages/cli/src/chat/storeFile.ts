import { readFileSync } from "node:fs";
import { ChatStoreUnreadableError } from "../errors.js";

/**
 * The contents of one of `atoma chat`'s store files as `decode` reads them, or undefined when there is no such file
 * yet. A file that is there and does not read (unreadable, torn, edited, of another shape) is refused with
 * `ChatStoreUnreadableError`, never taken for "nothing kept yet": the next write would replace the owner's evidence
 * (second review of issue 13, G). `decode` returns undefined (or throws) for what atoma does not write.
 */
export function readStoreFile<T>(
  file: string,
  what: string,
  decode: (json: unknown) => T | undefined,
): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new ChatStoreUnreadableError(what, file, `it cannot be read: ${code ?? "unknown error"}`);
  }
  let decoded: T | undefined;
  try {
    decoded = decode(JSON.parse(text));
  } catch {
    decoded = undefined;
  }
  if (decoded === undefined) throw new ChatStoreUnreadableError(what, file, "it is not what atoma writes");
  return decoded;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isDigits = (v: unknown) => typeof v === "string" && /^\d{1,78}$/.test(v);
const isHex = (v: unknown) => typeof v === "string" && /^0x[0-9a-fA-F]*$/.test(v);

/** `json` as an array each of whose entries `entry` accepts; undefined otherwise. */
export function arrayOf<T>(json: unknown, entry: (v: Record<string, unknown>) => boolean): T[] | undefined {
  return Array.isArray(json) && json.every((v) => isObject(v) && entry(v)) ? (json as T[]) : undefined;
}

const RECEIPT_NUMBERS = ["stackId", "leafIndex", "nonce", "units", "cumulativeUnits", "seed"];

/** A receipt as `keepReceipt` writes it. */
export const isStoredReceipt = (r: Record<string, unknown>): boolean =>
  isObject(r.fields) &&
  RECEIPT_NUMBERS.every((k) => isDigits((r.fields as Record<string, unknown>)[k])) &&
  isHex(r.fields.reqHash) &&
  isHex(r.fields.respHash) &&
  isHex(r.signature) &&
  isHex(r.result) &&
  (r.refusedMaxUnits === undefined || isDigits(r.refusedMaxUnits));

/** A pending request, or a forgotten one's hash, as `keepPending` writes it. */
export const isStoredPending = (p: Record<string, unknown>): boolean =>
  isHex(p.reqHash) &&
  isDigits(p.nonce) &&
  (p.forgotten === true ||
    (typeof p.path === "string" &&
      isDigits(p.maxUnits) &&
      isObject(p.headers) &&
      typeof p.json === "string"));

/** A node put aside, as `keepAside` writes it. */
export const isStoredAside = (n: Record<string, unknown>): boolean =>
  isDigits(n.nodeId) && typeof n.at === "string" && (n.until === undefined || typeof n.until === "string");
