import type { ChainContext } from "@atoma/chain/portable";

/** The hash of the chain's block 0, which tells apart two chains of one id (a dev chain started again). */
export async function genesisHash(ctx: Pick<ChainContext, "publicClient">): Promise<string> {
  const block = await ctx.publicClient.getBlock({ blockNumber: 0n });
  if (block.hash === null) throw new Error("the RPC gave block 0 with no hash");
  return block.hash;
}
