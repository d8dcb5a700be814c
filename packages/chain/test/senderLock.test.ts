import { atomaTokenAbi } from "@atoma/contracts";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChainContext } from "../src/actions/context.js";
import { execute } from "../src/actions/execute.js";
import { createAtomaWalletClient } from "../src/clients.js";
import { startNetwork, type TestNetwork } from "./network.js";

describe("one key, several senders", () => {
  let network: TestNetwork;
  beforeAll(async () => {
    network = await startNetwork();
  }, 120_000);
  afterAll(() => network?.stop());

  it("sends concurrent transactions from separate wallet clients of one key without a nonce clash", async () => {
    const { account, ctx } = await network.account(parseEther("100"));
    const options = { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId };
    // Each part of a node makes its own wallet client over the node's one key, as the workers do.
    const senders: ChainContext[] = Array.from({ length: 8 }, () => ({
      ...ctx,
      walletClient: createAtomaWalletClient(options, account),
    }));
    const recipient = privateKeyToAccount(`0x${"11".repeat(32)}`).address;
    const receipts = await Promise.all(
      senders.map((sender) =>
        execute(sender, {
          address: ctx.addresses.AtomaToken,
          abi: atomaTokenAbi,
          functionName: "transfer",
          args: [recipient, parseEther("1")],
        }),
      ),
    );
    expect(receipts.every((receipt) => receipt.status === "success")).toBe(true);
    const balance = await ctx.publicClient.readContract({
      address: ctx.addresses.AtomaToken,
      abi: atomaTokenAbi,
      functionName: "balanceOf",
      args: [recipient],
    });
    expect(balance).toBe(parseEther("8"));
  }, 120_000);
});
