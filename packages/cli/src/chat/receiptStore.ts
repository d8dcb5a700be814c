import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { KeptReceipt } from "@atoma/sdk";
import type { Address, Hex, PublicClient } from "viem";
import { CliUsageError } from "../errors.js";

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
}

const toStored = (r: KeptReceipt): StoredReceipt => ({
  fields: Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, String(v)])),
  signature: r.signature,
  result: r.result,
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
});

/** The receipts kept in `file` (none when it does not exist yet). */
export function loadReceipts(file: string): KeptReceipt[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  try {
    return (JSON.parse(text) as StoredReceipt[]).map(fromStored);
  } catch {
    throw new CliUsageError(`the receipts file ${file} is not what atoma chat writes`);
  }
}

/** Adds a receipt to `file`, written whole to a temporary file first so a crash never leaves half of it. */
export function keepReceipt(file: string, receipt: KeptReceipt): void {
  const kept = [...loadReceipts(file), receipt];
  mkdirSync(resolve(file, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(kept.map(toStored), null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
