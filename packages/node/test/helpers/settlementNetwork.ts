import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuyStackResult } from "@atoma/chain";
import { canonicalJson, type Hash, requestHash, signRequest, type TranscriptEntry } from "@atoma/core";
import { type Hex, keccak256, type LocalAccount, stringToHex } from "viem";
import { MODEL, type TestNetwork, type TestNode } from "../../../chain/test/network.js";
import { Accounting } from "../../src/accounting/accounting.js";
import { insertStack } from "../../src/accounting/stacks.js";
import type { EmbeddedDatabaseConfig, PostgresDatabaseConfig } from "../../src/config/loadConfig.js";
import { devNodeConfig } from "../../src/devnet/devNodeConfig.js";
import { waitFor as waitForValue } from "../../src/devnet/waitFor.js";
import { type AtomaNode, createNode } from "../../src/service/createNode.js";
import { settlementPart } from "../../src/settlement/settlementPart.js";

/** The tip cap every test node's settlement transactions are sent with. */
export const TIP_CAP = 1_000n;

/** Where a test node keeps its state: the embedded database in its data directory, or a PostgreSQL schema. */
export type NodeDatabaseChoice = { kind: "embedded" } | { kind: "postgres"; url: string; schema: string };

/** The state database a settlement node of `choice` opens (to edit it while the node is down). */
export function stateDatabaseOf(
  choice: NodeDatabaseChoice,
  dataDir: string,
): EmbeddedDatabaseConfig | PostgresDatabaseConfig {
  return choice.kind === "postgres"
    ? { kind: "postgres", url: choice.url, schema: choice.schema, poolSize: 4 }
    : { kind: "embedded", dir: join(dataDir, "db") };
}

/** A node running only the settlement worker, as the test network's `server` (its signing key), fast polling. */
export function settlementNode(
  network: TestNetwork,
  server: TestNode,
  options: { dataDir?: string; database?: NodeDatabaseChoice; settlement?: Record<string, unknown> } = {},
): { node: AtomaNode; dataDir: string } {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "atoma-settle-"));
  const database =
    options.database?.kind === "postgres"
      ? { url: options.database.url, schema: options.database.schema, poolSize: 4 }
      : {};
  const config = devNodeConfig(network, {
    node: { dataDir },
    database,
    model: { path: "unused.gguf" },
    // A tip cap far below anvil's suggestion, so tests see the cap applied; the fee cap is never binding here.
    settlement: {
      pollIntervalMs: 100,
      maxFeePerGas: "50000000000",
      maxPriorityFeePerGas: TIP_CAP.toString(),
      ...options.settlement,
    },
  });
  const node = createNode({ account: server.signerAccount, parts: [settlementPart] }, config);
  return { node, dataDir };
}

/** Records a bought stack in the node's database, as the stack API's `StackBought` handler does. */
export async function recordStack(
  node: AtomaNode,
  stack: BuyStackResult,
  bought: { owner: LocalAccount; taskId: bigint; units: bigint },
): Promise<void> {
  await insertStack(node.context.db, {
    stackId: stack.stackId,
    owner: bought.owner.address,
    taskId: bought.taskId,
    servingNodeId: stack.nodeId,
    unitsBought: bought.units,
    pricePerMillion: stack.pricePerMillion,
    expiresAt: stack.expiresAt,
  });
}

/**
 * The result bytes an honest engine gives for a request using `units` (deterministic, so attesters and committee
 * members reproduce it): its usage carries the units, as a committee member shows them.
 */
export const honestOutput = (reqHash: Hash, units = 100n): Hex => {
  const usage = { prompt_tokens: Number(units), total_tokens: Number(units) };
  return stringToHex(canonicalJson({ answer: `honest answer to ${reqHash}`, usage }));
};

/** The response hash an honest engine gives for a request (the hash of `honestOutput`). */
export const honestResponse = (reqHash: Hash, units = 100n): Hash => keccak256(honestOutput(reqHash, units));

/**
 * Serves `count` requests on a stack the way the stack API does, without HTTP: each is signed by the owner
 * (EIP-712), reserved and committed through the node's Accounting with its transcript entry and response hash.
 */
export async function serveRequests(
  network: TestNetwork,
  node: AtomaNode,
  stack: { stackId: bigint; nodeId: bigint },
  owner: LocalAccount,
  count: number,
  unitsEach = 100n,
): Promise<{ reqHashes: Hash[]; respHashes: Hash[]; units: bigint[]; leafHashes: Hash[] }> {
  const { domain } = network;
  const accounting = new Accounting({ db: node.context.db }, { nodeId: stack.nodeId });
  const reqHashes: Hash[] = [];
  const respHashes: Hash[] = [];
  const units: bigint[] = [];
  const leafHashes: Hash[] = [];
  for (let k = 0; k < count; k++) {
    const body = {
      model: MODEL,
      messages: [{ role: "user", content: `question ${k} on stack ${stack.stackId}` }],
      max_tokens: 8,
      seed: k,
    };
    const reqHash = requestHash(body);
    const nonce = BigInt(k);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3_600);
    const maxUnits = 1_000_000n;
    const signature = await signRequest(owner, domain, {
      stackId: stack.stackId,
      reqHash,
      nonce,
      deadline,
      maxUnits,
    });
    const entry: TranscriptEntry = {
      body,
      nonce: String(nonce),
      deadline: String(deadline),
      max_units: String(maxUnits),
      signature,
    };
    const reservation = await accounting.reserve({
      stackId: stack.stackId,
      units: unitsEach,
      nonce,
      deadline,
    });
    const respHash = honestResponse(reqHash, unitsEach);
    const leaf = await accounting.commit(reservation, {
      units: unitsEach,
      reqHash,
      respHash,
      seed: BigInt(k),
      request: entry,
      response: { choices: [{ index: 0, text: "ok", finish_reason: "stop" }] },
    });
    reqHashes.push(reqHash);
    respHashes.push(respHash);
    units.push(leaf.units);
    leafHashes.push(leaf.leafHash);
  }
  return { reqHashes, respHashes, units, leafHashes };
}

/** Polls `probe` until it returns a value other than undefined/false (generous for a 2-core CI machine). */
export const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000) =>
  waitForValue(what, probe, timeoutMs);
