import { TaskSecurityLevel as SecurityLevel } from "@atoma/contracts";
import { evidenceHash, measurementHash } from "@atoma/core";
import { type Hex, keccak256, stringToBytes, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAllowedMeasurement, setDevAttestation } from "../src/actions/attestationGovernance.js";
import { buyStackFromNode } from "../src/actions/buyStackFromNode.js";
import { createTask } from "../src/actions/createTask.js";
import { dropUnattested } from "../src/actions/dropUnattested.js";
import { dropUnattestedPeers } from "../src/actions/dropUnattestedPeers.js";
import { finalizeSettlement } from "../src/actions/finalizeSettlement.js";
import { getSubscription } from "../src/actions/getTask.js";
import { postAttestation } from "../src/actions/postAttestation.js";
import { attestationStanding, getAttestation } from "../src/actions/readAttestation.js";
import { refundUnposted } from "../src/actions/refundUnposted.js";
import { reportUnposted, servedEvidenceTypedData } from "../src/actions/reportUnposted.js";
import { submitSettlement } from "../src/actions/submitSettlement.js";
import { PRICE, startNetwork, type TestNetwork, type TestNode } from "./network.js";

/** 48 bytes from a label: test registers, no real software stack. */
const register = (label: string): Hex =>
  `0x${keccak256(stringToBytes(label)).slice(2)}${keccak256(stringToBytes(`${label}+`)).slice(2, 34)}`;
const registers = {
  mrTd: register("mrtd"),
  rtmr0: register("rtmr0"),
  rtmr1: register("rtmr1"),
  rtmr2: register("rtmr2"),
  rtmr3: register("rtmr3"),
};

