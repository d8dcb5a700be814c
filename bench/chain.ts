// Local chain: anvil start-up, full deployment, and transactions per second sequential vs concurrent.
import { startAnvil } from "@atoma/chain";
import { deployDevnet } from "@atoma/chain/devnet";
import { atomaTokenAbi } from "@atoma/contracts";
import { parseEther } from "viem";
import { nonceManager, privateKeyToAccount } from "viem/accounts";
import { report, timeMs } from "./lib/report.js";

const startedAt = performance.now();
const anvil = await startAnvil();
report("anvil_start_ms", performance.now() - startedAt, "ms");
try {
  const deployStartedAt = performance.now();
  const network = await deployDevnet(anvil, { echelons: [] });
  report("deploy_all_ms", performance.now() - deployStartedAt, "ms");
  const { deployment, publicClient, devAccounts } = network;
  const tokenAddress = deployment.addresses.AtomaToken;
  const receiver = devAccounts[1]!;
  const { privateKey } = await network.account(parseEther("1000"));
  const wallet = network.contextOf(privateKeyToAccount(privateKey, { nonceManager })).walletClient;
  const transfer = () =>
    wallet.writeContract({
      address: tokenAddress,
      abi: atomaTokenAbi,
      functionName: "transfer",
      args: [receiver, 1n],
    });
  const count = 200;
  const sequentialMs = await timeMs(async () => {
    for (let i = 0; i < count; i++) await publicClient.waitForTransactionReceipt({ hash: await transfer() });
  });
  const concurrentMs = await timeMs(async () => {
    const hashes = await Promise.all(Array.from({ length: count }, transfer));
    await Promise.all(hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })));
  });
  report("tx_per_s_sequential", (count / sequentialMs) * 1000, "tx/s");
  report("tx_per_s_concurrent", (count / concurrentMs) * 1000, "tx/s");
  report("concurrent_vs_sequential_ratio", sequentialMs / concurrentMs, "ratio");
} finally {
  await anvil.stop();
}
