import { join } from "node:path";
import { WITHHELD_ASIDE_MS } from "@atoma/sdk";
import { withFileLockSync, writeFileDurably } from "@atoma/sdk/node";
import type { StackHome } from "./receiptStore.js";
import { arrayOf, isStoredAside, readStoreFile } from "./storeFile.js";

/** A node `atoma chat` will not buy from or use again, and why. */
export interface AsideNode {
  nodeId: string;
  reason: string;
  at: string;
  /** When the node may be used again (ISO time); absent: never. */
  until?: string;
}

/**
 * Where `atoma chat` keeps the nodes it put aside on one chain (beside the receipts: the owner's state): a node that
 * said a live stack was spent without a receipt to show for it, or closed a stack long before it expired, is never
 * bought from again by a later run.
 */
export function asideFile(dir: string, home: StackHome): string {
  const chain = `${home.chainId}-${home.genesis.slice(2, 14).toLowerCase()}`;
  return join(dir, `${chain}-${home.stackManager.toLowerCase()}-aside.json`);
}

/**
 * The nodes put aside now (none when the file does not exist yet): an entry whose `until` passed is left out. An
 * entry for a withheld receipt written before entries had an `until` (review R4-7) is read as the week it now
 * lasts from its `at`, not for good.
 */
export function loadAside(file: string, now = Date.now()): AsideNode[] {
  return loadAsideFile(file)
    .map(migrated)
    .filter((n) => n.until === undefined || Date.parse(n.until) > now);
}

/** What every withheld-receipt entry's reason starts with, old or new (`closeStalledStack`'s reason). */
const WITHHELD_REASON = "withheld the receipt of ";

/** An entry as it is read now: an old withheld-receipt one gets its week (from `at`; expired if `at` is unreadable). */
function migrated(node: AsideNode): AsideNode {
  if (node.until !== undefined || !String(node.reason).startsWith(WITHHELD_REASON)) return node;
  const at = Date.parse(node.at);
  return { ...node, until: new Date(Number.isNaN(at) ? 0 : at + WITHHELD_ASIDE_MS).toISOString() };
}

/** The nodes `file` keeps: none when there is no file; `ChatStoreUnreadableError` when it does not read. */
function loadAsideFile(file: string): AsideNode[] {
  return readStoreFile(file, "nodes put aside", (json) => arrayOf<AsideNode>(json, isStoredAside)) ?? [];
}

/**
 * Puts a node aside, for good or until `until`, written whole to a temporary file first so a crash never leaves half
 * of it; entries expired (or migrated, `loadAside`) are written as read.
 */
export function keepAside(file: string, nodeId: bigint, reason: string, until?: Date): void {
  const now = Date.now();
  const entry: AsideNode = { nodeId: String(nodeId), reason, at: new Date(now).toISOString() };
  if (until !== undefined) entry.until = until.toISOString();
  // Under the file's write lock, written durably: runs on other stacks share this file (review of issue 13, M-1).
  withFileLockSync(file, () => {
    const kept = loadAside(file, now).filter((n) => n.nodeId !== String(nodeId));
    kept.push(entry);
    writeFileDurably(file, `${JSON.stringify(kept, null, 2)}\n`);
  });
}
