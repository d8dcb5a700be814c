import type { ChainContext } from "./context.js";

/** The latest block's number and timestamp: the chain's clock, which deadlines and windows are judged by. */
export async function latestBlock(
  ctx: Pick<ChainContext, "publicClient">,
): Promise<{ number: bigint; timestamp: bigint }> {
  const block = await ctx.publicClient.getBlock({ blockTag: "latest" });
  return { number: block.number, timestamp: block.timestamp };
}
