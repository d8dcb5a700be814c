import type { Anvil, AtomaContracts, AtomaPublicClient } from "@atoma/chain";
import { type AtomaTestClient, startDevnet } from "@atoma/chain/devnet";
import { atomaTokenAbi } from "@atoma/contracts";
import type { Address } from "viem";

export interface TokenChain {
  anvil: Anvil;
  publicClient: AtomaPublicClient;
  testClient: AtomaTestClient;
  contracts: AtomaContracts;
  token: Address;
  /** Sends `value` wei of TOMA from the deployer to a fixed address, waits for the receipt, returns its block. */
  transfer(value: bigint): Promise<bigint>;
}

const recipient: Address = "0x000000000000000000000000000000000000dEaD";

/** A dev network whose token the tests move: the deployer holds the genesis supply. */
export async function startTokenChain(): Promise<TokenChain> {
  const { anvil, publicClient, testClient, deployment } = await startDevnet({ echelons: [] });
  const { contracts } = deployment;
  return {
    anvil,
    publicClient,
    testClient,
    contracts,
    token: deployment.addresses.AtomaToken,
    async transfer(value) {
      const hash = await contracts.token.write.transfer([recipient, value]);
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      return receipt.blockNumber;
    },
  };
}

export { atomaTokenAbi };
