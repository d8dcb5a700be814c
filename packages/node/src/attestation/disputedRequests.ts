import { findDisputeEvidence } from "@atoma/chain";
import { hexToString } from "viem";
import type { NodeSeat } from "../service/nodeSeat.js";

/**
 * The disputed requests the server posted on chain (`EvidencePosted`), in the order of the sampled indices; undefined
 * while the logs do not show all `count` of them yet. A body that is not JSON is kept as its text: it is no valid
 * request of the task, so every honest member recomputes the fixed invalid-request result for it.
 */
export async function disputedRequests(
  chain: NodeSeat,
  disputeId: bigint,
  count: number,
  fromBlock: bigint,
): Promise<unknown[] | undefined> {
  const posted = await findDisputeEvidence(chain, { disputeId, fromBlock });
  const bodies = new Map<number, unknown>();
  for (const evidence of posted) {
    const position = Number(evidence.position);
    const body = evidence.request?.body;
    if (body === undefined || bodies.has(position)) continue;
    const text = hexToString(body);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    bodies.set(position, parsed);
  }
  if (bodies.size < count) return undefined;
  return Array.from({ length: count }, (_, position) => bodies.get(position));
}
