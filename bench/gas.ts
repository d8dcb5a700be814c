// Gas of every contract entry point, and settlement gas per request for a stack of 1,000 requests at the default p.
import {
  answerChallenge,
  buyStackFromNode,
  challengeSettlement,
  chooseFromSet,
  claimEmission,
  claimNodeFees,
  claimOwnerFees,
  closeConsensusRound,
  closeStack,
  commitAttestation,
  commitDisputeVote,
  completeExit,
  createTask,
  declareTranscriptUnavailable,
  deliverConsensusResult,
  deregisterNode,
  devParameters,
  drawAttesters,
  drawCommittee,
  drawConsensusSeats,
  drawNode,
  failVerification,
  finalizeSettlement,
  getSubscription,
  NodeStatus,
  offeredNodes,
  openAttestation,
  postDisputeEvidence,
  postSampledRequests,
  reportWeightsMismatch,
  requestStack,
  requestStackFromSet,
  resolveDispute,
  revealConsensusResult,
  revealDisputeVote,
  revealSettlement,
  SecurityLevel,
  sealConsensusResult,
  sendPurchase,
  settlementBallotOf,
  showDisputeVote,
  stackRequestOf,
  submitConsensusRequest,
  submitSettlement,
  submitSettlements,
  type TxInfo,
  timeoutAttesters,
  timeoutSettlement,
  topUpCollateral,
  unsubscribe,
  updateSubscription,
  withdrawBalance,
  withdrawCollateral,
} from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, startDevnet } from "@atoma/chain/devnet";
import {
  canonicalJson,
  type Hash,
  leafHash,
  requestHash,
  type SignedResponseFields,
  type StackLeaf,
  StackTree,
  signRequest,
  signResponse,
} from "@atoma/core";
import { keccak256, parseEther, stringToBytes, stringToHex } from "viem";
import { report } from "./lib/report.js";

const REQUESTS = 1_000;
const PRICE = DEV_PRICE_PER_MILLION;
const gas = new Map<string, bigint>();
const record = <T extends TxInfo>(name: string, tx: T): T => {
  if (!gas.has(name)) gas.set(name, tx.gasUsed);
  return tx;
};

