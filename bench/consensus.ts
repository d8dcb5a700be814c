// Smart-contract requests end to end: seven in-process nodes on anvil, ask → output delivered, with and without a dispute.
import { ConsensusRequestStatus, submitConsensusRequest } from "@atoma/chain";
import { consensusRequestsAbi } from "@atoma/contracts";
import {
  CLUSTER_ECHELON,
  CLUSTER_MAX_UNITS,
  CLUSTER_PRICE,
  startConsensusCluster,
  waitFor,
} from "@atoma/node/devnet";
import { stringToHex } from "viem";
import { percentile, report } from "./lib/report.js";

const ROUNDS = Number(process.argv[2] ?? 5);

const startedAt = performance.now();
const cluster = await startConsensusCluster();
report("consensus_cluster_start_ms", performance.now() - startedAt, "ms");
try {
  const requester = await cluster.network.account();
  const ask = async (taskId: bigint, prompt: string) => {
    const started = performance.now();
    const { requestId } = await submitConsensusRequest(requester.ctx, {
      taskId,
      prompt: stringToHex(prompt),
      n: 3,
      maxUnits: CLUSTER_MAX_UNITS,
      maxPricePerMillion: CLUSTER_PRICE,
      echelon: CLUSTER_ECHELON,
      callbackGas: 0,
    });
    let mined = false;
    await waitFor("delivery", async () => {
      const request = await cluster.network.admin.publicClient.readContract({
        address: cluster.network.deployment.addresses.ConsensusRequests,
        abi: consensusRequestsAbi,
        functionName: "getRequest",
        args: [requestId],
      });
      // The dispute's committee is drawn in a block after the one that opened it; anvil mines only on
      // transactions, so one is mined here, as a chain would.
      if (request.status === ConsensusRequestStatus.Disputed && !mined) {
        mined = true;
        await cluster.network.advance(1);
      }
      return request.status === ConsensusRequestStatus.Delivered ? true : undefined;
    });
    return performance.now() - started;
  };
  const agreed: number[] = [];
  for (let i = 0; i < ROUNDS; i++) agreed.push(await ask(cluster.honestTask, `Question number ${i}?`));
  report("consensus_n3_ask_to_delivered_p50_ms", percentile(agreed, 50), "ms");
  report("consensus_n3_ask_to_delivered_max_ms", Math.max(...agreed), "ms");
  // Once: the cheater is slashed and unsubscribed by its first dispute.
  report("consensus_n3_dispute_to_delivered_ms", await ask(cluster.cheatTask, "Disputed?"), "ms");
} finally {
  await cluster.stop();
}
