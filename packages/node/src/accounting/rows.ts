import type { Hash } from "@atoma/core";
import type { Selectable } from "kysely";
import { getAddress } from "viem";
import type { LeavesTable, StacksTable } from "../db/schema.js";
import type { Stack, StoredLeaf } from "./types.js";

export function stackFromRow(row: Selectable<StacksTable>): Stack {
  return {
    stackId: row.stack_id,
    owner: getAddress(row.owner),
    taskId: row.task_id,
    servingNodeId: row.serving_node_id,
    unitsBought: row.units_bought,
    unitsReserved: row.units_reserved,
    unitsUsed: row.units_used,
    leafCount: row.leaf_count,
    pricePerMillion: row.price_per_million,
    expiresAt: row.expires_at,
    state: row.state,
  };
}

export function leafFromRow(row: Selectable<LeavesTable>): StoredLeaf {
  return {
    stackId: row.stack_id,
    leafIndex: row.leaf_index,
    reqHash: row.req_hash as Hash,
    respHash: row.resp_hash as Hash,
    leafHash: row.leaf_hash as Hash,
    units: row.units,
    cumulativeUnits: row.cumulative_units,
    seed: row.seed,
    nonce: row.nonce,
    request: JSON.parse(row.request) as unknown,
    response: row.response === null ? null : (JSON.parse(row.response) as unknown),
  };
}
