import type { ChainContext } from "@atoma/chain";
import type { LocalAccount } from "viem";
import type { OpenedDatabase } from "../../src/db/openGatewayDatabase.js";
import type { CatalogModel } from "../../src/network/catalog.js";
import {
  NetworkUpstream,
  type NetworkUpstreamComponents,
  type NetworkUpstreamOptions,
} from "../../src/network/networkUpstream.js";
import { StackPool } from "../../src/network/stackPool.js";
import { NodeHealthBook } from "../../src/routing/nodeHealthBook.js";
import { oneTaskModel } from "./oneTaskModel.js";

export const RIG_CHAIN_ID = 31_337;
export const RIG_STACK_MANAGER = `0x${"5a".repeat(20)}` as const;

/**
 * A `NetworkUpstream` over `nodes` (node ids 1, 2, … at `url`, signing with `signer`, at `price`), each with one
 * stack of `units` already bought (node 1's leased first), on a database emptied of stacks and receipts first.
 */
export async function upstreamRig(
  opened: OpenedDatabase,
  gateway: LocalAccount,
  nodes: { url: string; signer: LocalAccount; price: bigint }[],
  options: NetworkUpstreamOptions,
  units = 100_000n,
  /**
   * Further parts of the upstream (its sealed charges, a listener of node errors, its health book: a fresh one by
   * default), and the pool's ceiling price (`maxPricePerMillion`, by default the dearest node's).
   */
  {
    maxPricePerMillion,
    health = new NodeHealthBook(),
    ...extra
  }: Pick<NetworkUpstreamComponents, "sealedCharges" | "onNodeError" | "freedLeaves"> & {
    maxPricePerMillion?: bigint;
    health?: NodeHealthBook;
  } = {},
): Promise<{ upstream: NetworkUpstream; health: NodeHealthBook; model: CatalogModel; pool: StackPool }> {
  const model = oneTaskModel(
    nodes.map((node, i) => ({
      nodeId: BigInt(i + 1),
      url: node.url,
      signer: node.signer.address,
      pricePerMillion: node.price,
    })),
  );
  // biome-ignore lint/complexity/useMathMinMax: bigints
  const dearest = nodes.reduce((max, node) => (node.price > max ? node.price : max), 1n);
  const pool = new StackPool(
    { db: opened.db, chain: {} as ChainContext },
    {
      maxPricePerMillion: maxPricePerMillion ?? dearest,
      unitsPerStack: units,
      maxStacksPerModel: nodes.length,
      waitMs: 200,
    },
  );
  const upstream = new NetworkUpstream(
    {
      catalog: {
        models: () => [model],
        model: (name: string) => (name === "tiny" ? model : undefined),
        allowsPrivateNodeUrls: true,
      },
      pool,
      account: gateway,
      chainId: RIG_CHAIN_ID,
      stackManager: RIG_STACK_MANAGER,
      health,
      ...extra,
    },
    options,
  );
  await opened.db.deleteFrom("receipts").execute();
  await opened.db.deleteFrom("signed_requests").execute();
  await opened.db.deleteFrom("stacks").execute();
  const nowS = BigInt(Math.floor(Date.now() / 1000));
  for (const [i, node] of nodes.entries())
    await opened.db
      .insertInto("stacks")
      .values({
        stack_id: BigInt(i + 1),
        model: model.modelId,
        task_id: 1n,
        node_id: BigInt(i + 1),
        node_url: node.url,
        node_signer: node.signer.address,
        units,
        price_per_million: node.price,
        expires_at: nowS + 3_600n,
        created_at_ms: Date.now(),
        last_used_ms: i,
      })
      .execute();
  return { upstream, health, model, pool };
}
