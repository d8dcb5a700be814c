import { atomaDomain } from "@atoma/core";
import type { Address, TypedDataDomain } from "viem";
import { type DevFunding, devFunding } from "./devFunding.js";
import type { DevnetBase } from "./devnetBase.js";
import { type DevRegistry, devRegistry } from "./devRegistry.js";

/** A local chain with the whole system deployed, and helpers to populate and drive it. */
export interface Devnet extends DevnetBase, DevFunding, DevRegistry {
  /** The deployed addresses as a node's configuration takes them (`chain.contracts`). */
  nodeContracts: Record<string, Address>;
  /** The EIP-712 domain of stack requests and responses on this deployment. */
  domain: TypedDataDomain;
  /** Moves the chain's clock and mines a block. */
  advance(seconds: bigint | number): Promise<void>;
  /** Moves the chain into the next epoch, where nodes registered in this one become eligible. */
  nextEpoch(): Promise<void>;
  /** The latest block's timestamp. */
  now(): Promise<bigint>;
  /** Stops anvil (writing its state when it keeps one). */
  stop(): Promise<void>;
}

export function devnetOver(base: DevnetBase): Devnet {
  const { anvil, testClient, publicClient, deployment } = base;
  const funding = devFunding(base);
  const advance = async (seconds: bigint | number) => {
    await testClient.increaseTime({ seconds: Number(seconds) });
    await testClient.mine({ blocks: 1 });
  };
  return {
    ...base,
    ...funding,
    ...devRegistry(base, funding),
    nodeContracts: Object.fromEntries(
      Object.entries(deployment.addresses).filter(
        (entry): entry is [string, Address] => entry[1] !== undefined,
      ),
    ),
    domain: atomaDomain(anvil.chainId, deployment.addresses.StackManager),
    advance,
    nextEpoch: async () => advance(await deployment.contracts.nodeRegistry.read.EPOCH_LENGTH()),
    now: async () => (await publicClient.getBlock()).timestamp,
    stop: () => anvil.stop(),
  };
}
