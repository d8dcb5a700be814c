import { StackClient } from "@atoma/sdk";
import type { LocalAccount } from "viem";
import type { AtomaNode } from "../../src/service/createNode.js";
import type { RegisteredNode, StackNetwork } from "./stackNetwork.js";

/** The owner's SDK client for a stack its node serves. */
export function stackClientFor(
  network: StackNetwork,
  server: RegisteredNode,
  node: AtomaNode,
  owner: LocalAccount,
  stackId: bigint,
): StackClient {
  return new StackClient({
    nodeUrl: node.url,
    account: owner,
    stackId,
    chainId: network.anvil.chainId,
    stackManager: network.addresses.StackManager,
    nodeSigner: server.signerAccount.address,
    nodeId: server.nodeId,
  });
}
