import { atomaTokenAbi } from "@atoma/contracts";
import { createWalletClient, custom, type EIP1193RequestFn, http, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChainContext } from "../src/actions/context.js";
import { execute } from "../src/actions/execute.js";
import { createAtomaWalletClient } from "../src/clients.js";
import { startNetwork, type TestNetwork } from "./network.js";

/** The recipient's TOMA balance. */
const tokensOf = (ctx: ChainContext, account: `0x${string}`) =>
  ctx.publicClient.readContract({
    address: ctx.addresses.AtomaToken,
    abi: atomaTokenAbi,
    functionName: "balanceOf",
    args: [account],
  });

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
    expect(await tokensOf(ctx, recipient)).toBe(parseEther("8"));
  }, 120_000);

  it("sends again with a fresh nonce when another process took its nonce first, and acts once", async () => {
    const { account, ctx } = await network.account(parseEther("100"));
    const options = { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId };
    const upstream = http(options.rpcUrl)({ chain: ctx.walletClient.chain });
    // Another process holding the same key (an operator's CLI beside its node): its transfer lands between this
    // client's nonce read and its broadcast, taking that nonce.
    const otherProcess = createAtomaWalletClient(options, account);
    const recipient = privateKeyToAccount(`0x${"22".repeat(32)}`).address;
    let raced = 0;
    const request = (async (args: { method: string; params?: unknown }) => {
      if (args.method === "eth_sendRawTransaction" && raced === 0) {
        raced += 1;
        const nonce = await ctx.publicClient.getTransactionCount({
          address: account.address,
          blockTag: "pending",
        });
        await otherProcess.sendTransaction({ to: recipient, value: 1n, nonce, chain: otherProcess.chain });
      }
      return upstream.request(args as never);
    }) as EIP1193RequestFn;
    const racing: ChainContext = {
      ...ctx,
      walletClient: createWalletClient({
        account,
        chain: ctx.walletClient.chain,
        transport: custom({ request }),
      }),
    };
    const receipt = await execute(racing, {
      address: ctx.addresses.AtomaToken,
      abi: atomaTokenAbi,
      functionName: "transfer",
      args: [recipient, parseEther("1")],
    });
    expect(raced).toBe(1);
    expect(receipt.status).toBe("success");
    expect(await tokensOf(ctx, recipient)).toBe(parseEther("1"));
  }, 120_000);

  it("sends again when another process's transaction with its nonce still waits in the pool, and acts once", async () => {
    const { account, ctx } = await network.account(parseEther("100"));
    const options = { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId };
    const upstream = http(options.rpcUrl)({ chain: ctx.walletClient.chain });
    const otherProcess = createAtomaWalletClient(options, account);
    const recipient = privateKeyToAccount(`0x${"33".repeat(32)}`).address;
    let refused = "";
    const request = (async (args: { method: string; params?: unknown }) => {
      if (args.method !== "eth_sendRawTransaction" || refused !== "") return upstream.request(args as never);
      // The other process's transfer takes the nonce and waits in the pool for its block (a loaded chain), so
      // this broadcast, at the same fees, is refused as an underpriced replacement rather than as a stale nonce.
      await upstream.request({ method: "evm_setAutomine", params: [false] } as never);
      const nonce = await ctx.publicClient.getTransactionCount({
        address: account.address,
        blockTag: "pending",
      });
      await otherProcess.sendTransaction({ to: recipient, value: 1n, nonce, chain: otherProcess.chain });
      try {
        return await upstream.request(args as never);
      } catch (error) {
        refused = error instanceof Error ? error.message : String(error);
        throw error;
      } finally {
        await upstream.request({ method: "evm_setAutomine", params: [true] } as never);
        await upstream.request({ method: "evm_mine", params: [] } as never);
      }
    }) as EIP1193RequestFn;
    const racing: ChainContext = {
      ...ctx,
      walletClient: createWalletClient({
        account,
        chain: ctx.walletClient.chain,
        transport: custom({ request }),
      }),
    };
    const receipt = await execute(racing, {
      address: ctx.addresses.AtomaToken,
      abi: atomaTokenAbi,
      functionName: "transfer",
      args: [recipient, parseEther("1")],
    });
    expect(refused).toMatch(/replacement transaction underpriced/i);
    expect(receipt.status).toBe("success");
    expect(await tokensOf(ctx, recipient)).toBe(parseEther("1"));
  }, 120_000);
});