describe("confidential tasks (security level 3) against anvil", () => {
  let network: TestNetwork;
  let taskId: bigint;
  let quotes = 0;
  const tdxMeasurement = measurementHash("tdx", registers);
  const devMeasurement = measurementHash("dev", registers);

  beforeAll(async () => {
    network = await startNetwork();
    ({ taskId } = await createTask(network.admin, {
      modelId: network.modelId,
      role: 0,
      securityLevel: SecurityLevel.Confidential,
    }));
    await setAllowedMeasurement(network.admin, { taskId, measurement: tdxMeasurement, allowed: true });
    await setAllowedMeasurement(network.admin, { taskId, measurement: devMeasurement, allowed: true });
  });
  afterAll(() => network.stop());

  const attest = async (node: TestNode, kind: "tdx" | "dev", validity: bigint) => {
    const quote = toHex(stringToBytes(`quote ${++quotes}`));
    return postAttestation(node.operator, {
      nodeId: node.nodeId,
      kind,
      evidenceHash: evidenceHash(kind, quote),
      encryptionKey: keccak256(quote),
      measurement: kind === "tdx" ? tdxMeasurement : devMeasurement,
      expiresAt: (await network.now()) + validity,
    });
  };

  it("admits an attested node, refuses one without a record, and names the reason", async () => {
    const node = await network.addNode();
    const bare = await network.addNode();
    await expect(network.subscribe(bare, taskId)).rejects.toMatchObject({ errorName: "NoAttestation" });
    await attest(node, "tdx", 7_200n);
    const record = await getAttestation(network.admin, node.nodeId);
    expect(record).toMatchObject({ kind: "tdx", measurement: tdxMeasurement });
    expect(await getAttestation(network.admin, bare.nodeId)).toBeUndefined();
    expect(await attestationStanding(network.admin, { taskId, nodeId: node.nodeId })).toBe("Ok");
    await network.subscribe(node, taskId);
    await network.nextEpoch();
    // An expired record stops purchases at once, and anyone may then drop the node's subscription.
    const keeper = (await network.account()).ctx;
    await expect(dropUnattested(keeper, { nodeId: node.nodeId, taskId })).rejects.toMatchObject({
      errorName: "AttestationCurrent",
    });
    await network.advance(7_200);
    expect(await attestationStanding(network.admin, { taskId, nodeId: node.nodeId })).toBe("Expired");
    const buyer = (await network.account()).ctx;
    await expect(
      buyStackFromNode(buyer, {
        taskId,
        nodeId: node.nodeId,
        units: 1_000n,
        maxPricePerMillion: PRICE,
        duration: 3_600n,
      }),
    ).rejects.toMatchObject({ errorName: "AttestationExpired" });
    const dropped = await dropUnattested(keeper, { nodeId: node.nodeId });
    expect(dropped.taskIds).toEqual([taskId]);
  });

  it("a subscribed node's keeper drops its peers the registry no longer accepts, never one that is current (review 14 L5)", async () => {
    const keeper = await network.addNode();
    const stale = await network.addNode();
    await attest(stale, "tdx", 7_200n);
    await network.subscribe(stale, taskId);
    await network.advance(3_600);
    await attest(keeper, "tdx", 7_200n);
    await network.subscribe(keeper, taskId);
    // Both current: nothing to drop.
    expect(
      (await dropUnattestedPeers(keeper.operator, { nodeId: keeper.nodeId })).map((d) => d.nodeId),
    ).not.toContain(stale.nodeId);
    await network.advance(3_700);
    expect(await attestationStanding(network.admin, { taskId, nodeId: stale.nodeId })).toBe("Expired");
    const dropped = await dropUnattestedPeers(keeper.operator, { nodeId: keeper.nodeId });
    expect(dropped).toContainEqual({ taskId, nodeId: stale.nodeId, standing: "Expired" });
    expect(dropped.map((d) => d.nodeId)).not.toContain(keeper.nodeId);
    expect((await getSubscription(network.admin, { taskId, nodeId: stale.nodeId })).active).toBe(false);
    expect((await getSubscription(network.admin, { taskId, nodeId: keeper.nodeId })).active).toBe(true);
    // A second pass finds nothing left to drop.
    expect(await dropUnattestedPeers(keeper.operator, { nodeId: keeper.nodeId })).toEqual([]);
  });

  // A node with no TEE posts one hash and serves (and vouches for) other evidence. A racer reports the lie first;
  // the buyer of the stack the node served that epoch is still refunded the user's share of a slash, whoever sends
  // it, once the stack's settlement is finalized (what the stack paid is known then).
  it("refunds the buyer of a stack served under a lying statement, to the buyer whoever calls", async () => {
    const cheat = await network.addNode();
    await attest(cheat, "tdx", 7_200n);
    await network.subscribe(cheat, taskId);
    await network.nextEpoch();
    await attest(cheat, "tdx", 7_200n);
    const buyer = await network.account();
    const stack = await buyStackFromNode(buyer.ctx, {
      taskId,
      nodeId: cheat.nodeId,
      units: 1_000n,
      maxPricePerMillion: PRICE,
      duration: 3_600n,
    });
    const { contracts, addresses } = network.deployment;
    const epoch = await contracts.nodeRegistry.read.currentEpoch();
    const lie = { nodeId: cheat.nodeId, epoch, evidenceHash: evidenceHash("tdx", "0xfeedface") };
    const signature = await cheat.signerAccount.signTypedData(
      servedEvidenceTypedData(network.anvil.chainId, addresses.AttestationRegistry, lie),
    );
    const racer = await network.account();
    // Refused while the epoch runs (the node could still post the hash); proven once it is over.
    await expect(reportUnposted(racer.ctx, { ...lie, signature })).rejects.toMatchObject({
      errorName: "EpochNotOver",
    });
    await network.nextEpoch();
    await reportUnposted(racer.ctx, { ...lie, signature });
    await network.advance(60);
    await submitSettlement(cheat.signer, {
      stackId: stack.stackId,
      root: keccak256(stringToBytes("served")),
      units: 1_000n,
      requestCount: 1n,
      transcriptId: `0x${"ab".repeat(32)}`,
    });
    await expect(
      refundUnposted(racer.ctx, { ...lie, signature, stackId: stack.stackId }),
    ).rejects.toMatchObject({ errorName: "SettlementNotOver" });
    await network.advance(3_600);
    await finalizeSettlement(racer.ctx, { stackIds: [stack.stackId] });
    const vaultBalance = (owner: Hex) => contracts.vault.read.balanceOf([owner]);
    const [buyerBefore, racerBefore] = [
      await vaultBalance(buyer.account.address),
      await vaultBalance(racer.account.address),
    ];
    await refundUnposted(racer.ctx, { ...lie, signature, stackId: stack.stackId });
    expect(await vaultBalance(buyer.account.address)).toBeGreaterThan(buyerBefore);
    expect(await vaultBalance(racer.account.address)).toBe(racerBefore);
    await expect(
      refundUnposted(buyer.ctx, { ...lie, signature, stackId: stack.stackId }),
    ).rejects.toMatchObject({ errorName: "StackRefunded" });
  });

  // Review-conf2 M0: a node re-posts (same key, a measurement the task never took) between a client's reads of its
  // standing and of its record. Both read at one block, the pair is one record's: never the old standing (Ok) with
  // the new record's fields.
  it("reads a record and its standing at one block, whatever the node posts after it", async () => {
    const node = await network.addNode();
    await attest(node, "tdx", 7_200n);
    const pinned = await network.admin.publicClient.getBlockNumber();
    const quote = toHex(stringToBytes(`quote ${++quotes}`));
    await postAttestation(node.operator, {
      nodeId: node.nodeId,
      kind: "tdx",
      evidenceHash: evidenceHash("tdx", quote),
      encryptionKey: keccak256(quote),
      measurement: keccak256(stringToBytes("a build the task never allowed")),
      expiresAt: (await network.now()) + 7_200n,
    });
    const at = { blockNumber: pinned };
    expect(await getAttestation(network.admin, node.nodeId, at)).toMatchObject({
      measurement: tdxMeasurement,
    });
    expect(await attestationStanding(network.admin, { taskId, nodeId: node.nodeId, ...at })).toBe("Ok");
    const latest = await getAttestation(network.admin, node.nodeId);
    expect(latest?.measurement).not.toBe(tdxMeasurement);
    expect(await attestationStanding(network.admin, { taskId, nodeId: node.nodeId })).toBe("Measurement");
  });

  it("refuses the dev kind until governance allows it", async () => {
    const node = await network.addNode();
    await attest(node, "dev", 3_600n);
    expect(await attestationStanding(network.admin, { taskId, nodeId: node.nodeId })).toBe("Dev");
    await expect(network.subscribe(node, taskId)).rejects.toMatchObject({ errorName: "DevKindRefused" });
    await setDevAttestation(network.admin, { taskId, allowed: true });
    await network.subscribe(node, taskId);
    await setDevAttestation(network.admin, { taskId, allowed: false });
  });
});
