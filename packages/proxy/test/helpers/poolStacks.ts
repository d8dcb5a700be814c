import type { GatewayDb } from "../../src/db/openGatewayDatabase.js";
import type { CatalogNode } from "../../src/network/catalog.js";

/** The stack-pool tests' clock: a fixed instant, in milliseconds and in chain seconds. */
export const NOW_MS = Date.UTC(2030, 0, 1);
export const NOW_S = BigInt(NOW_MS / 1000);

/** Node 1 of the stack-pool tests' model, at 5 per million units. */
export const NODE_ONE: CatalogNode = {
  nodeId: 1n,
  url: "http://n1",
  signer: `0x${"01".repeat(20)}`,
  pricePerMillion: 5n,
};

/**
 * Stores stack `stackId` of `modelId` as bought from node 1 on task 1: 1,000 units at its price, expiring an hour
 * after `NOW_S`; `values` override any column.
 */
export async function insertNodeOneStack(
  db: GatewayDb,
  modelId: string,
  stackId: bigint,
  values: Record<string, unknown> = {},
) {
  await db
    .insertInto("stacks")
    .values({
      stack_id: stackId,
      model: modelId,
      task_id: 1n,
      node_id: 1n,
      node_url: NODE_ONE.url,
      node_signer: NODE_ONE.signer,
      units: 1_000n,
      price_per_million: NODE_ONE.pricePerMillion,
      expires_at: NOW_S + 3_600n,
      created_at_ms: NOW_MS,
      ...values,
    })
    .execute();
}
