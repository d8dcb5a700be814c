import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { KeptReceipt, ReceiptVerdict } from "@atoma/sdk";
import { withFileLockSync, writeFileDurably } from "@atoma/sdk/node";
import type { Address, Hex, PublicClient } from "viem";
import { arrayOf, isStoredReceipt, readStoreFile } from "./storeFile.js";

/**
 * Where `atoma chat` keeps every receipt a node signed, one JSON file per stack: the owner's evidence, which
 * `atoma stack prove-fraud` submits. `--receipts <dir>`, else ATOMA_RECEIPTS, else ~/.atoma/receipts.
 */
export function receiptsDir(flag: string | undefined): string {
  return resolve(flag ?? process.env.ATOMA_RECEIPTS ?? join(homedir(), ".atoma", "receipts"));
}

/** Where a stack lives: stack ids are per StackManager and per chain — per chain instance, too: every fresh dev
 * chain has the same chain id and contract addresses, and only its genesis block tells it from the last one. */
export interface StackHome {
  chainId: number;
  genesis: Hex;
  stackManager: Address;
}

export async function stackHome(publicClient: PublicClient, stackManager: Address): Promise<StackHome> {
  const [chainId, genesis] = await Promise.all([
    publicClient.getChainId(),
    publicClient.getBlock({ blockNumber: 0n }),
  ]);
  return { chainId, genesis: genesis.hash, stackManager };
}

/** The file of one stack's receipts. */
export function receiptsFile(dir: string, home: StackHome, stackId: bigint): string {
  const chain = `${home.chainId}-${home.genesis.slice(2, 14).toLowerCase()}`;
  return join(dir, `${chain}-${home.stackManager.toLowerCase()}-${stackId}.json`);
}

interface StoredReceipt {
  fields: Record<string, string>;
  signature: Hex;
  result: Hex;
  /** Present when the client refused the receipt: the unit bound signed at its leaf. */
  refusedMaxUnits?: string;
  /** Kept as evidence of a lie (a refusal's "last leaf"), never a leaf held: no nonce or challenge index moves. */
  shown?: true;
  /** Another client of the owner's leaf, shown by the node's leaf read: a leaf held without result bytes. */
  adopted?: true;
  /** When it was received (ms since the epoch): the stack's last service, as far as this owner knows. */
  at?: number;
}

const toStored = (r: KeptReceipt): StoredReceipt => ({
  fields: Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, String(v)])),
  signature: r.signature,
  result: r.result,
  ...(r.shown && { shown: true as const }),
  ...(r.adopted && { adopted: true as const }),
});

const fromStored = (r: StoredReceipt): KeptReceipt => ({
  fields: {
    stackId: BigInt(r.fields.stackId!),
    leafIndex: BigInt(r.fields.leafIndex!),
    nonce: BigInt(r.fields.nonce!),
    reqHash: r.fields.reqHash as Hex,
    respHash: r.fields.respHash as Hex,
    units: BigInt(r.fields.units!),
    cumulativeUnits: BigInt(r.fields.cumulativeUnits!),
    seed: BigInt(r.fields.seed!),
  },
  signature: r.signature,
  result: r.result,
  ...(r.shown === true && { shown: true as const }),
  ...(r.adopted === true && { adopted: true as const }),
});

/** The receipts kept in `file` (none when it does not exist yet). */
export function loadReceipts(file: string): KeptReceipt[] {
  return readStored(file).map(fromStored);
}

/** The receipts in `file` the client refused, with the bound signed at their leaf: never a running-total base. */
export function loadRefused(file: string): { signature: Hex; maxUnits: bigint }[] {
  return readStored(file).flatMap((r) =>
    r.refusedMaxUnits === undefined ? [] : [{ signature: r.signature, maxUnits: BigInt(r.refusedMaxUnits) }],
  );
}

/**
 * When the last receipt of `file` that answered a request arrived (ms since the epoch), undefined when none did: a
 * node may settle a stack idle past the network's bound from then on, so an earlier run's use counts.
 */
export function lastServedAt(file: string): number | undefined {
  const times = readStored(file).flatMap((r) => (r.shown || r.at === undefined ? [] : [r.at]));
  return times.length === 0 ? undefined : Math.max(...times);
}

/** The receipts stored in `file`: none when there is no file; `ChatStoreUnreadableError` when it does not read. */
function readStored(file: string): StoredReceipt[] {
  return readStoreFile(file, "receipts", (json) => arrayOf<StoredReceipt>(json, isStoredReceipt)) ?? [];
}

/**
 * Adds a receipt to `file` with the client's verdict (a refused one is marked), written whole to a temporary file of
 * this process's own, flushed, then renamed (a crash never leaves half of it), under the file's write lock: another
 * process keeping one at the same time (`atoma stack audit-adopted`, a second `atoma chat`) loses none (review of
 * issue 13, MEDIUM-1).
 */
export function keepReceipt(file: string, receipt: KeptReceipt, verdict?: ReceiptVerdict): void {
  // An adopted leaf (another client's) arrived whenever that client was answered: its time is not known here.
  const stored: StoredReceipt = receipt.adopted
    ? toStored(receipt)
    : { ...toStored(receipt), at: Date.now() };
  if (verdict && !verdict.accepted) stored.refusedMaxUnits = String(verdict.maxUnits);
  withFileLockSync(file, () => {
    const kept = [...readStored(file), stored];
    writeFileDurably(file, `${JSON.stringify(kept, null, 2)}\n`);
  });
}
