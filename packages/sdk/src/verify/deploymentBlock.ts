import type { AtomaPublicClient } from "@atoma/chain/portable";
import type { Address } from "viem";
import { DeploymentBlockError } from "../errors.js";

/** Checks done, by client: one check of a (registry, block) per client, whatever the number of lookups. */
const checked = new WeakMap<object, Map<string, Promise<bigint>>>();

/**
 * The error that `deploymentBlock` (from a network file) is not the deployment of `registry`, or undefined when it is:
 * the TaskRegistry has no code at the block before it (else its logs before the block are missed) and has code at the
 * head (review F9); where the old block's state cannot be read, only the head is checked. A block before the deployment is only slower to read from, so not an error. Block 0 needs no check.
 */
export async function deploymentBlockError(
  publicClient: AtomaPublicClient,
  registry: Address,
  deploymentBlock: bigint,
): Promise<DeploymentBlockError | undefined> {
  if (deploymentBlock === 0n) return undefined;
  const codeAt = async (blockNumber: bigint | undefined) => {
    const code = await publicClient.getCode(
      blockNumber === undefined ? { address: registry } : { address: registry, blockNumber },
    );
    return code !== undefined && code !== "0x";
  };
  // A node without the old block's state (a pruned, non-archive RPC; anvil started from a saved state) cannot say
  // what was there: the block is then taken as given, as before the check existed, and only the head is checked.
  const [before, now] = await Promise.all([
    codeAt(deploymentBlock - 1n).catch(() => false),
    codeAt(undefined),
  ]);
  if (before) return new DeploymentBlockError(registry, deploymentBlock, "it has code the block before");
  if (!now) return new DeploymentBlockError(registry, deploymentBlock, "it has no code at the head");
  return undefined;
}

/**
 * The block to read `registry`'s logs from: `fromBlock` once `deploymentBlockError` finds nothing wrong with it,
 * else 0 (reading more blocks is slower, never wrong). Checked once per client, registry and block.
 */
export function checkedFromBlock(
  publicClient: AtomaPublicClient,
  registry: Address,
  fromBlock: bigint,
): Promise<bigint> {
  if (fromBlock === 0n) return Promise.resolve(0n);
  const byKey = checked.get(publicClient) ?? new Map<string, Promise<bigint>>();
  checked.set(publicClient, byKey);
  const key = `${registry.toLowerCase()}:${fromBlock}`;
  let check = byKey.get(key);
  if (check === undefined) {
    check = deploymentBlockError(publicClient, registry, fromBlock).then((wrong) => (wrong ? 0n : fromBlock));
    // A failed check (an RPC error) is not kept: the next lookup checks again.
    check.catch(() => byKey.delete(key));
    byKey.set(key, check);
  }
  return check;
}
