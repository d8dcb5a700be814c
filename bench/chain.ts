// Local chain: anvil start-up, full deployment, and transactions per second sequential vs concurrent.
import {
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  deployContracts,
  devAccounts,
  startAnvil,
} from "@atoma/chain";
import { atomaTokenAbi } from "@atoma/contracts";
import { parseEther } from "viem";
import { generatePrivateKey, nonceManager, privateKeyToAccount } from "viem/accounts";
import { report, timeMs } from "./lib/report.js";

const startedAt = performance.now();
const anvil = await startAnvil();
report("anvil_start_ms", performance.now() - startedAt, "ms");
const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
try {
  const publicClient = createAtomaPublicClient(chain);
  const [deployer, receiver] = await devAccounts(chain);
  const admin = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  let tokenAddress: `0x${string}` | undefined;
  report(
    "deploy_all_ms",
    await timeMs(async () => {
      tokenAddress = (await deployContracts(publicClient, admin)).addresses.AtomaToken;
    }),
    "ms",
  );
  const sender = privateKeyToAccount(generatePrivateKey(), { nonceManager });
  await createAtomaTestClient(chain).setBalance({ address: sender.address, value: parseEther("100") });
  const fund = await admin.writeContract({
    address: tokenAddress!,
    abi: atomaTokenAbi,
    functionName: "transfer",
    args: [sender.address, parseEther("1000")],
  });
  await publicClient.waitForTransactionReceipt({ hash: fund });
  const wallet = createAtomaWalletClient(chain, sender);
  const transfer = () =>
    wallet.writeContract({
      address: tokenAddress!,
      abi: atomaTokenAbi,
      functionName: "transfer",
      args: [receiver!, 1n],
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
