import { atomaContracts, type ChainContext, createAtomaTestClient } from "@atoma/chain";
import { type Address, parseEther } from "viem";

/** The local chain as `atoma dev` drives it: the deployer's context and anvil's test methods. */
export interface DevChain {
  admin: ChainContext;
  rpc: { rpcUrl: string; chainId: number };
}

/**
 * Gives `address` ether for gas (anvil sets the balance) and `toma` TOMA from the deployer, who received the
 * genesis supply (nobody can mint outside the emission schedule, the deployer included).
 */
export async function fund(chain: DevChain, address: Address, toma: bigint): Promise<void> {
  await createAtomaTestClient(chain.rpc).setBalance({ address, value: parseEther("1000") });
  if (toma === 0n) return;
  const { token } = atomaContracts(chain.admin.addresses, chain.admin.publicClient, chain.admin.walletClient);
  await chain.admin.publicClient.waitForTransactionReceipt({
    hash: await token.write.transfer([address, toma]),
  });
}

/** Moves the chain into the next epoch, where nodes registered in this one become eligible for stacks. */
export async function advanceEpoch(chain: DevChain): Promise<void> {
  const { nodeRegistry } = atomaContracts(
    chain.admin.addresses,
    chain.admin.publicClient,
    chain.admin.walletClient,
  );
  const test = createAtomaTestClient(chain.rpc);
  await test.increaseTime({ seconds: Number(await nodeRegistry.read.EPOCH_LENGTH()) });
  await test.mine({ blocks: 1 });
}

export async function isEligible(chain: DevChain, nodeId: bigint): Promise<boolean> {
  const { nodeRegistry } = atomaContracts(
    chain.admin.addresses,
    chain.admin.publicClient,
    chain.admin.walletClient,
  );
  return nodeRegistry.read.isEligible([nodeId]);
}
