import { readFileSync } from "node:fs";
import { buyStack, createAtomaPublicClient, createAtomaWalletClient, getAttestation } from "@atoma/chain";
import {
  type AttestationEvidence,
  type HexString,
  parseEvidence,
  SEALED_ANSWER_OBJECT,
  sealConfidentialRequest,
  type TdMeasurements,
  verifyAttestation,
} from "@atoma/confidential";
import { atomaDomain, evidenceHash, measurementHash, responseHash } from "@atoma/core";
import { signStackRequest } from "@atoma/sdk";
import { type Address, type Hex, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { expect } from "vitest";

export interface ConfidentialReady {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, string>;
  model: string;
  tasks: { confidential: string };
  nodes: { id: string; url: string; address: string }[];
  user: { privateKey: string };
  attestation: { rootCertificate: string; measurements: TdMeasurements };
}

const CHAT = "/v1/chat/completions";

/**
 * What a client of `atoma dev` does for a confidential chat: buys a stack on the level-3 task the ready line
 * names, reads the drawn node's attestation record from the chain, checks that the evidence the node serves is
 * the one recorded (hash, key, measurement) and verifies it with the dev root, seals the chat to that key, and
 * opens the sealed answer. Returns the answer's text.
 */
export async function confidentialChatOnDev(ready: ConfidentialReady, prompt: string): Promise<string> {
  const options = { rpcUrl: ready.rpcUrl, chainId: ready.chainId };
  const account = privateKeyToAccount(ready.user.privateKey as Hex);
  const ctx = {
    publicClient: createAtomaPublicClient(options),
    walletClient: createAtomaWalletClient(options, account),
    addresses: ready.contracts as never,
  };
  const { stackId, nodeId } = await buyStack(ctx, {
    taskId: BigInt(ready.tasks.confidential),
    units: 10_000n,
    maxPricePerMillion: parseEther("10"),
    duration: 3_600n,
  });
  const node = ready.nodes.find((n) => n.id === nodeId.toString());
  if (!node) throw new Error(`the stack went to node ${nodeId}, not one of atoma dev's`);

  const record = await getAttestation(ctx, nodeId);
  expect(record?.kind).toBe("dev");
  const served = (await (await fetch(new URL("/v1/attestation", node.url))).json()) as {
    evidence: AttestationEvidence;
  };
  const evidence = parseEvidence(served.evidence);
  expect(evidenceHash(evidence.kind, evidence.quote)).toBe(record!.evidenceHash);
  const verdict = await verifyAttestation(
    evidence,
    {
      measurements: [ready.attestation.measurements],
      dev: { rootCertificatePem: readFileSync(ready.attestation.rootCertificate, "utf8") },
    },
    { signingAddress: node.address as Address, freshness: { kind: "epoch", epoch: record!.epoch } },
  );
  const key = record!.encryptionKey as HexString;
  expect(verdict.binding.encryptionPublicKey.toLowerCase()).toBe(key.toLowerCase());
  expect(measurementHash("dev", verdict.measurements)).toBe(record!.measurement);

  const domain = atomaDomain(ready.chainId, ready.contracts.StackManager as Address);
  const body = { model: ready.model, messages: [{ role: "user", content: prompt }], max_tokens: 12, seed: 1 };
  // The node learns of the stack from the chain's events: until then it answers 404.
  for (let attempt = 0; ; attempt++) {
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 120);
    const sealed = await sealConfidentialRequest(key, body, { stackId, nonce: 0n, deadline, path: CHAT });
    const signed = await signStackRequest(account, domain, {
      stackId,
      body: sealed.body as unknown as Record<string, unknown>,
      nonce: 0n,
      deadline,
      maxUnits: 10_000n,
    });
    const res = await fetch(new URL(CHAT, node.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body: signed.json,
    });
    if (res.status === 404 && attempt < 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    expect(res.status, await res.clone().text()).toBe(200);
    const { atoma, ...answer } = (await res.json()) as Record<string, unknown> & {
      atoma: { response_hash: string };
    };
    expect(answer.object).toBe(SEALED_ANSWER_OBJECT);
    expect(JSON.stringify(answer)).not.toContain(prompt);
    const opened = sealed.reader.openAnswer(answer as never);
    expect(responseHash(opened.sealed)).toBe(atoma.response_hash);
    return (opened.response as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
  }
}
