import type { VrfRegistryDomain } from "@atoma/core";
import { vrfPossessionInput, vrfProofToHash, vrfProve, vrfPublicKey, vrfVerifierHints } from "@atoma/core";
import type { Hex } from "viem";

/** A VRF proof with the hints the on-chain verifier takes (`EcVrf.Hints`). */
export interface VrfProofArgs {
  proof: Hex;
  beta: Hex;
  hints: { u: readonly [bigint, bigint]; sH: readonly [bigint, bigint]; cGamma: readonly [bigint, bigint] };
}

/** Proves `alpha` with `secretKey` and computes the hints `EcVrf.verify` checks instead of multiplying. */
export function vrfProofArgs(secretKey: Hex, alpha: Hex): VrfProofArgs {
  const proof = vrfProve(secretKey, alpha);
  const h = vrfVerifierHints(vrfPublicKey(secretKey), alpha, proof);
  return { proof, beta: vrfProofToHash(proof), hints: { u: h.u, sH: h.sH, cGamma: h.cGamma } };
}

/** The possession proof a node registers its key with: a proof on `vrfPossessionInput(nodeId, domain)`. */
export function vrfPossessionArgs(
  secretKey: Hex,
  nodeId: bigint,
  domain: VrfRegistryDomain,
): VrfProofArgs & { publicKey: Hex } {
  return {
    publicKey: vrfPublicKey(secretKey),
    ...vrfProofArgs(secretKey, vrfPossessionInput(nodeId, domain)),
  };
}
