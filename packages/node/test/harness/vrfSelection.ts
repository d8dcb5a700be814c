import { evaluateSelection } from "@atoma/chain";
import { nodeVrfKey } from "../../src/attestation/vrfKey.js";
import type { AttestNetwork } from "./attestNetwork.js";

/**
 * The candidates a selection window selects, as only each node can compute it (the test holds every node's key,
 * derived as the node derives it).
 */
export async function selectedAmong(
  net: AttestNetwork,
  selection: { seed: `0x${string}`; numerator: bigint; denominator: bigint },
  candidates: readonly bigint[],
): Promise<bigint[]> {
  const registry = net.deployment.addresses.VrfKeyRegistry!;
  const selected: bigint[] = [];
  for (const n of net.nodes) {
    if (!candidates.includes(n.nodeId)) continue;
    const key = await nodeVrfKey(n.signerAccount, { chainId: net.anvil.chainId, vrfKeyRegistry: registry });
    if (evaluateSelection(key, selection).selected) selected.push(n.nodeId);
  }
  return selected;
}
