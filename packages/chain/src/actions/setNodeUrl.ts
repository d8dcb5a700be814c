import { nodeRegistryAbi } from "@atoma/contracts";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/** The operator moves its node to a new public URL. */
export async function setNodeUrl(
  ctx: ChainContext,
  params: { nodeId: bigint; url: string },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "setUrl",
    args: [params.nodeId, params.url],
  });
  return txInfo(receipt);
}
