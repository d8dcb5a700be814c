import { getAttestation } from "@atoma/chain";
import type { Devnet } from "@atoma/chain/devnet";
import { parseEvidence } from "@atoma/confidential";
import { evidenceHash } from "@atoma/core";
import { DevNodeUnattestedError } from "../errors.js";
import { type ProvisionedNode, subscribeDevNode } from "./provisionDevNode.js";

const POLL_MS = 50;

/**
 * Subscribes a started dev node to the level-3 task once the chain holds its attestation record for the evidence
 * it serves now (the node posts it in the background after its start; a record kept from an earlier run names an
 * older key). `DevNodeUnattestedError` when none comes within `timeoutMs`.
 */
export async function subscribeWhenAttested(
  network: Devnet,
  node: ProvisionedNode,
  taskId: bigint,
  timeoutMs = 60_000,
): Promise<void> {
  const res = await fetch(new URL("/v1/attestation", node.url));
  const body = (await res.json()) as { evidence: unknown };
  const evidence = parseEvidence(body.evidence);
  const wanted = evidenceHash(evidence.kind, evidence.quote).toLowerCase();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await getAttestation(network.admin, node.nodeId);
    if (record?.evidenceHash.toLowerCase() === wanted) break;
    if (Date.now() > deadline) throw new DevNodeUnattestedError(node.nodeId, Math.round(timeoutMs / 1000));
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  await subscribeDevNode(network, node, taskId);
}
