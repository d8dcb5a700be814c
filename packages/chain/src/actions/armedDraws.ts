import { settlementDrawAbi, stackManagerAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

type ReadContext<Name extends keyof AtomaAddresses> = Pick<ChainContext, "publicClient"> & {
  addresses: Pick<AtomaAddresses, Name>;
};

/** The blocks a log search covers, both included. */
export interface BlockRange {
  fromBlock: bigint;
  toBlock: bigint;
}

/**
 * A settlement's attester draw: the block its candidates were frozen in, the block it was armed on (0 when none is
 * armed), its round and the attesters it wants.
 */
export function readArmedAttesterDraw(ctx: ReadContext<"SettlementDraw">, stackId: bigint) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    functionName: "armedOf",
    args: [stackId],
  });
}

/** The node draws purchases armed in `range` (`StackRequested`), as logged: stack, armed block, candidates. */
export async function findArmedNodeDraws(ctx: ReadContext<"StackManager">, range: BlockRange) {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    eventName: "StackRequested",
    fromBlock: range.fromBlock,
    toBlock: range.toBlock,
  });
  return logs.map((log) => log.args);
}

/** The attester draws armed in `range` (`AttesterDrawArmed`), as logged: stack, armed block, round, count. */
export async function findArmedAttesterDraws(ctx: ReadContext<"SettlementDraw">, range: BlockRange) {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.SettlementDraw,
    abi: settlementDrawAbi,
    eventName: "AttesterDrawArmed",
    fromBlock: range.fromBlock,
    toBlock: range.toBlock,
  });
  return logs.map((log) => log.args);
}
