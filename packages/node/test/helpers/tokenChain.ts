import {
  type Anvil,
  type AtomaContracts,
  type AtomaPublicClient,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  deployContracts,
  devAccounts,
  startAnvil,
} from "@atoma/chain";
import { atomaTokenAbi } from "@atoma/contracts";
import type { Address } from "viem";

export interface TokenChain {
  anvil: Anvil;
  publicClient: AtomaPublicClient;
  testClient: ReturnType<typeof createAtomaTestClient>;
  contracts: AtomaContracts;
  token: Address;
  /** Sends `value` wei of TOMA from the deployer to a fixed address, waits for the receipt, returns its block. */
  transfer(value: bigint): Promise<bigint>;
}

const recipient: Address = "0x000000000000000000000000000000000000dEaD";

/** A real anvil with the AtomaToken deployed and a balance minted to the deployer. */
export async function startTokenChain(): Promise<TokenChain> {
  const anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  const [deployer] = await devAccounts(chain);
  const wallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  // The deployer holds the genesis supply, minted in the token's deployment.
  const { addresses, contracts } = await deployContracts(publicClient, wallet);
  return {
    anvil,
    publicClient,
    testClient: createAtomaTestClient(chain),
    contracts,
    token: addresses.AtomaToken,
    async transfer(value) {
      const hash = await contracts.token.write.transfer([recipient, value]);
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      return receipt.blockNumber;
    },
  };
}

export { atomaTokenAbi };
