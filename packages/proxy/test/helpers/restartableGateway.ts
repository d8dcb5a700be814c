import type { ChainContext } from "@atoma/chain";
import type { Address, LocalAccount } from "viem";
import {
  type GatewayDatabaseConfig,
  type OpenedDatabase,
  openGatewayDatabase,
} from "../../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../../src/gateway/createGatewayApp.js";
import { GatewayServer } from "../../src/gateway/gatewayServer.js";
import type { KeyStore } from "../../src/keys/keyStore.js";
import { SealedCharges } from "../../src/limits/sealedCharges.js";
import { NetworkUpstream, type NetworkUpstreamOptions } from "../../src/network/networkUpstream.js";
import { StackPool } from "../../src/network/stackPool.js";
import { NodeHealthBook } from "../../src/routing/nodeHealthBook.js";
import { gatewayParts } from "./gatewayParts.js";
import { oneTaskModel } from "./oneTaskModel.js";

const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;

/** One start of a gateway over a database that outlives it, listening on a real socket. */
export interface GatewayRun {
  url: string;
  upstream: NetworkUpstream;
  opened: OpenedDatabase;
  keys: KeyStore;
  /** Whose leases its stacks are held under. */
  holderId: string;
  /** Closes its socket and its database (the database's files stay). */
  stop(): Promise<void>;
}

/**
 * Starts a gateway in front of node 1 (at `node.url`) over the database `config`; the first start (`stackUnits`
 * given) puts one stack of that many units in its pool, a restart finds it there. Node errors go to `nodeErrors`.
 */
export async function startGatewayRun(
  config: GatewayDatabaseConfig,
  gateway: LocalAccount,
  node: { url: string; signer: { address: Address }; price: bigint },
  options: NetworkUpstreamOptions,
  /** Told `nodeId:code` of each error counted against a node. */
  nodeErrors: { push(entry: string): unknown },
  stackUnits?: bigint,
  /** The holder of the run before this one: its stacks are handed back, as a restarted gateway's own (`recover`). */
  previousHolderId?: string,
  /** The id of the stack `stackUnits` puts in the pool. */
  stackId = 1n,
): Promise<GatewayRun> {
  const opened = await openGatewayDatabase(config);
  const model = oneTaskModel([
    { nodeId: 1n, url: node.url, signer: node.signer.address, pricePerMillion: node.price },
  ]);
  if (stackUnits !== undefined)
    await opened.db
      .insertInto("stacks")
      .values({
        stack_id: stackId,
        model: model.modelId,
        task_id: 1n,
        node_id: 1n,
        node_url: node.url,
        node_signer: node.signer.address,
        units: stackUnits,
        price_per_million: node.price,
        expires_at: BigInt(Math.floor(Date.now() / 1000)) + 3_600n,
        created_at_ms: Date.now(),
        last_used_ms: 0,
      })
      .execute();
  const pool = new StackPool(
    { db: opened.db, chain: {} as ChainContext },
    {
      maxPricePerMillion: node.price,
      unitsPerStack: stackUnits ?? 1_000_000n,
      maxStacksPerModel: 1,
      waitMs: 200,
    },
  );
  if (previousHolderId !== undefined)
    await opened.db
      .updateTable("stacks")
      .set({ state: "idle", lease_id: null, leased_until_ms: null })
      .where("lease_id", "=", previousHolderId)
      .where("state", "=", "leased")
      .execute();
  const upstream = new NetworkUpstream(
    {
      catalog: {
        models: () => [model],
        model: (name: string) => (name === "tiny" ? model : undefined),
        allowsPrivateNodeUrls: true,
      },
      pool,
      sealedCharges: new SealedCharges(opened.db),
      account: gateway,
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
      health: new NodeHealthBook(),
      strikesDb: opened.db,
      onNodeError: (nodeId, code) => nodeErrors.push(`${nodeId}:${code}`),
    },
    options,
  );
  const parts = gatewayParts(opened, upstream);
  const { keys } = parts;
  const state = { draining: false };
  const app = createGatewayApp(parts, { state });
  const server = new GatewayServer(app, state);
  await server.start();
  return {
    url: server.url,
    upstream,
    opened,
    keys,
    holderId: pool.holderId,
    stop: async () => {
      await server.stop();
      await opened.close();
    },
  };
}

/** A chat completion sent to `run` over its socket with `key`. */
export function chatAt(run: GatewayRun, key: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${run.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}
