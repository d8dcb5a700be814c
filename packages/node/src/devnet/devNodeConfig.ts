import type { Devnet } from "@atoma/chain/devnet";
import { type NodeConfig, parseNodeConfig } from "../config/loadConfig.js";
import type { NodeConfigInput } from "../config/schema.js";

/** What a node needs of a dev network to reach it. */
export type DevnetEndpoint = Pick<Devnet, "rpc" | "nodeContracts">;

export type DevNodeConfigInput = Omit<NodeConfigInput, "chain" | "node"> & {
  chain?: Partial<NodeConfigInput["chain"]> | undefined;
  node: Partial<NodeConfigInput["node"]> & { dataDir: string };
};

/**
 * A node's configuration on a dev network: its RPC URL, chain id and every deployed contract, a 50 ms poll, a
 * free port, a one-second shutdown and a key file nobody reads (the node's account is given to `createNode`);
 * `input` sets the rest and overrides any of it. Relative paths resolve against `baseDir`.
 */
export function devNodeConfig(
  network: DevnetEndpoint,
  input: DevNodeConfigInput,
  baseDir: string = input.node.dataDir,
): NodeConfig {
  return parseNodeConfig(
    {
      ...input,
      chain: {
        rpcUrl: network.rpc.rpcUrl,
        chainId: network.rpc.chainId,
        contracts: network.nodeContracts,
        pollingIntervalMs: 50,
        ...input.chain,
      },
      node: { keyFile: "unused.key", port: 0, shutdownTimeoutMs: 1_000, ...input.node },
    },
    baseDir,
  );
}
