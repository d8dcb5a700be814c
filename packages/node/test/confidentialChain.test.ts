import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  answerChallenge,
  buyStackFromNode,
  challengeSettlement,
  createTask,
  dropUnattested,
  finalizeSettlement,
  getAttestation,
  nodeRegistryAbi,
  postAttestation,
  refundUnposted,
  reportUnposted,
  resolveChallenge,
  SecurityLevel,
  servedEvidenceTypedData,
  setAllowedMeasurement,
  setDevAttestation,
  submitSettlement,
} from "@atoma/chain";
import {
  type AttestationEvidence,
  type AttestationPolicy,
  createDevAuthority,
  type HexString,
  issueDevAttestationKey,
  parseEvidence,
  sealConfidentialRequest,
  type TdMeasurements,
  verifyAttestation,
} from "@atoma/confidential";
import { atomaVaultAbi } from "@atoma/contracts";
import { evidenceHash, type Hash, measurementHash, parseReceipt, responseHash, StackTree } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { signStackRequest } from "@atoma/sdk";
import { keccak256, stringToBytes, verifyTypedData } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listLeaves } from "../src/accounting/stacks.js";
import { AttestationPoster } from "../src/confidential/attestationPoster.js";
import { ConfidentialCompute } from "../src/confidential/confidentialCompute.js";
import { recordFields } from "../src/confidential/evidenceRegisters.js";
import { devEvidenceSource } from "../src/confidential/evidenceSource.js";
import { apiNode, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { capturingLogger } from "./helpers/capturingLogger.js";
import { PRICE, type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

const reg = (byte: string) => `0x${byte.repeat(48)}` as HexString;
const MEASURED: TdMeasurements = {
  mrTd: reg("c3"),
  rtmr0: reg("a0"),
  rtmr1: reg("a1"),
  rtmr2: reg("a2"),
  rtmr3: reg("a3"),
};
const CHAT = "/v1/chat/completions";

const root = mkdtempSync(join(tmpdir(), "atoma-confidential-chain-"));
let network: StackNetwork;
let engine: EmbeddedEngine;
let model: TinyModelFile;
let attested: RegisteredNode;
let other: RegisteredNode;
let node: AtomaNode;
let compute: ConfidentialCompute;
let policy: AttestationPolicy;
let owner: Awaited<ReturnType<StackNetwork["owner"]>>;
let confidentialTask: bigint;
let plainTask: bigint;
let confidentialStack: bigint;
/** The epoch in which `confidentialStack` was bought and first served. */
let confidentialEpoch: bigint;
let plainStack: bigint;
/** Each stack counts its own nonces. */
const nonces = new Map<bigint, bigint>();
const logLines: string[] = [];

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const chainEpoch = () =>
  network.publicClient.readContract({
    address: network.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "currentEpoch",
  });

beforeAll(async () => {
  network = await startStackNetwork();
  [attested, other] = (await network.registerNodes(2)) as [RegisteredNode, RegisteredNode];
  ({ engine, model } = await startTinyEngine());
  const authority = await createDevAuthority();
  policy = {
    measurements: [{ label: "dev", ...MEASURED }],
    dev: { rootCertificatePem: authority.rootCertificatePem },
  };
  compute = new ConfidentialCompute({
    source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
    signingAddress: attested.signerAccount.address,
  });
  ({ node } = apiNode({
    network,
    node: attested,
    engine,
    model,
    dataDir: join(root, "node"),
    logger: capturingLogger(logLines),
    // The epoch is checked once an hour: time moved on the chain does not bring a new record by itself here.
    confidential: { compute, epochPollMs: 3_600_000, postRetryDelaysMs: [50] },
    postAttestations: true,
  }));
  await node.start();
  // The record is posted in the background after the start: level-3 tasks take the node once it is there.
  await until(
    () => getAttestation(network.admin, attested.nodeId),
    (r) => r !== undefined,
  );
  ({ taskId: confidentialTask } = await createTask(network.admin, {
    modelId: network.modelId,
    role: 0,
    securityLevel: SecurityLevel.Confidential,
  }));
  await setAllowedMeasurement(network.admin, {
    taskId: confidentialTask,
    measurement: measurementHash("dev", MEASURED),
    allowed: true,
  });
  await setDevAttestation(network.admin, { taskId: confidentialTask, allowed: true });
  await network.subscribe(attested, confidentialTask);
  plainTask = await network.newTask([attested]);
  await network.nextEpoch();
  owner = await network.owner();
  confidentialStack = (await network.buy(owner.ctx, confidentialTask, 200_000n)).stackId;
  confidentialEpoch = await chainEpoch();
  plainStack = (await network.buy(owner.ctx, plainTask, 200_000n)).stackId;
  await waitForStack(node, confidentialStack);
  await waitForStack(node, plainStack);
}, 180_000);
afterAll(async () => {
  await node?.stop();
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

const deadlineSoon = () => BigInt(Math.floor(Date.now() / 1000) + 120);
const chat = (content: string) => ({
  model: model.id,
  messages: [{ role: "user", content }],
  max_tokens: 8,
  seed: 3,
});

async function send(
  stackId: bigint,
  body: Record<string, unknown>,
  nonce = nonces.get(stackId) ?? 0n,
  deadline = deadlineSoon(),
) {
  const signed = await signStackRequest(owner.account, network.domain, {
    stackId,
    body,
    nonce,
    deadline,
    maxUnits: 10_000n,
  });
  const res = await fetch(new URL(CHAT, node.url), {
    method: "POST",
    headers: { "content-type": "application/json", ...signed.headers },
    body: signed.json,
  });
  if (res.status === 200) nonces.set(stackId, nonce + 1n);
  return res;
}

async function sendSealed(stackId: bigint, key: HexString, content: string) {
  const nonce = nonces.get(stackId) ?? 0n;
  const deadline = deadlineSoon();
  const sealed = await sealConfidentialRequest(key, chat(content), { stackId, nonce, deadline, path: CHAT });
  const res = await send(stackId, sealed.body as unknown as Record<string, unknown>, nonce, deadline);
  return { res, reader: sealed.reader };
}

async function errorOf(res: Response) {
  const { error } = (await res.json()) as { error: { code: string } };
  return { status: res.status, code: error.code };
}

/** The key the chain's record names, checked against the evidence the node serves (hash, key, measurement). */
async function attestedKey(): Promise<HexString> {
  const record = await getAttestation(network.admin, attested.nodeId);
  if (!record) throw new Error("no record");
  const body = (await (await fetch(new URL("/v1/attestation", node.url))).json()) as {
    evidence: AttestationEvidence;
  };
  const evidence = parseEvidence(body.evidence);
  const verdict = await verifyAttestation(evidence, policy, {
    signingAddress: attested.signerAccount.address,
    freshness: { kind: "epoch", epoch: record.epoch },
  });
  expect(evidenceHash(evidence.kind, evidence.quote)).toBe(record.evidenceHash);
  expect(verdict.binding.encryptionPublicKey.toLowerCase()).toBe(record.encryptionKey.toLowerCase());
  expect(measurementHash("dev", verdict.measurements)).toBe(record.measurement);
  return record.encryptionKey as HexString;
}

describe("a confidential node's record on-chain and level-3 stacks", () => {
  it("posts its record in the shared encodings: the evidence it serves, its key, its measurement", async () => {
    const record = await getAttestation(network.admin, attested.nodeId);
    expect(record).toMatchObject({ kind: "dev", measurement: measurementHash("dev", MEASURED) });
    expect(record?.encryptionKey.toLowerCase()).toBe((await compute.publicKey()).toLowerCase());
    await attestedKey();
  });

  it("refuses a record posted by another node's signer for this node", async () => {
    const quote = compute.epochEvidence!.evidence.quote;
    await expect(
      postAttestation(other.signer, {
        nodeId: attested.nodeId,
        kind: "dev",
        evidenceHash: evidenceHash("dev", `${quote}00` as HexString),
        encryptionKey: `0x${"11".repeat(32)}`,
        measurement: measurementHash("dev", MEASURED),
        expiresAt: (await network.now()) + 600n,
      }),
    ).rejects.toMatchObject({ errorName: "NotNodeActor" });
  });

  it("a poster whose posts the chain refuses logs each failure, retries, and never throws", async () => {
    const lines: string[] = [];
    const poster = new AttestationPoster({
      seat: { ...other.signer, now: () => network.now() },
      nodeId: attested.nodeId,
      logger: capturingLogger(lines),
      retryDelaysMs: [10],
    });
    poster.post(compute.epochEvidence!);
    await until(
      async () => lines.filter((l) => l.includes("could not post the attestation record")).length,
      (n) => n >= 3,
    );
    expect(lines.join("\n")).toContain("NotNodeActor");
    expect(await poster.current()).toBe(false);
    poster.stop();
    await poster.settled();
  });

  it("refuses a request in clear on a level-3 stack, and a sealed one on a lower-level stack", async () => {
    expect(await errorOf(await send(confidentialStack, chat("in clear")))).toEqual({
      status: 400,
      code: "confidential_required",
    });
    const key = await attestedKey();
    const { res } = await sendSealed(plainStack, key, "sealed to a level-0 stack");
    // Its own code: the node does serve sealed requests, this stack does not take them (not "no confidential compute").
    expect(await errorOf(res)).toEqual({ status: 400, code: "confidential_stack_unsupported" });
    // The level-0 stack still answers in clear.
    expect((await send(plainStack, chat("in clear, level 0"))).status).toBe(200);
  });

  it("answers a request sealed to the key the chain's record names, opened by the client", async () => {
    const { res, reader } = await sendSealed(confidentialStack, await attestedKey(), "hello, enclave");
    expect(res.status).toBe(200);
    const { atoma, ...answer } = (await res.json()) as Record<string, unknown> & {
      atoma: { response_hash: string };
    };
    const { response, sealed } = reader.openAnswer(answer as never);
    expect(responseHash(sealed)).toBe(atoma.response_hash);
    const text = (response as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    expect(text.length).toBeGreaterThan(0);
  });

  it("posts again on key rotation; a request sealed to the old key no longer opens", async () => {
    const old = await attestedKey();
    await compute.rotateKey();
    const record = await until(
      () => getAttestation(network.admin, attested.nodeId),
      (r) => r !== undefined && r.encryptionKey.toLowerCase() !== old.toLowerCase(),
    );
    expect(record?.encryptionKey.toLowerCase()).toBe((await compute.publicKey()).toLowerCase());
    const { res } = await sendSealed(confidentialStack, old, "to the old key");
    expect(await errorOf(res)).toEqual({ status: 400, code: "confidential_undecryptable" });
  });

  // Misconfiguration: confidential compute on, but no AttestationRegistry to post to. Such a node would take sealed
  // requests the chain holds it to nothing for; it refuses them on a level-3 stack (unless set so in code, for tests).
  it("a node posting no attestation record refuses sealed requests on a level-3 stack", async () => {
    const authority = await createDevAuthority();
    const unposted = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
      signingAddress: attested.signerAccount.address,
    });
    const bare = apiNode({
      network,
      node: attested,
      engine,
      model,
      dataDir: join(root, "unposted"),
      confidential: { compute: unposted, epochPollMs: 3_600_000 },
    }).node;
    await bare.start();
    try {
      await waitForStack(bare, confidentialStack);
      const nonce = nonces.get(confidentialStack) ?? 0n;
      const deadline = deadlineSoon();
      const sealed = await sealConfidentialRequest(await unposted.publicKey(), chat("unposted"), {
        stackId: confidentialStack,
        nonce,
        deadline,
        path: CHAT,
      });
      const signed = await signStackRequest(owner.account, network.domain, {
        stackId: confidentialStack,
        body: sealed.body as unknown as Record<string, unknown>,
        nonce,
        deadline,
        maxUnits: 10_000n,
      });
      const res = await fetch(new URL(CHAT, bare.url), {
        method: "POST",
        headers: { "content-type": "application/json", ...signed.headers },
        body: signed.json,
      });
      // For good (no record is ever posted), not "evidence unavailable for now, retry".
      expect(await errorOf(res)).toEqual({ status: 400, code: "attestation_not_posted" });
    } finally {
      await bare.stop();
    }
  });

  // Attacker: another registered node copies the victim's evidence hash (from the mempool, or by hashing the quote
  // the victim serves) and posts it for itself first, to make the victim's own post revert for ever and keep it
  // off level 3. The chain keeps a replay set per node: the victim's post goes through and its record is current.
  it("a copy of its evidence posted first by another node does not keep it off level 3", async () => {
    const authority = await createDevAuthority();
    const victim = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
      signingAddress: attested.signerAccount.address,
    });
    const produced = await victim.attestEpoch(await chainEpoch());
    const fields = recordFields(produced.evidence);
    await postAttestation(other.signer, {
      nodeId: other.nodeId,
      ...fields,
      epoch: produced.epoch,
      expiresAt: (await network.now()) + 600n,
    });
    const poster = new AttestationPoster({
      seat: { ...attested.signer, now: () => network.now() },
      nodeId: attested.nodeId,
      logger: capturingLogger([]),
      retryDelaysMs: [10],
    }).follow(victim);
    await poster.settled();
    expect(await poster.current(produced)).toBe(true);
    expect((await getAttestation(network.admin, attested.nodeId))?.evidenceHash).toBe(fields.evidenceHash);
    poster.stop();
    // The node's own evidence again (its key is the one requests are sealed to): a rotation posts a new record.
    await compute.rotateKey();
    const key = (await compute.publicKey()).toLowerCase();
    await until(
      () => getAttestation(network.admin, attested.nodeId),
      (r) => r?.encryptionKey.toLowerCase() === key,
    );
  });

  // The record is a commitment: beside its posted epoch evidence the node serves its signer's `ServedEvidence`
  // statement. A client holding a statement for evidence that was never posted (a node with no TEE posting one hash
  // and serving other evidence) convicts it on-chain; an honest node's statements cannot be used against it.
  it("serves a signed statement for its posted evidence; a statement for unposted evidence gets a node revoked and slashed", async () => {
    const record = await getAttestation(network.admin, attested.nodeId);
    // The statement follows the record once the post is final (here at once: no confirmations asked).
    const body = await until(
      async () =>
        (await (await fetch(new URL("/v1/attestation", node.url))).json()) as {
          evidence: AttestationEvidence;
          statement?: { node_id: string; epoch: string; evidence_hash: HexString; signature: HexString };
        },
      (b) => b.statement?.evidence_hash === record?.evidenceHash,
    ).then((b) => ({ ...b, statement: b.statement! }));
    const evidence = parseEvidence(body.evidence);
    expect(body.statement.evidence_hash).toBe(evidenceHash(evidence.kind, evidence.quote));
    expect(body.statement.evidence_hash).toBe(record?.evidenceHash);
    const statement = {
      nodeId: BigInt(body.statement.node_id),
      epoch: BigInt(body.statement.epoch),
      evidenceHash: body.statement.evidence_hash,
    };
    const typed = servedEvidenceTypedData(
      network.anvil.chainId,
      network.addresses.AttestationRegistry,
      statement,
    );
    expect(
      await verifyTypedData({
        address: attested.signerAccount.address,
        ...typed,
        signature: body.statement.signature,
      }),
    ).toBe(true);
    // A griefer reporting the honest node with its own statement: refused, nothing happens to it.
    await expect(
      reportUnposted(owner.ctx, { ...statement, signature: body.statement.signature }),
    ).rejects.toMatchObject({ errorName: "EvidencePosted" });
    // A cheater: posts a record, but vouches for (and serves) other evidence. Its own statement convicts it.
    const cheatRecord = {
      kind: "dev" as const,
      evidenceHash: evidenceHash("dev", "0x0badc0de" as HexString),
      encryptionKey: `0x${"22".repeat(32)}` as HexString,
      measurement: measurementHash("dev", MEASURED),
    };
    await postAttestation(other.signer, {
      nodeId: other.nodeId,
      ...cheatRecord,
      expiresAt: (await network.now()) + 600n,
    });
    // It vouched so in the epoch before (an unposted hash convicts once its epoch is over: until then the node could
    // still post it, and a report is refused with `EpochNotOver`).
    const epoch = (await chainEpoch()) - 1n;
    const servedHash = evidenceHash("dev", "0xfeedface" as HexString);
    const early = { nodeId: other.nodeId, epoch: epoch + 1n, evidenceHash: servedHash };
    const earlySignature = await other.signerAccount.signTypedData(
      servedEvidenceTypedData(network.anvil.chainId, network.addresses.AttestationRegistry, early),
    );
    await expect(reportUnposted(owner.ctx, { ...early, signature: earlySignature })).rejects.toMatchObject({
      errorName: "EpochNotOver",
    });
    const lie = { nodeId: other.nodeId, epoch, evidenceHash: servedHash };
    const signature = await other.signerAccount.signTypedData(
      servedEvidenceTypedData(network.anvil.chainId, network.addresses.AttestationRegistry, lie),
    );
    await reportUnposted(owner.ctx, { ...lie, signature });
    const revoked = await getAttestation(network.admin, other.nodeId);
    expect(revoked && revoked.expiresAt <= (await network.now())).toBe(true);
    await expect(
      postAttestation(other.signer, {
        nodeId: other.nodeId,
        ...cheatRecord,
        evidenceHash: evidenceHash("dev", "0x01" as HexString),
        expiresAt: (await network.now()) + 600n,
      }),
    ).rejects.toMatchObject({ errorName: "PostingBanned" });
  });

  // A reorg that drops a post would turn a statement signed on its receipt into a lie anyone reports (slash, ban):
  // the node vouches only once `confirmations` blocks are built on the post, and serves the evidence vouched before.
  it("vouches for a record only once its post has its confirmations, serving the one vouched before meanwhile", async () => {
    const [late] = (await network.registerNodes(1)) as [RegisteredNode];
    const authority = await createDevAuthority();
    const waiting = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
      signingAddress: late.signerAccount.address,
    });
    const poster = new AttestationPoster({
      seat: { ...late.signer, now: () => network.now() },
      nodeId: late.nodeId,
      logger: capturingLogger([]),
      retryDelaysMs: [10],
      confirmations: 2,
      confirmationPollMs: 20,
    }).follow(waiting);
    const onChain = (hash: HexString) =>
      until(
        () => getAttestation(network.admin, late.nodeId),
        (r) => r?.evidenceHash === hash,
      );
    const first = await waiting.attestEpoch(await chainEpoch());
    const firstHash = recordFields(first.evidence).evidenceHash;
    await onChain(firstHash);
    // On-chain, but with no block on top: nothing is vouched for yet, and sealed requests are taken already.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(waiting.servedEpoch).toEqual({ evidence: first });
    expect(await poster.current(first)).toBe(true);
    await network.testClient.mine({ blocks: 2 });
    const vouched = await until(
      async () => waiting.servedEpoch,
      (served) => served?.statement !== undefined,
    );
    expect(vouched?.evidence).toBe(first);
    expect(vouched?.statement).toMatchObject({
      nodeId: late.nodeId,
      epoch: first.epoch,
      evidenceHash: firstHash,
    });
    await expect(reportUnposted(owner.ctx, vouched!.statement!)).rejects.toMatchObject({
      errorName: "EvidencePosted",
    });
    // A key rotation: the new record is on-chain at once, but the route keeps serving the first evidence, vouched.
    const rotated = (await waiting.rotateKey())!;
    const rotatedHash = recordFields(rotated.evidence).evidenceHash;
    await onChain(rotatedHash);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(waiting.servedEpoch).toEqual(vouched);
    await network.testClient.mine({ blocks: 2 });
    const next = await until(
      async () => waiting.servedEpoch,
      (served) => served?.evidence === rotated && served.statement !== undefined,
    );
    expect(next?.statement?.evidenceHash).toBe(rotatedHash);
    poster.stop();
    await poster.settled();
  });

  it("once its record expires: the node takes no sealed request, the chain no new stack, anyone drops it", async () => {
    const record = (await getAttestation(network.admin, attested.nodeId))!;
    await network.advance(record.expiresAt - (await network.now()) + 1n);
    const key = record.encryptionKey as HexString;
    const { res } = await sendSealed(confidentialStack, key, "after expiry");
    // For now: the node posts a new record on its own (not "this node has no confidential compute").
    expect(await errorOf(res)).toEqual({ status: 503, code: "attestation_record_stale" });
    const buyer = (await network.account()).ctx;
    await expect(
      buyStackFromNode(buyer, {
        taskId: confidentialTask,
        nodeId: attested.nodeId,
        units: 1_000n,
        maxPricePerMillion: PRICE,
        duration: 3_600n,
      }),
    ).rejects.toMatchObject({ errorName: "AttestationExpired" });
    const keeper = (await network.account()).ctx;
    const dropped = await dropUnattested(keeper, { nodeId: attested.nodeId });
    expect(dropped.taskIds).toEqual([confidentialTask]);
    // Attesting for the chain's epoch posts a fresh record: sealed requests open again.
    await compute.attestEpoch(await chainEpoch());
    const fresh = await until(
      () => getAttestation(network.admin, attested.nodeId),
      (r) => r !== undefined && r.expiresAt > record.expiresAt,
    );
    const again = await sendSealed(
      confidentialStack,
      fresh!.encryptionKey as HexString,
      "after re-attesting",
    );
    expect(again.res.status).toBe(200);
  });

  // Last: the reorg below moves anvil back under the node's listener.
  it("a post reorganised away before its confirmations is never vouched for, but posted again", async () => {
    const [dropped] = (await network.registerNodes(1)) as [RegisteredNode];
    const authority = await createDevAuthority();
    const waiting = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
      signingAddress: dropped.signerAccount.address,
    });
    const reorgLines: string[] = [];
    const snapshot = await network.testClient.snapshot();
    const poster = new AttestationPoster({
      seat: { ...dropped.signer, now: () => network.now() },
      nodeId: dropped.nodeId,
      logger: capturingLogger(reorgLines),
      retryDelaysMs: [10],
      confirmations: 2,
      confirmationPollMs: 20,
    }).follow(waiting);
    const produced = await waiting.attestEpoch(await chainEpoch());
    const hash = recordFields(produced.evidence).evidenceHash;
    await until(
      () => getAttestation(network.admin, dropped.nodeId),
      (r) => r?.evidenceHash === hash,
    );
    // The post's block is dropped (a reorg), then the chain grows past the depth the node waits for.
    await network.testClient.revert({ id: snapshot });
    expect(await getAttestation(network.admin, dropped.nodeId)).toBeUndefined();
    await network.testClient.mine({ blocks: 3 });
    expect(waiting.servedEpoch?.statement).toBeUndefined();
    // The poster finds its post gone at that depth and posts again; it vouches once that one is two blocks deep.
    await until(
      () => getAttestation(network.admin, dropped.nodeId),
      (r) => r?.evidenceHash === hash,
    );
    expect(waiting.servedEpoch?.statement).toBeUndefined();
    await network.testClient.mine({ blocks: 2 });
    const vouched = await until(
      async () => waiting.servedEpoch,
      (served) => served?.statement !== undefined,
    );
    await expect(reportUnposted(owner.ctx, vouched!.statement!)).rejects.toMatchObject({
      errorName: "EvidencePosted",
    });
    expect(reorgLines.join("\n")).toContain("reorganised away");
    poster.stop();
    await poster.settled();
  });

  // After the reorg (the stack it served is still there): the node is shown to have vouched, in the epoch it served
  // the owner's level-3 stack, for evidence it never posted. A racer reports the lie first and takes the reporter's
  // share; the stack's owner is still refunded the user's share of a further slash, whoever sends the refund.
  it("the buyer of a stack served under a lying statement is refunded from the node's slash", async () => {
    const lie = {
      nodeId: attested.nodeId,
      epoch: confidentialEpoch,
      evidenceHash: evidenceHash("dev", "0x0badbeef" as HexString),
    };
    const signature = await attested.signerAccount.signTypedData(
      servedEvidenceTypedData(network.anvil.chainId, network.addresses.AttestationRegistry, lie),
    );
    const racer = await network.account();
    // Settling and finalizing the stack moves the chain's clock by its window: the tests after this one start from
    // the chain as it was.
    const snapshot = await network.testClient.snapshot();
    if ((await chainEpoch()) <= confidentialEpoch) await network.nextEpoch(); // proven once the epoch is over
    await reportUnposted(racer.ctx, { ...lie, signature });
    await submitSettlement(attested.signer, {
      stackId: confidentialStack,
      root: keccak256(stringToBytes("served")),
      units: 1_000n,
      requestCount: 1n,
      transcriptId: `0x${"ab".repeat(32)}`,
    });
    // What the stack paid is known once its settlement is final: no refund before.
    await expect(
      refundUnposted(racer.ctx, { ...lie, signature, stackId: confidentialStack }),
    ).rejects.toMatchObject({ errorName: "SettlementNotOver" });
    await network.advance(3_600);
    await finalizeSettlement(owner.ctx, { stackIds: [confidentialStack] });
    const vault = (account: `0x${string}`) =>
      network.publicClient.readContract({
        address: network.addresses.AtomaVault,
        abi: atomaVaultAbi,
        functionName: "balanceOf",
        args: [account],
      });
    const ownerBefore = await vault(owner.account.address);
    const racerBefore = await vault(racer.account.address);
    await refundUnposted(racer.ctx, { ...lie, signature, stackId: confidentialStack });
    expect(await vault(owner.account.address)).toBeGreaterThan(ownerBefore);
    expect(await vault(racer.account.address)).toBe(racerBefore);
    await expect(
      refundUnposted(owner.ctx, { ...lie, signature, stackId: confidentialStack }),
    ).rejects.toMatchObject({ errorName: "StackRefunded" });
    // The plain stack (level 0) it served that epoch is not refunded under a confidential statement.
    await expect(refundUnposted(owner.ctx, { ...lie, signature, stackId: plainStack })).rejects.toMatchObject(
      { errorName: "StackNotServedUnder" },
    );
    await network.testClient.revert({ id: snapshot });
  });

  // The owner's challenge on a confidential stack: the leaf commits to the sealed answer's hash, and the receipt the
  // client opened is all the owner needs to catch a settlement root that leaves the leaf out.
  it("the owner's challenge works on a sealed leaf: answered under an honest root, upheld and slashed under one that drops it", async () => {
    const { res } = await sendSealed(
      confidentialStack,
      await attestedKey(),
      "a leaf its owner will challenge",
    );
    expect(res.status).toBe(200);
    const { fields, signature } = parseReceipt(((await res.json()) as { atoma: unknown }).atoma);
    const leaves = await listLeaves(node.context.db, confidentialStack);
    const index = Number(fields.leafIndex);
    expect(leaves[index]?.respHash).toBe(fields.respHash);
    const units = leaves.at(-1)!.cumulativeUnits;
    const settle = (root: Hash) =>
      submitSettlement(attested.signer, {
        stackId: confidentialStack,
        root,
        units,
        requestCount: BigInt(leaves.length),
        transcriptId: `0x${"cd".repeat(32)}`,
      });
    const honest = new StackTree(leaves.map((leaf) => leaf.leafHash));
    const snapshot = await network.testClient.snapshot();

    // Honest root: the node proves the sealed leaf is under it and keeps its collateral.
    const before = await network.testClient.snapshot();
    await settle(honest.root);
    const answered = await challengeSettlement(owner.ctx, {
      stackId: confidentialStack,
      response: fields,
      signature,
    });
    expect(answered.upheld).toBe(false);
    await answerChallenge(attested.signer, { challengeId: answered.challengeId, proof: honest.proof(index) });
    await expect(
      challengeSettlement(owner.ctx, { stackId: confidentialStack, response: fields, signature }),
    ).rejects.toMatchObject({ errorName: "LeafAlreadyProven" });
    await network.testClient.revert({ id: before });

    // A root over the same count and units with the sealed leaf swapped out: no proof of the signed leaf exists.
    const forged = leaves.map((leaf, i) =>
      i === index ? keccak256(stringToBytes("not the sealed answer")) : leaf.leafHash,
    );
    await settle(new StackTree(forged).root);
    const collateral = async () =>
      (
        await network.publicClient.readContract({
          address: network.addresses.NodeRegistry,
          abi: nodeRegistryAbi,
          functionName: "getNode",
          args: [attested.nodeId],
        })
      ).collateral;
    const held = await collateral();
    const challenged = await challengeSettlement(owner.ctx, {
      stackId: confidentialStack,
      response: fields,
      signature,
    });
    expect(challenged.upheld).toBe(false);
    await expect(
      answerChallenge(attested.signer, { challengeId: challenged.challengeId, proof: honest.proof(index) }),
    ).rejects.toMatchObject({ name: "ContractRevertError" });
    await network.advance(challenged.answerDeadline - (await network.now()) + 1n);
    const resolved = await resolveChallenge(owner.ctx, { challengeId: challenged.challengeId });
    expect(resolved.upheld).toBe(true);
    expect(resolved.slashed).toBeGreaterThan(0n);
    expect(resolved.ownerShare).toBeGreaterThan(0n);
    expect(await collateral()).toBe(held - resolved.slashed);
    await network.testClient.revert({ id: snapshot });
  });

  // Review challenges MEDIUM-2 (c): a reorg drops a post the node already vouched for (deeper than its
  // confirmations). The poster never looked again: the statement stayed served, the record stayed off the chain,
  // and anyone holding the statement could report it unposted. Now it sees the post gone, withdraws the
  // statement and posts again.
  it("withdraws the statement of a vouched post a reorg dropped, and posts it again", async () => {
    const [dropped] = (await network.registerNodes(1)) as [RegisteredNode];
    const authority = await createDevAuthority();
    const vouching = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
      signingAddress: dropped.signerAccount.address,
    });
    const lines: string[] = [];
    const snapshot = await network.testClient.snapshot();
    const poster = new AttestationPoster({
      seat: { ...dropped.signer, now: () => network.now() },
      nodeId: dropped.nodeId,
      logger: capturingLogger(lines),
      retryDelaysMs: [10],
      confirmationPollMs: 20,
      recheckMs: 50,
    }).follow(vouching);
    const produced = await vouching.attestEpoch(await chainEpoch());
    const hash = recordFields(produced.evidence).evidenceHash;
    const first = await until(
      async () => vouching.servedEpoch,
      (served) => served?.statement?.evidenceHash === hash,
    );
    // The reorg: the post's block is dropped after the statement was signed.
    await network.testClient.revert({ id: snapshot });
    expect(await getAttestation(network.admin, dropped.nodeId)).toBeUndefined();
    await until(
      () => getAttestation(network.admin, dropped.nodeId),
      (r) => r?.evidenceHash === hash,
    );
    expect(lines.join("\n")).toContain("statement withdrawn");
    await until(
      async () => vouching.servedEpoch,
      (served) => served?.statement?.evidenceHash === hash,
    );
    await expect(reportUnposted(owner.ctx, first!.statement!)).rejects.toMatchObject({
      errorName: "EvidencePosted",
    });
    poster.stop();
    await poster.settled();
  });
});
