import { atomaTokenAbi } from "@atoma/contracts";
import type { Address } from "viem";
import { type ChainContext, sender } from "./context.js";
import { execute } from "./execute.js";

/** Approves `spender` for at least `amount` TOMA from the context's account, when the allowance falls short. */
export async function ensureAllowance(ctx: ChainContext, spender: Address, amount: bigint): Promise<void> {
  const allowance = await ctx.publicClient.readContract({
    address: ctx.addresses.AtomaToken,
    abi: atomaTokenAbi,
    functionName: "allowance",
    args: [sender(ctx), spender],
  });
  if (allowance >= amount) return;
  await execute(ctx, {
    address: ctx.addresses.AtomaToken,
    abi: atomaTokenAbi,
    functionName: "approve",
    args: [spender, amount],
  });
}
