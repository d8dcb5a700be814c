import { type Hex, keccak256, toHex } from "viem";
import {
  disputeSelectionSeed,
  disputeSelectionThreshold,
  disputeSelectionWindow,
} from "./disputeSelection.js";
import { selectionProofCase, vectorVrfKey } from "./vrfSelectionVectorCases.js";

const word = (value: bigint): Hex => `0x${value.toString(16).padStart(64, "0")}`;

/**
 * Dispute committee self-selection vectors (packages/core/vectors/vrfDispute.json), checked by
 * disputeSelection.test.ts and contracts/test/DisputeSelection.t.sol: every node's proof (keys as in
 * vrfSelection.json) on the selection seed of disputes 1..DISPUTES armed on a block whose hash is `blockHash`, and
 * (`rounds`) on the seed of the second draw round's window of disputes 1 and 2, armed on `roundBlockHash`.
 */
export function buildVrfDisputeVectors(nodes = 7, disputes = 8) {
  const blockHash = keccak256(toHex("vrf dispute block"));
  const roundBlockHash = keccak256(toHex("vrf dispute block, round 1"));
  const ids = Array.from({ length: nodes }, (_, i) => BigInt(i + 1));
  return {
    description:
      "Dispute committee self-selection vectors (seeds, thresholds, proofs per dispute and node). Regenerate with `npm run vectors:vrf -w @atoma/core`.",
    blockHash,
    disputes: Array.from({ length: disputes }, (_, i) => {
      const disputeId = BigInt(i + 1);
      const seed = disputeSelectionSeed(disputeId, blockHash);
      return {
        disputeId: Number(disputeId),
        seed,
        proofs: ids.map((id) => selectionProofCase(vectorVrfKey(id), seed)),
      };
    }),
    roundBlockHash,
    rounds: [1n, 2n].map((disputeId) => {
      const seed = disputeSelectionSeed(disputeId, roundBlockHash, 1);
      return {
        disputeId: Number(disputeId),
        round: 1,
        window: word(disputeSelectionWindow(disputeId, 1)),
        seed,
        proofs: ids.map((id) => selectionProofCase(vectorVrfKey(id), seed)),
      };
    }),
    thresholds: [
      { committeeSize: 3, candidateCount: 6 },
      { committeeSize: 5, candidateCount: 20 },
      { committeeSize: 7, candidateCount: 4 },
    ].map((t) => {
      const { numerator, denominator } = disputeSelectionThreshold(t);
      return { ...t, numerator: word(numerator), denominator: word(denominator) };
    }),
  };
}
