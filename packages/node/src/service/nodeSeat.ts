import {
  type AtomaAddresses,
  type ChainContext,
  chainFor,
  latestBlock,
  NodeNotRegisteredError,
  nodeIdOfSigner,
} from "@atoma/chain";
import { type Chain, createWalletClient, getAddress, http, type LocalAccount } from "viem";
import type { NodeConfig } from "../config/loadConfig.js";
import type { NodeChainClient } from "./chainClient.js";
import { chainWithFeeCaps } from "./feeCaps.js";

/**
 * The node's one seat on the chain, handed to every part: the clients all its reads and transactions go through
 * (sending from the node's key), the deployment, and who this node is there. It is the context `@atoma/chain`'s
 * actions take.
 */
export interface NodeSeat extends ChainContext {
  readonly chainId: number;
  /**
   * The contracts `chain.contracts` names, and only those: a part checks that the ones it needs are there
   * (`missingContracts`) before it uses them.
   */
  readonly addresses: AtomaAddresses;
  /**
   * This node's id in the NodeRegistry, by its signing address: read at start; undefined while the node is not
   * registered (or no NodeRegistry is configured), and then read again at the next ask, so a node registered
   * after it started is found.
   */
  nodeId(): Promise<bigint | undefined>;
  /** This node's id; `NodeNotRegisteredError` while it has none. */
  registeredNodeId(): Promise<bigint>;
  /** The chain's clock, the latest block's timestamp: deadlines are in block time, which dev chains move at will. */
  now(): Promise<bigint>;
  /**
   * The same seat sending within `settlement.maxFeePerGas` and `settlement.maxPriorityFeePerGas`: the settlement
   * worker's transactions, which can wait for cheaper gas. Attestation commitments and openings, committee votes
   * and consensus seals and reveals go out uncapped: each has a deadline, and missing one is slashed.
   */
  readonly feeCapped: NodeSeat;
}

/** The contracts of `names` that `chain.contracts` does not name. */
export function missingContracts(
  seat: Pick<NodeSeat, "addresses">,
  names: readonly (keyof AtomaAddresses)[],
): (keyof AtomaAddresses)[] {
  const configured: Partial<AtomaAddresses> = seat.addresses;
  return names.filter((name) => configured[name] === undefined);
}

/** Opens the node's seat and reads its node id (when `chain.contracts` names a NodeRegistry). */
export async function openNodeSeat(
  config: NodeConfig,
  account: LocalAccount,
  publicClient: NodeChainClient,
): Promise<NodeSeat> {
  const { rpcUrl, chainId, pollingIntervalMs } = config.chain;
  const walletFor = (chain: Chain) =>
    createWalletClient({
      account,
      chain,
      transport: http(rpcUrl),
      pollingInterval: Math.min(pollingIntervalMs, 1_000),
      cacheTime: 0,
    });
  const chain = chainFor(chainId, rpcUrl);
  const walletClient = walletFor(chain);
  const cappedChain = chainWithFeeCaps(chain, config.settlement);
  const addresses = Object.fromEntries(
    Object.entries(config.chain.contracts).map(([name, address]) => [name, getAddress(address)]),
  ) as unknown as AtomaAddresses;
  let known: bigint | undefined;
  const seat: Omit<NodeSeat, "feeCapped"> & { feeCapped?: NodeSeat } = {
    publicClient,
    walletClient,
    addresses,
    chainId,
    async nodeId() {
      if (known !== undefined || addresses.NodeRegistry === undefined) return known;
      const read = await nodeIdOfSigner(seat, account.address);
      if (read !== 0n) known = read;
      return known;
    },
    async registeredNodeId() {
      const nodeId = await seat.nodeId();
      if (nodeId === undefined) throw new NodeNotRegisteredError(account.address);
      return nodeId;
    },
    async now() {
      return (await latestBlock(seat)).timestamp;
    },
  };
  const opened = seat as NodeSeat;
  if (cappedChain === chain) seat.feeCapped = opened;
  else {
    const capped = { ...opened, walletClient: walletFor(cappedChain) };
    capped.feeCapped = capped;
    seat.feeCapped = capped;
  }
  await seat.nodeId();
  return opened;
}
