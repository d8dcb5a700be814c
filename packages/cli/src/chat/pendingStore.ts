import { rmSync } from "node:fs";
import type { PendingRequest, SignedHash } from "@atoma/sdk";
import { writeFileDurably } from "@atoma/sdk/node";
import type { Hex } from "viem";
import { arrayOf, isStoredPending, readStoreFile } from "./storeFile.js";

/**
 * Where `atoma chat` keeps the requests it signed on a stack whose receipts it does not hold yet, beside the stack's
 * receipts file: a run after a crash (or a node that committed and cut the stream) resends the same signed body at
 * the same nonce, and the node answers it from its records, rather than signing another body there. Beside them,
 * `forgotten` entries (nonce and hash only) name requests signed here that are no longer pending (refused outright,
 * sealed past their deadline): a leaf a node shows for one is this owner's own, never adopted (review MED-3).
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

interface StoredForgotten {
  forgotten: true;
  reqHash: Hex;
  nonce: string;
}

/** What `file` keeps: nothing when there is no file; `ChatStoreUnreadableError` when it does not read. */
function loadStored(file: string): (StoredPending | StoredForgotten)[] {
  return (
    readStoreFile(file, "pending requests", (json) =>
      arrayOf<StoredPending | StoredForgotten>(json, isStoredPending),
    ) ?? []
  );
}

const isForgotten = (p: StoredPending | StoredForgotten): p is StoredForgotten => "forgotten" in p;

/** The requests kept pending in `file` (none when it does not exist). */
export function loadPending(file: string): PendingRequest[] {
  return loadStored(file)
    .filter((p): p is StoredPending => !isForgotten(p))
    .map((p) => ({
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

/** The request hashes kept in `file` that are not pending any more: `StackClient`'s `signedEarlier`. */
export function loadForgotten(file: string): SignedHash[] {
  return loadStored(file)
    .filter(isForgotten)
    .map((p) => ({ nonce: BigInt(p.nonce), reqHash: p.reqHash }));
}

/**
 * Writes the requests pending now and the hashes of those signed and no longer pending (`signed`: the client's
 * `signedHashes`), whole, through a temporary file; removes the file when there are none. A file there that does
 * not read is refused (`ChatStoreUnreadableError`), never replaced: it may hold requests signed by an earlier run.
 */
export function keepPending(
  file: string,
  pending: readonly PendingRequest[],
  signed: readonly SignedHash[] = [],
): void {
  const isPending = (h: SignedHash) =>
    pending.some(
      (p) => p.signed.nonce === h.nonce && p.signed.reqHash.toLowerCase() === h.reqHash.toLowerCase(),
    );
  const forgotten: StoredForgotten[] = signed
    .filter((h) => !isPending(h))
    .map((h) => ({ forgotten: true, reqHash: h.reqHash, nonce: String(h.nonce) }));
  loadStored(file);
  if (pending.length === 0 && forgotten.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const stored: (StoredPending | StoredForgotten)[] = pending.map(({ path, signed }) => ({
    path,
    reqHash: signed.reqHash,
    nonce: String(signed.nonce),
    maxUnits: String(signed.maxUnits),
    headers: signed.headers,
    json: signed.json,
  }));
  stored.push(...forgotten);
  writeFileDurably(file, `${JSON.stringify(stored, null, 2)}\n`);
}
