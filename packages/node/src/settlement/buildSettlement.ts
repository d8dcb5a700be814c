import {
  encodeTranscript,
  type Hash,
  type InputsTranscript,
  StackTree,
  type TranscriptEntry,
} from "@atoma/core";
import type { Address } from "viem";
import type { SettlementSnapshot } from "../accounting/freezeForSettlement.js";

/** The root submitted for a stack without requests (the contract accepts zero only then). */
export const EMPTY_ROOT: Hash = `0x${"0".repeat(64)}`;

export interface BuiltSettlement {
  root: Hash;
  units: bigint;
  requestCount: bigint;
  /** The inputs transcript's canonical bytes: its blob id is the transcript id submitted. */
  transcript: Uint8Array;
}

/**
 * What the node submits for a frozen stack: the stack-tree root over its leaves in index order, and the inputs
 * transcript (each leaf's owner-signed request and the rest of the leaf, never the outputs) under the stacks
 * contract's domain.
 */
export function buildSettlement(
  snapshot: SettlementSnapshot,
  domain: { chainId: number; stacks: Address },
): BuiltSettlement {
  const { leaves } = snapshot;
  const transcript: InputsTranscript = {
    version: 2,
    chainId: domain.chainId,
    stacks: domain.stacks,
    stackId: snapshot.stack.stackId.toString(),
    requests: leaves.map((leaf) => {
      const { body, nonce, deadline, max_units, signature } = leaf.request as TranscriptEntry;
      return {
        body,
        nonce,
        deadline,
        max_units,
        signature,
        response_hash: leaf.respHash,
        units: leaf.units.toString(),
        cumulative_units: leaf.cumulativeUnits.toString(),
      };
    }),
  };
  return {
    root: leaves.length === 0 ? EMPTY_ROOT : new StackTree(leaves.map((leaf) => leaf.leafHash)).root,
    units: snapshot.unitsClaimed,
    requestCount: BigInt(leaves.length),
    transcript: encodeTranscript(transcript),
  };
}
