import type { SimNetwork } from "./simNetwork.js";

/** What the vault credited a node (fees, attester pay, shares of slashed collateral) over `epochs`, in wei. */
export async function creditedOver(
  network: SimNetwork,
  nodeId: bigint,
  epochs: readonly bigint[],
): Promise<bigint> {
  const { vault } = network.deployment.contracts;
  const entries = await Promise.all(epochs.map((epoch) => vault.read.nodeLedger([nodeId, epoch])));
  return entries.reduce((sum, [claimable]) => sum + claimable, 0n);
}

export async function collateralOf(network: SimNetwork, nodeId: bigint): Promise<bigint> {
  return (await network.deployment.contracts.nodeRegistry.read.getNode([nodeId])).collateral;
}

export async function currentEpoch(network: SimNetwork): Promise<bigint> {
  return network.deployment.contracts.nodeRegistry.read.currentEpoch();
}
