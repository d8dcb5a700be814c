import { submitConsensusRequest } from "@atoma/chain";
import { consensusRequestsAbi } from "@atoma/contracts";
import type { Hex } from "viem";
import { expect } from "vitest";
import {
  type ConsensusCluster,
  CLUSTER_ECHELON as ECHELON,
  CLUSTER_MAX_UNITS as MAX_UNITS,
  CLUSTER_PRICE as PRICE,
  waitFor,
} from "../../src/devnet/index.js";

const DISPUTED = 4;

/** A three-seat consensus request on the cluster's cheat task, with the cheater seated, once its dispute is open. */
export async function disputedCheatRequest(cluster: ConsensusCluster, prompt: Hex) {
  const { network, cheater } = cluster;
  const { publicClient } = network.admin;
  const { requestId, seats } = await submitConsensusRequest((await network.account()).ctx, {
    taskId: cluster.cheatTask,
    prompt,
    n: 3,
    maxUnits: MAX_UNITS,
    maxPricePerMillion: PRICE,
    echelon: ECHELON,
    callbackGas: 0,
  });
  expect(seats!.nodeIds).toContain(cheater.nodeId);
  const request = () =>
    publicClient.readContract({
      address: network.deployment.addresses.ConsensusRequests,
      abi: consensusRequestsAbi,
      functionName: "getRequest",
      args: [requestId],
    });
  await waitFor("the dispute", async () => ((await request()).status >= DISPUTED ? true : undefined));
  const [disputed] = await publicClient.getContractEvents({
    address: network.deployment.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    eventName: "ConsensusDisputed",
    args: { requestId },
    fromBlock: 0n,
    strict: true,
  });
  return { requestId, request, disputeId: disputed!.args.disputeId };
}