// The same dev parameters, with the replication floor lowered so one task can show the unsampled path.
const network = await startDevnet({
  parameters: { task: { minReplicationPpm: 1 } },
  echelons: [1, 9].map((echelon) => ({
    echelon,
    fingerprint: keccak256(stringToBytes(`bench ${echelon}`)),
  })),
});
try {
  const { admin, advance, account, domain } = network;
  const { contracts } = network.deployment;
  const owner = await account();
  const { modelId, registration } = await network.registerModel({ name: "atoma-tiny", owner: owner.ctx });
  record("gas_ModelRegistry_registerModel", registration);

  const nodes: DevNode[] = [];
  for (let i = 0; i < 10; i++) {
    const node = await network.addNode();
    record("gas_NodeRegistry_register", node.registration);
    nodes.push(node);
  }
  const byId = (id: bigint) => nodes.find((n) => n.nodeId === id)!;
  const task = async (
    securityLevel: number,
    replicationPpm = 0,
    attesters = 0,
    sampleSize = 0,
    subscribers = nodes,
  ) => {
    const { taskId } = record(
      "gas_TaskRegistry_createTask",
      await createTask(admin, {
        modelId,
        role: 0,
        securityLevel,
        replicationPpm,
        attesters,
        sampleSize,
      }),
    );
    for (const node of subscribers)
      record("gas_TaskRegistry_subscribe", await network.subscribe(node, taskId));
    return taskId;
  };
  // Default p from the dev task (8,000 ppm); `rare` takes the same code path but is (almost) never sampled.
  const defaultPpm = 8_000;
  const rare = await task(SecurityLevel.CrossValidation, 1, 1, 4);
  const always = await task(SecurityLevel.CrossValidation, 1_000_000, 1, 4);
  const consensusTask = await task(SecurityLevel.Consensus);
  await advance(Number(devParameters.epochLength));
  const user = await account(parseEther("1000000"));

  /** Answer k of a stack: a result whose usage carries its 100 units, as a committee member shows it. */
  const answerOf = (stackId: bigint, k: number) =>
    stringToHex(
      canonicalJson({ answer: `answer ${stackId} ${k}`, usage: { prompt_tokens: 100, total_tokens: 100 } }),
    );
  const serve = async (stackId: bigint, node: DevNode, count: number) => {
    const reqHashes: Hash[] = [];
    const respHashes: Hash[] = [];
    const bodies: unknown[] = [];
    for (let k = 0; k < count; k++) {
      const body = { model: "atoma-tiny", messages: [{ role: "user", content: `q${k}` }], seed: k };
      bodies.push(body);
      reqHashes.push(requestHash(body));
      respHashes.push(keccak256(answerOf(stackId, k)));
    }
    const leaves: StackLeaf[] = reqHashes.map((reqHash, k) => ({
      leafIndex: BigInt(k),
      nonce: BigInt(k),
      reqHash,
      respHash: respHashes[k]!,
      units: 100n,
      cumulativeUnits: 100n * BigInt(k + 1),
    }));
    const tree = new StackTree(leaves.map(leafHash));
    /** What attesters commit to at `indices`, and the server's reveal of them. */
    const sample = (indices: readonly number[]) => ({
      respHashes: indices.map((k) => respHashes[k]!),
      units: indices.map((k) => leaves[k]!.units),
    });
    const revealOf = (stackId: bigint, indices: readonly number[]) => ({
      stackId,
      sampled: indices.map((k) => leaves[k]!),
      proofs: indices.map((k) => tree.proof(k)),
      last: leaves.at(-1)!,
      lastProof: tree.proof(leaves.length - 1),
    });
    const signedRequest = async (k: number) => ({
      body: stringToHex(canonicalJson(bodies[k])),
      nonce: BigInt(k),
      deadline: 2_000_000_000n,
      maxUnits: 1_000_000n,
      signature: await signRequest(user.account, domain, {
        stackId,
        reqHash: reqHashes[k]!,
        nonce: BigInt(k),
        deadline: 2_000_000_000n,
        maxUnits: 1_000_000n,
      }),
    });
    const signedResponse = async (k: number, cumulativeUnits: bigint) => {
      const fields: SignedResponseFields = {
        stackId,
        leafIndex: BigInt(k),
        nonce: BigInt(k),
        reqHash: reqHashes[k]!,
        respHash: respHashes[k]!,
        units: 100n,
        cumulativeUnits,
        seed: 0n,
      };
      return { fields, signature: await signResponse(node.signerAccount, domain, fields) };
    };
    return { reqHashes, respHashes, tree, sample, revealOf, signedRequest, signedResponse };
  };
  const buy = async (taskId: bigint) => {
    const request = record(
      "gas_StackManager_buyStackAmong",
      await requestStack(user.ctx, {
        taskId,
        units: 1_000_000n,
        maxPricePerMillion: PRICE,
        duration: 86_400n,
      }),
    );
    const drawn = record("gas_StackManager_drawListed", await drawNode(user.ctx, request));
    if (drawn.outcome !== "drawn") throw new Error(`the node draw ended ${drawn.outcome}`);
    return { stackId: request.stackId, node: byId(drawn.nodeId) };
  };
  const settle = async (
    stackId: bigint,
    node: DevNode,
    served: Awaited<ReturnType<typeof serve>>,
    units = 100_000n,
  ) => {
    const settled = await submitSettlement(
      node.signer,
      {
        stackId,
        root: served.tree.root,
        units,
        requestCount: BigInt(served.reqHashes.length),
        transcriptId: `0x${"ab".repeat(32)}`,
      },
      { draw: false },
    );
    record("gas_SettlementManager_settle", settled);
    if (settled.outcome !== "drawPending") return settled;
    const drawn = record("gas_SettlementDraw_drawAttesters", await drawAttesters(node.signer, { stackId }));
    if (drawn.outcome === "sampled") return { ...settled, sampled: true as const, ...drawn };
    return { ...settled, sampled: false as const, outcome: "accepted" as const, windowEnds: 0n };
  };

  // The common case: a stack of 1,000 requests, settled without sampling, finalized, paid out and claimed.
  const common = await buy(rare);
  // The three ways to pick the node, on the same task and terms as that purchase (and after it, so none pays for
  // the first purchase's cold storage): drawn again, a node the buyer names (one transaction), and a set of three
  // drawn a block later, then bound by its owner to one member.
  const terms = { taskId: rare, units: 1_000_000n, maxPricePerMillion: PRICE, duration: 86_400n };
  const drawnAgain = await requestStack(user.ctx, terms);
  const drawnAgainNode = await drawNode(user.ctx, drawnAgain);
  // The same drawn purchase the way it was made before the listed purchase: `buyStack` walks every subscriber to
  // freeze the candidates (the figure before, measured in the same run).
  const walkedArgs = [terms.taskId, terms.units, terms.maxPricePerMillion, terms.duration];
  const walked = record(
    "gas_StackManager_buyStack",
    stackRequestOf(await sendPurchase(user.ctx, terms, "buyStack", walkedArgs)),
  );
  const walkedNode = record("gas_StackManager_drawNode", await drawNode(user.ctx, walked));
  if (drawnAgainNode.outcome !== "drawn" || walkedNode.outcome !== "drawn")
    throw new Error("a drawn purchase failed");
  const [named] = await offeredNodes(user.ctx, terms);
  const fromNode = record(
    "gas_StackManager_buyStackFromNode",
    await buyStackFromNode(user.ctx, { ...terms, nodeId: named!.nodeId }),
  );
  const setRequest = record(
    "gas_StackManager_buyStackFromSet",
    await requestStackFromSet(user.ctx, { ...terms, setSize: 3 }),
  );
  const setDrawn = record(
    "gas_StackManager_drawSet",
    await drawNode(user.ctx, { stackId: setRequest.stackId, candidates: setRequest.candidates, setSize: 3 }),
  );
  if (setDrawn.outcome !== "setDrawn") throw new Error(`the set draw ended ${setDrawn.outcome}`);
  const chosen = record(
    "gas_StackManager_chooseFromSet",
    await chooseFromSet(user.ctx, {
      stackId: setRequest.stackId,
      nodeId: setDrawn.set[0]!.nodeId,
      set: setDrawn.set,
    }),
  );
  const purchases = {
    drawn_node: drawnAgain.gasUsed + drawnAgainNode.gasUsed,
    drawn_node_walked: walked.gasUsed + walkedNode.gasUsed,
    set_of_3: setRequest.gasUsed + setDrawn.gasUsed + chosen.gasUsed,
    named_node: fromNode.gasUsed,
  };
  const servedCommon = await serve(common.stackId, common.node, REQUESTS);
  const settledCommon = await settle(common.stackId, common.node, servedCommon);
  if (settledCommon.sampled) throw new Error("the rare task was sampled; run the benchmark again");
  await advance(Number(devParameters.settlement.disputeWindow) + 1);
  const finalizedCommon = record(
    "gas_SettlementManager_finalize",
    await finalizeSettlement(user.ctx, { stackIds: [common.stackId] }),
  );
  const epoch = await contracts.nodeRegistry.read.currentEpoch();

  // The sampled case at p = 1: settle with sampling, one attester commits (salted), the server reveals, the
  // attester opens its commitment (which accepts), finalize.
  const sampledStack = await buy(always);
  const servedSampled = await serve(sampledStack.stackId, sampledStack.node, REQUESTS);
  const settledSampled = await settle(sampledStack.stackId, sampledStack.node, servedSampled);
  if (!settledSampled.sampled) throw new Error("p = 1 must sample");
  const indices = settledSampled.requestIndices.map(Number);
  const attester = byId(settledSampled.attesters[0]!);
  const attesterSalt = keccak256(stringToBytes("bench attestation salt"));
  const committed = record(
    "gas_SettlementManager_commitAttestation",
    await commitAttestation(attester.signer, {
      stackId: sampledStack.stackId,
      nodeId: attester.nodeId,
      sample: servedSampled.sample(indices),
      salt: attesterSalt,
    }),
  );
  const revealed = record(
    "gas_SettlementManager_reveal",
    await revealSettlement(sampledStack.node.signer, servedSampled.revealOf(sampledStack.stackId, indices)),
  );
  const openedSampled = record(
    "gas_SettlementManager_openAttestation",
    await openAttestation(attester.signer, {
      stackId: sampledStack.stackId,
      nodeId: attester.nodeId,
      result: committed.result,
      salt: attesterSalt,
    }),
  );
  if (openedSampled.compared?.outcome !== "accepted") throw new Error("the opening must accept");
  await advance(Number(devParameters.settlement.disputeWindow) + 1);
  const finalizedSampled = await finalizeSettlement(user.ctx, { stackIds: [sampledStack.stackId] });
  const attestationExtra =
    settledSampled.gasUsed -
    settledCommon.gasUsed +
    committed.gasUsed +
    revealed.gasUsed +
    openedSampled.gasUsed +
    finalizedSampled.gasUsed -
    finalizedCommon.gasUsed;
  report("gas_SettlementManager_settle_sampled", Number(settledSampled.gasUsed), "gas");
  report("gas_SettlementManager_finalize_sampled", Number(finalizedSampled.gasUsed), "gas");

  // A smart-contract request: its seats drawn a block later, three nodes seal then reveal, one delivers; another
  // request with a missing node.
  const requester = await account();
  const output = stringToHex("yes");
  const request = record(
    "gas_ConsensusRequests_submitRequest",
    await submitConsensusRequest(requester.ctx, {
      taskId: consensusTask,
      prompt: stringToHex("Fund proposal 7?"),
      n: 3,
      maxUnits: 1_000n,
      maxPricePerMillion: PRICE,
      echelon: 1,
      callbackGas: 0,
      draw: false,
    }),
  );
  const drawn = await drawConsensusSeats(requester.ctx, { requestId: request.requestId });
  if (drawn.outcome !== "drawn" || !drawn.tx) throw new Error(`the seat draw ended ${drawn.outcome}`);
  record("gas_ConsensusRequests_drawSeats", drawn.tx);
  const seat = (requestId: bigint, n: number, i: number) => ({
    requestId,
    index: i + 1,
    n,
    output,
    units: 50n,
    salt: keccak256(stringToHex(`salt ${i}`)),
  });
  for (const [i, id] of drawn.seats.nodeIds.entries())
    record(
      "gas_ConsensusRequests_sealResult",
      await sealConsensusResult(byId(id).signer, seat(request.requestId, 3, i)),
    );
  for (const [i, id] of drawn.seats.nodeIds.entries())
    record(
      "gas_ConsensusRequests_revealResult",
      await revealConsensusResult(byId(id).signer, seat(request.requestId, 3, i)),
    );
  record(
    "gas_ConsensusRequests_deliverResult",
    await deliverConsensusResult(requester.ctx, { requestId: request.requestId, output, units: 50n }),
  );
  const partial = await submitConsensusRequest(requester.ctx, {
    taskId: consensusTask,
    prompt: stringToHex("Say hi"),
    n: 2,
    maxUnits: 100n,
    maxPricePerMillion: PRICE,
    echelon: 1,
    callbackGas: 0,
  });
  const first = seat(partial.requestId, 2, 0);
  await sealConsensusResult(byId(partial.seats!.nodeIds[0]!).signer, first);
  await advance(Number(devParameters.consensus.commitWindow) + 1);
  await revealConsensusResult(byId(partial.seats!.nodeIds[0]!).signer, first);
  const silent = await submitConsensusRequest(requester.ctx, {
    taskId: consensusTask,
    prompt: stringToHex("Say hi again"),
    n: 2,
    maxUnits: 100n,
    maxPricePerMillion: PRICE,
    echelon: 1,
    callbackGas: 0,
  });
  // Nobody seals: the round closes without a slash and the requester is refunded.
  await advance(Number(devParameters.consensus.commitWindow) + 1);
  record(
    "gas_ConsensusRequests_closeRound",
    await closeConsensusRound(requester.ctx, { requestId: silent.requestId }),
  );

  // Ten stacks of 1,000 requests served by one node, settled and finalized in one transaction each.
  // Eligible ones only: earlier steps may have slashed some below the minimum collateral (which bars subscribing).
  const eligible = await Promise.all(nodes.map((n) => contracts.nodeRegistry.read.isEligible([n.nodeId])));
  const eligibleNodes = nodes.filter((_, i) => eligible[i]);
  const busy = eligibleNodes.at(-1)!;
  const busyTask = await task(SecurityLevel.CrossValidation, 1, 1, 4, eligibleNodes);
  // The others stay subscribed (they are the busy node's attesters) but ask more than the buyer's cap.
  for (const node of eligibleNodes) {
    if (node !== busy)
      await updateSubscription(node.signer, {
        taskId: busyTask,
        nodeId: node.nodeId,
        pricePerMillion: PRICE * 2n,
        capacity: 10n ** 12n,
      });
  }
  const inputs = [];
  for (let i = 0; i < 10; i++) {
    const s = await buy(busyTask);
    const served = await serve(s.stackId, s.node, REQUESTS);
    inputs.push({
      stackId: s.stackId,
      root: served.tree.root,
      units: 100_000n,
      requestCount: BigInt(REQUESTS),
      transcriptId: `0x${"cd".repeat(32)}` as const,
    });
  }
  const settledMany = record(
    "gas_SettlementManager_settleMany",
    await submitSettlements(busy.signer, inputs),
  );
  const batch = inputs.map((i) => i.stackId).filter((id) => !settledMany.sampled.includes(id));
  await advance(Number(devParameters.settlement.disputeWindow) + 1);
  const finalizedMany = await finalizeSettlement(user.ctx, { stackIds: batch });
  record("gas_SettlementManager_finalizeMany", finalizedMany);

  // The data-availability fallback, a timeout of an attester, and a failed verification.
  const daStack = await buy(always);
  const daServed = await serve(daStack.stackId, daStack.node, 8);
  const daSettled = await settle(daStack.stackId, daStack.node, daServed, 800n);
  if (!daSettled.sampled) throw new Error("p = 1 must sample");
  const daAttester = byId(daSettled.attesters[0]!);
  record(
    "gas_SettlementManager_declareTranscriptUnavailable",
    await declareTranscriptUnavailable(daAttester.signer, {
      stackId: daStack.stackId,
      nodeId: daAttester.nodeId,
    }),
  );
  const posted = await postSampledRequests(daStack.node.signer, {
    stackId: daStack.stackId,
    requests: await Promise.all(daSettled.requestIndices.map((k) => daServed.signedRequest(Number(k)))),
  });
  record("gas_SettlementEvidence_postSampledRequest", posted[0]!);
  await advance(Number(devParameters.settlement.dataWindow + devParameters.settlement.commitWindow) + 1);
  record(
    "gas_SettlementManager_timeoutAttesters",
    await timeoutAttesters(user.ctx, { stackId: daStack.stackId }),
  );
  const replaced = await drawAttesters(user.ctx, { stackId: daStack.stackId });
  if (replaced.outcome !== "replaced") throw new Error(`the replacement draw ended ${replaced.outcome}`);
  const replacement = byId(replaced.attesters[0]!);
  await commitAttestation(replacement.signer, {
    stackId: daStack.stackId,
    nodeId: replacement.nodeId,
    sample: daServed.sample(daSettled.requestIndices.map(Number)),
    salt: attesterSalt,
  });
  await advance(Number(devParameters.settlement.revealWindow) + 1);
  record(
    "gas_SettlementManager_failVerification",
    await failVerification(user.ctx, { stackId: daStack.stackId }),
  );

  // A dispute: the server reveals what the attester did not compute; three committee members vote.
  const disputed = await buy(always);
  const disputedServed = await serve(disputed.stackId, disputed.node, 8);
  const disputedSettled = await settle(disputed.stackId, disputed.node, disputedServed, 800n);
  if (!disputedSettled.sampled) throw new Error("p = 1 must sample");
  const dIdx = disputedSettled.requestIndices.map(Number);
  const dAttester = byId(disputedSettled.attesters[0]!);
  const dissent = await commitAttestation(dAttester.signer, {
    stackId: disputed.stackId,
    nodeId: dAttester.nodeId,
    sample: { respHashes: dIdx.map(() => keccak256(stringToBytes("other"))), units: dIdx.map(() => 100n) },
    salt: attesterSalt,
  });
  await revealSettlement(disputed.node.signer, disputedServed.revealOf(disputed.stackId, dIdx));
  const opened = await openAttestation(dAttester.signer, {
    stackId: disputed.stackId,
    nodeId: dAttester.nodeId,
    result: dissent.result,
    salt: attesterSalt,
  });
  if (opened.compared?.outcome !== "disputed") throw new Error("expected a dispute");
  report("gas_SettlementManager_openAttestation_disputed", Number(opened.gasUsed), "gas");
  const disputeId = opened.compared.disputeId;
  const [evidence] = await postDisputeEvidence(disputed.node.signer, {
    disputeId,
    requests: await Promise.all(dIdx.map((k) => disputedServed.signedRequest(k))),
    reqHashes: dIdx.map((k) => disputedServed.reqHashes[k]!),
  });
  record("gas_DisputeManager_postEvidence", evidence!);
  // The draw reads the hash of the block after its arming block: two blocks on.
  await advance(1);
  await advance(1);
  const committee = record("gas_DisputeManager_drawCommittee", await drawCommittee(user.ctx, { disputeId }));
  if (committee.outcome !== "drawn") throw new Error("expected a committee");
  const outputs = dIdx.map((k) => answerOf(disputed.stackId, k));
  const salt = `0x${"22".repeat(32)}` as const;
  const ballots = committee.committee.map((id) => ({
    id,
    ballot: settlementBallotOf(id, outputs),
  }));
  const vote = (id: bigint, ballot: (typeof ballots)[number]["ballot"]) => ({
    disputeId,
    nodeId: id,
    claim: ballot.claim,
    work: ballot.work,
    salt,
  });
  for (const { id, ballot } of ballots)
    record("gas_DisputeManager_commitVote", await commitDisputeVote(byId(id).signer, vote(id, ballot)));
  for (const { id, ballot } of ballots) {
    record("gas_DisputeManager_revealVote", await revealDisputeVote(byId(id).signer, vote(id, ballot)));
    const [shown] = await showDisputeVote(byId(id).signer, { disputeId, nodeId: id, ballot });
    record("gas_DisputeManager_substantiate", shown!);
  }
  record("gas_DisputeManager_resolve", await resolveDispute(user.ctx, { disputeId }));

  // Owner challenges: one answered with a proof, one upheld at once; a stack that times out.
  const ch = await buy(rare);
  const chServed = await serve(ch.stackId, ch.node, 8);
  await settle(ch.stackId, ch.node, chServed, 800n);
  const answerable = await chServed.signedResponse(2, 300n);
  const challenge = record(
    "gas_ChallengeManager_challenge",
    await challengeSettlement(user.ctx, {
      stackId: ch.stackId,
      response: answerable.fields,
      signature: answerable.signature,
    }),
  );
  record(
    "gas_ChallengeManager_answerChallenge",
    await answerChallenge(ch.node.signer, {
      challengeId: challenge.challengeId,
      proof: chServed.tree.proof(2),
    }),
  );
  const greedy = await buy(rare);
  const greedyServed = await serve(greedy.stackId, greedy.node, 3);
  await settle(greedy.stackId, greedy.node, greedyServed, 900n);
  const last = await greedyServed.signedResponse(2, 300n);
  report(
    "gas_ChallengeManager_challenge_upheld",
    Number(
      (
        await challengeSettlement(user.ctx, {
          stackId: greedy.stackId,
          response: last.fields,
          signature: last.signature,
        })
      ).gasUsed,
    ),
    "gas",
  );
  const late = await buy(rare);
  record("gas_StackManager_closeStack", await closeStack(user.ctx, { stackId: late.stackId }));
  await advance(Number(devParameters.stack.settleWindow) + 1);
  record(
    "gas_SettlementManager_timeoutSettlement",
    await timeoutSettlement(user.ctx, { stackId: late.stackId }),
  );

  // Claims once the epoch has ended, and the rest of the node and model life cycle.
  await advance(Number(devParameters.epochLength));
  const claimNode = record(
    "gas_AtomaVault_claimNodeFees",
    await claimNodeFees(common.node.signer, { nodeId: common.node.nodeId, epochs: [epoch] }),
  );
  const withdrawRefund = record(
    "gas_AtomaVault_withdraw",
    await withdrawBalance(user.ctx, { account: user.account.address }),
  );
  const claimOwner = record(
    "gas_AtomaVault_claimOwnerFees",
    await claimOwnerFees(owner.ctx, { epochs: [epoch] }),
  );
  // A node that earned fees this epoch and is not barred (the draws above may have made the common node a
  // caught cheater).
  let earner = common.node;
  for (const n of [common.node, ...nodes]) {
    const [, earned] = await contracts.vault.read.nodeLedger([n.nodeId, epoch]);
    if (
      earned > 0n &&
      (await contracts.nodeRegistry.read.getNode([n.nodeId])).status !== NodeStatus.Slashed
    ) {
      earner = n;
      break;
    }
  }
  record(
    "gas_EmissionSchedule_claimNodeEmission",
    await claimEmission(earner.signer, { kind: "node", nodeId: earner.nodeId, epoch }),
  );
  record(
    "gas_EmissionSchedule_claimOwnerEmission",
    await claimEmission(owner.ctx, { kind: "modelOwner", owner: owner.account.address, epoch }),
  );
  record(
    "gas_EmissionSchedule_claimTreasuryEmission",
    await claimEmission(owner.ctx, { kind: "treasury", epoch }),
  );
  // A node still active and subscribed to `rare` (the cheaters above are barred: they can no longer change their
  // subscriptions; a node slashed below the minimum collateral has lost them).
  const active = await Promise.all(
    nodes.map(
      async (n) =>
        (await contracts.nodeRegistry.read.getNode([n.nodeId])).status === 1 &&
        (await getSubscription(admin, { taskId: rare, nodeId: n.nodeId })).active,
    ),
  );
  const spare = nodes.find(
    (n, i) => active[i] && n.nodeId !== common.node.nodeId && n.nodeId !== greedy.node.nodeId,
  )!;
  record(
    "gas_TaskRegistry_updateSubscription",
    await updateSubscription(spare.signer, {
      taskId: rare,
      nodeId: spare.nodeId,
      pricePerMillion: PRICE + 1n,
      capacity: 10n ** 12n,
    }),
  );
  record(
    "gas_TaskRegistry_unsubscribe",
    await unsubscribe(spare.signer, { taskId: rare, nodeId: spare.nodeId }),
  );
  record(
    "gas_NodeRegistry_topUp",
    await topUpCollateral(spare.operator, { nodeId: spare.nodeId, amount: parseEther("1") }),
  );
  record(
    "gas_ModelRegistry_reportWeightsMismatch",
    await reportWeightsMismatch(spare.signer, { modelId, nodeId: spare.nodeId }),
  );
  const left = await network.addNode({ url: "http://x", echelon: 9 });
  const leaver = left.operator;
  record("gas_NodeRegistry_deregister", await deregisterNode(leaver, { nodeId: left.nodeId }));
  await advance(Number(devParameters.task.exitNotice));
  record(
    "gas_TaskRegistry_completeExit",
    await completeExit(spare.signer, { taskId: rare, nodeId: spare.nodeId }),
  );
  record("gas_NodeRegistry_withdrawCollateral", await withdrawCollateral(leaver, { nodeId: left.nodeId }));

  for (const [name, used] of [...gas.entries()].sort(([a], [b]) => a.localeCompare(b)))
    report(name, Number(used), "gas");
  // Per stack of 1,000 requests at the default p: the settle transaction, the finalization, the expected cost of
  // an attestation round (p times its extra gas), and the three claims (node fees, the owner's refund, the model
  // owner's share). Alone: the stack is settled, finalized and claimed by itself. Amortised: a node settles and
  // finalizes ten stacks at a time (`settleMany`, `finalizeMany`) and each party claims once for the ten (a node
  // claims once per epoch for all its stacks).
  const claims = Number(claimNode.gasUsed + withdrawRefund.gasUsed + claimOwner.gasUsed);
  const expectedAttestation = (defaultPpm / 1_000_000) * Number(attestationExtra);
  const alone = Number(settledCommon.gasUsed + finalizedCommon.gasUsed) + claims + expectedAttestation;
  const amortised =
    (Number(settledMany.gasUsed) + Number(finalizedMany.gasUsed) + claims) / batch.length +
    expectedAttestation;
  // A purchase, each way of picking its node, all its transactions together (ten subscribers on the task).
  for (const [mode, used] of Object.entries(purchases)) report(`gas_purchase_${mode}`, Number(used), "gas");
  report("gas_attestation_round_extra", Number(attestationExtra), "gas");
  report(
    "gas_settle_per_stack_in_batch_of_10",
    Math.round(Number(settledMany.gasUsed) / inputs.length),
    "gas",
  );
  report(
    "gas_finalize_per_stack_in_batch_of_10",
    Math.round(Number(finalizedMany.gasUsed) / batch.length),
    "gas",
  );
  report("gas_per_stack_at_default_p_alone", Math.round(alone), "gas");
  report("gas_per_stack_at_default_p", Math.round(amortised), "gas");
  report("gas_per_request_at_1000_alone", Math.round(alone / REQUESTS), "gas");
  report("gas_per_request_at_1000", Math.round(amortised / REQUESTS), "gas");
  // Issue 15's figures: a purchase on a drawn node, both its transactions (the purchase that freezes the
  // candidates and the later block's draw), and the cost per request with that purchase added (a stack is bought
  // once, so its purchase is not shared with the other stacks of a batch).
  report("gas_buy_stack", Number(purchases.drawn_node), "gas");
  report(
    "gas_per_request_at_1000_all_in",
    Math.round((amortised + Number(purchases.drawn_node)) / REQUESTS),
    "gas",
  );
} finally {
  await network.stop();
}
