import { type Network, readContext } from "@atoma/sdk";
import { erc20Abi, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** Why the playground refuses a dev key before it signs or sends anything. */
export class DevAccountError extends Error {
  override name = "DevAccountError";
  constructor(
    readonly code: "dev_key_malformed" | "dev_account_unfunded",
    message: string,
  ) {
    super(message);
  }
}

/** The pasted key as an account: 32 bytes of hex, `0x` first (no other shape is guessed at). */
export function devAccount(pasted: string): LocalAccount {
  const key = pasted.trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key))
    throw new DevAccountError("dev_key_malformed", "the private key must be 0x and 64 hex digits");
  try {
    return privateKeyToAccount(key as `0x${string}`);
  } catch {
    throw new DevAccountError("dev_key_malformed", "the private key is not a valid secp256k1 key");
  }
}

/** Refuses an account holding neither ETH (gas) nor TOMA (a stack): it could buy nothing. */
export async function checkFunded(network: Network, account: LocalAccount): Promise<void> {
  const { publicClient } = readContext(network);
  const [eth, toma] = await Promise.all([
    publicClient.getBalance({ address: account.address }),
    publicClient.readContract({
      address: network.contracts.AtomaToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [account.address],
    }),
  ]);
  if (eth === 0n && toma === 0n)
    throw new DevAccountError(
      "dev_account_unfunded",
      `${account.address} holds no ETH and no TOMA on this chain: fund it to buy a stack`,
    );
}
