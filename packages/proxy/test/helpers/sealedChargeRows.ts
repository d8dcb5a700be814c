import type { GatewayDb } from "../../src/db/openGatewayDatabase.js";

/** Stores stack `stackId` at `pricePerMillion`, idle with 100,000 units, as the gateway keeps a bought stack. */
export async function insertIdleStack(db: GatewayDb, stackId: bigint, pricePerMillion: bigint) {
  await db
    .insertInto("stacks")
    .values({
      stack_id: stackId,
      model: "m",
      task_id: 1n,
      node_id: 1n,
      node_url: "http://n",
      node_signer: "0x00",
      units: 100_000n,
      price_per_million: pricePerMillion,
      expires_at: 9_999_999_999n,
      state: "idle",
      created_at_ms: 1n,
    })
    .execute();
}

/** Keeps a receipt for leaf `leafIndex` of `stackId` (accepted unless `refused`), with the fields given. */
export async function keepReceipt(
  db: GatewayDb,
  receipt: {
    stackId: bigint;
    leafIndex: bigint;
    reqHash?: string;
    units: bigint;
    cumulativeUnits?: bigint;
    refused?: boolean;
  },
) {
  const { stackId, leafIndex, reqHash, units, cumulativeUnits, refused = false } = receipt;
  await db
    .insertInto("receipts")
    .values({
      stack_id: stackId,
      leaf_index: leafIndex,
      signature: `0x${leafIndex}`,
      receipt: JSON.stringify({
        stackId: String(stackId),
        leafIndex: String(leafIndex),
        ...(reqHash === undefined ? {} : { reqHash }),
        units: String(units),
        ...(cumulativeUnits === undefined ? {} : { cumulativeUnits: String(cumulativeUnits) }),
      }),
      created_at_ms: 1,
      refused,
    })
    .execute();
}

/** What API key `keyId` has been charged so far, in wei, as its row says. */
export async function spentWeiOf(db: GatewayDb, keyId: string) {
  const row = await db
    .selectFrom("api_keys")
    .select("spent_wei")
    .where("key_id", "=", keyId)
    .executeTakeFirstOrThrow();
  return row.spent_wei;
}
