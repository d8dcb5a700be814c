import { sql } from "kysely";
import { getAddress } from "viem";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { StackState } from "../db/schema.js";
import { uint256Digits } from "../db/uint256Order.js";
import { checkCount, checkUint256 } from "./checks.js";
import { leafFromRow, stackFromRow } from "./rows.js";
import type { NewStack, Stack, StoredLeaf } from "./types.js";

/**
 * Records a stack bought on-chain. Pass the listener's transaction so the stack appears exactly when the cursor
 * passes its event. Returns false when the stack was already known (nothing changes then).
 */
export async function insertStack(db: NodeDb, stack: NewStack): Promise<boolean> {
  const inserted = await db
    .insertInto("stacks")
    .values({
      stack_id: checkUint256("stackId", stack.stackId),
      owner: getAddress(stack.owner).toLowerCase(),
      task_id: checkUint256("taskId", stack.taskId),
      serving_node_id: checkUint256("servingNodeId", stack.servingNodeId),
      units_bought: checkCount("unitsBought", stack.unitsBought),
      price_per_million: checkUint256("pricePerMillion", stack.pricePerMillion),
      expires_at: checkCount("expiresAt", stack.expiresAt),
    })
    .onConflict((oc) => oc.column("stack_id").doNothing())
    .returning("stack_id")
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Records the settlement deadline the chain set when the stack's owner closed it (unix seconds). */
export async function recordSettleDeadline(db: NodeDb, stackId: bigint, deadline: bigint): Promise<void> {
  await db
    .updateTable("stacks")
    .set({ settle_deadline: checkCount("settleDeadline", deadline), updated_at: sql`current_timestamp` })
    .where("stack_id", "=", stackId)
    .execute();
}

export async function getStack(db: NodeDb, stackId: bigint): Promise<Stack | undefined> {
  const row = await db.selectFrom("stacks").selectAll().where("stack_id", "=", stackId).executeTakeFirst();
  return row && stackFromRow(row);
}

/** Stacks served by `servingNodeId` in `state`, oldest expiry first (the settlement worker's scan). */
export async function listStacks(
  db: NodeDb,
  filter: { servingNodeId: bigint; state: StackState; limit?: number | undefined },
): Promise<Stack[]> {
  const rows = await db
    .selectFrom("stacks")
    .selectAll()
    .where("serving_node_id", "=", filter.servingNodeId)
    .where("state", "=", filter.state)
    .orderBy("expires_at")
    .orderBy(uint256Digits("stack_id"))
    .orderBy("stack_id")
    .limit(filter.limit ?? 1_000)
    .execute();
  return rows.map(stackFromRow);
}

/** Moves a stack to `to` only from `from`; false when it was not in `from` (another worker got there first). */
export async function transitionStack(db: NodeDb, stackId: bigint, from: StackState, to: StackState) {
  const moved = await db
    .updateTable("stacks")
    .set({ state: to, updated_at: sql`current_timestamp` })
    .where("stack_id", "=", stackId)
    .where("state", "=", from)
    .returning("stack_id")
    .executeTakeFirst();
  return moved !== undefined;
}

/** The stack's leaves in index order, from `from` on (at most `limit`). */
export async function listLeaves(
  db: NodeDb,
  stackId: bigint,
  range: { from?: bigint | undefined; limit?: number | undefined } = {},
): Promise<StoredLeaf[]> {
  const rows = await db
    .selectFrom("leaves")
    .selectAll()
    .where("stack_id", "=", stackId)
    .where("leaf_index", ">=", range.from ?? 0n)
    .orderBy("leaf_index")
    .limit(range.limit ?? 1_000_000)
    .execute();
  return rows.map(leafFromRow);
}

/**
 * The leaf committed for a request with this nonce, if any: a client that resends a signed request it got no
 * answer to (the connection dropped, the node restarted) gets the stored response back rather than a second
 * charge. Undefined when no leaf has it (the request failed before committing, or never came).
 */
export async function findLeafByNonce(
  db: NodeDb,
  stackId: bigint,
  nonce: bigint,
): Promise<StoredLeaf | undefined> {
  const row = await db
    .selectFrom("leaves")
    .selectAll()
    .where("stack_id", "=", stackId)
    .where("nonce", "=", nonce)
    .executeTakeFirst();
  return row && leafFromRow(row);
}
