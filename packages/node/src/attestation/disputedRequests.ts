import { hexToString } from "viem";
import type { AttestationChain } from "./attestationChain.js";
import { UnrecomputableRequestError } from "./errors.js";

/**
 * The disputed requests the server posted on chain (`EvidencePosted`), in the order of the sampled indices; undefined
 * while the logs do not show all `count` of them yet. A body that is not JSON cannot be replayed by anyone.
 */
export async function disputedRequests(
  chain: AttestationChain,
  disputeId: bigint,
  count: number,
  fromBlock: bigint,
): Promise<Record<string, unknown>[] | undefined> {
  const events = await chain.contracts.disputeManager.getEvents.EvidencePosted({ disputeId }, { fromBlock });
  const bodies = new Map<number, Record<string, unknown>>();
  for (const event of events) {
    const position = Number(event.args.position);
    const body = event.args.request?.body;
    if (body === undefined || bodies.has(position)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(hexToString(body));
    } catch (cause) {
      throw new UnrecomputableRequestError(`disputed request ${position} is not JSON`, { cause });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new UnrecomputableRequestError(`disputed request ${position} is not a JSON object`);
    bodies.set(position, parsed as Record<string, unknown>);
  }
  if (bodies.size < count) return undefined;
  return Array.from({ length: count }, (_, position) => bodies.get(position)!);
}
