import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { PendingRequest } from "@atoma/sdk";
import type { Hex } from "viem";
import { CliUsageError } from "../errors.js";

/**
 * Where `atoma chat` keeps the requests it signed on a stack whose receipts it does not hold yet, beside the stack's
 * receipts file: a run after a crash (or a node that committed and cut the stream) resends the same signed body at
 * the same nonce, and the node answers it from its records, rather than signing another body there.
 */
export function pendingFile(receiptsFile: string): string {
  return receiptsFile.replace(/\.json$/, ".pending.json");
}

interface StoredPending {
  path: string;
  reqHash: Hex;
  nonce: string;
  maxUnits: string;
  headers: Record<string, string>;
  json: string;
}

/** The requests kept pending in `file` (none when it does not exist). */
export function loadPending(file: string): PendingRequest[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  let stored: StoredPending[];
  try {
    stored = JSON.parse(text) as StoredPending[];
  } catch {
    throw new CliUsageError(`the pending requests file ${file} is not what atoma chat writes`);
  }
  return stored.map((p) => ({
    path: p.path,
    signed: {
      reqHash: p.reqHash,
      nonce: BigInt(p.nonce),
      maxUnits: BigInt(p.maxUnits),
      headers: p.headers,
      json: p.json,
    },
  }));
}

/** Writes the requests pending now (whole, through a temporary file), or removes the file when there are none. */
export function keepPending(file: string, pending: readonly PendingRequest[]): void {
  if (pending.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const stored: StoredPending[] = pending.map(({ path, signed }) => ({
    path,
    reqHash: signed.reqHash,
    nonce: String(signed.nonce),
    maxUnits: String(signed.maxUnits),
    headers: signed.headers,
    json: signed.json,
  }));
  mkdirSync(resolve(file, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
