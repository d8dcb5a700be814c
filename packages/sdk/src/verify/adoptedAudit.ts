import { leafHash, leafOf, stackRootOf } from "@atoma/core";
import type { KeptReceipt } from "../StackClient.js";
import { fetchLeafProof } from "./fetchLeafProof.js";
import { inclusionCheck, type SettledRoot } from "./inclusionCheck.js";

/** An adopted receipt, and why the audit put it where it did. */
export interface AdoptedNotSettled {
  receipt: KeptReceipt;
  reason: string;
}

/** The audit's two piles: leaves proven missing from the settlement, and leaves the node would not prove either way. */
export interface AdoptedAudit {
  /** Definitively not settled: past the settled count, or the node proved another leaf at that index. */
  notSettled: AdoptedNotSettled[];
  /** No valid proof either way (refused, timed out, malformed, under another root): a challenge would be a guess. */
  unproven: AdoptedNotSettled[];
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Review H1 (leaf adoption): two clients of one owner at one nonce can each be shown the other's leaf there, so
 * both adopt while neither was answered. The node can settle only one leaf at that index: the other client's
 * adopted receipt, node-signed, is not under the settled root, and the owner's `ChallengeManager.challenge` with
 * it slashes the node. Sorts the adopted receipts of `receipts` the node proves under no settled root (the
 * chain's root and count, the proof fetched from the node, tried twice). Only definitive evidence counts as not
 * settled (review MED-2): a node that refuses or garbles the proof of a leaf it did settle would otherwise bait the
 * owner into a challenge it answers on-chain, keeping the bond; such leaves are `unproven` — unless the owner holds
 * two different node-signed leaves at that index (review of issue 13, MEDIUM-2): then both are `notSettled`, since
 * at most one can be under the root and the one that is not makes its challenge upheld.
 */
export async function adoptedLeavesNotSettled(args: {
  receipts: readonly KeptReceipt[];
  nodeUrl: string;
  settled: SettledRoot;
  fetch?: typeof fetch | undefined;
  timeoutMs?: number | undefined;
}): Promise<AdoptedAudit> {
  const fetcher = args.fetch ?? globalThis.fetch;
  const audit: AdoptedAudit = { notSettled: [], unproven: [] };
  // The distinct leaves the owner holds at each index (review of issue 13, MEDIUM-2): two clients each shown the
  // other's leaf at one index adopt two node-signed leaves there. At most one is under the settled root, whatever the
  // node proves or refuses to prove, so a challenge of each is upheld for one of them (failing the settlement, which
  // pays the other's held bond back): a node withholding every proof no longer escapes.
  // Every node-signed leaf kept counts, the client's own among them (second review, MEDIUM-C): a node that answered
  // one client and showed another client a different leaf at that index equivocated just the same. Such an own
  // receipt is then audited beside the adopted one (once per distinct leaf).
  const leavesAt = new Map<bigint, Set<string>>();
  const adoptedLeaves = new Set<string>();
  for (const receipt of args.receipts) {
    const hash = leafHash(leafOf(receipt.fields)).toLowerCase();
    const at = leavesAt.get(receipt.fields.leafIndex) ?? new Set<string>();
    at.add(hash);
    leavesAt.set(receipt.fields.leafIndex, at);
    if (receipt.adopted) adoptedLeaves.add(hash);
  }
  const ownAudited = new Set<string>();
  for (const receipt of args.receipts) {
    if (!receipt.adopted) {
      const hash = leafHash(leafOf(receipt.fields)).toLowerCase();
      const contested = (leavesAt.get(receipt.fields.leafIndex)?.size ?? 0) > 1;
      const beside = [...(leavesAt.get(receipt.fields.leafIndex) ?? [])].some((h) => adoptedLeaves.has(h));
      if (!contested || !beside || adoptedLeaves.has(hash) || ownAudited.has(hash)) continue;
      ownAudited.add(hash);
    }
    const { stackId, leafIndex } = receipt.fields;
    if (leafIndex >= args.settled.requestCount) {
      audit.notSettled.push({
        receipt,
        reason: `leaf ${leafIndex} is past the ${args.settled.requestCount} leaves settled`,
      });
      continue;
    }
    const fetchProof = () =>
      fetchLeafProof(fetcher, args.nodeUrl, stackId, leafIndex, args.timeoutMs ?? 30_000);
    let proof = await fetchProof();
    if (typeof proof === "string") proof = await fetchProof();
    const twoLeaves = (leavesAt.get(leafIndex)?.size ?? 0) > 1;
    if (typeof proof === "string") {
      if (twoLeaves)
        audit.notSettled.push({
          receipt,
          reason: `the node signed two different leaves at index ${leafIndex} (at most one is settled) and proves neither: ${proof}`,
        });
      else audit.unproven.push({ receipt, reason: proof });
      continue;
    }
    const check = inclusionCheck(receipt.fields, proof, args.settled);
    if (check.status === "pass") continue;
    // The node's own proof puts another leaf at this index under the chain's root: this receipt's leaf is not there.
    const settledOther =
      BigInt(proof.stack_id) === stackId &&
      BigInt(proof.leaf_index) === leafIndex &&
      BigInt(proof.leaf_count) === args.settled.requestCount &&
      !same(proof.leaf_hash, leafHash(leafOf(receipt.fields))) &&
      same(
        stackRootOf(proof.leaf_hash, Number(leafIndex), Number(args.settled.requestCount), proof.proof) ?? "",
        args.settled.root,
      );
    (settledOther || twoLeaves ? audit.notSettled : audit.unproven).push({
      receipt,
      reason: settledOther
        ? `the node proves another leaf at index ${leafIndex} under the settled root`
        : twoLeaves
          ? `the node signed two different leaves at index ${leafIndex} (at most one is settled): ${check.reason}`
          : check.reason,
    });
  }
  return audit;
}
