import { writeFileSync } from "node:fs";
import { createAtomaTestClient } from "@atoma/chain";
import { type Hex, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TestNetwork } from "../../chain/test/network.js";

/**
 * Funds each key on the test network (100 ETH for gas, 1,000 TOMA) and writes it to its `--key-file` (mode 0600);
 * then writes the network description the commands read (`--network`) to `networkFile`.
 */
export async function writeKeyFiles(
  network: TestNetwork,
  keys: readonly { key: Hex; file: string }[],
  networkFile: string,
): Promise<void> {
  const chain = { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId };
  const test = createAtomaTestClient(chain);
  for (const { key, file } of keys) {
    const { address } = privateKeyToAccount(key);
    await test.setBalance({ address, value: parseEther("100") });
    await network.admin.publicClient.waitForTransactionReceipt({
      hash: await network.deployment.contracts.token.write.transfer([address, parseEther("1000")]),
    });
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
  }
  writeFileSync(networkFile, JSON.stringify({ ...chain, contracts: network.deployment.addresses }));
}
