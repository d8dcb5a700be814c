import { findOwnedStacks, getAttestation, setGpuRequired } from "@atoma/chain";
import { gpuNonceFor, NRAS_ISSUER, toHex } from "@atoma/confidential";
import {
  AttestationRefusedError,
  AttestationUnavailableError,
  type ConfidentialOptions,
  createAtomaClient,
  NoNodeOfferedError,
} from "@atoma/sdk";
import { exportJWK, type GenerateKeyPairResult, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfidentialNetwork,
  type ConfidentialNode,
  startConfidentialNetwork,
} from "./confidentialNetwork.js";

let net: ConfidentialNetwork;
let A: ConfidentialNode;
let nras: GenerateKeyPairResult;
let forger: GenerateKeyPairResult;
let jwks: { keys: Record<string, unknown>[] };
const KID = "nras-dev-1";

const ask = (content: string) => ({
  model: net.model.id,
  messages: [{ role: "user", content }],
  max_tokens: 4,
  seed: 5,
});

/** A client of a fresh funded account held to node A, sealing under `confidential`. */
async function clientOfA(confidential: ConfidentialOptions, fetcher?: typeof fetch) {
  const { account } = await net.network.account();
  const aside: bigint[] = [];
  const client = createAtomaClient({
    network: net.networkText(),
    account,
    confidential,
    preferences: { only: [A.registered.nodeId] },
    stack: { units: 20_000n },
    onNodePutAside: (nodeId) => aside.push(nodeId),
    ...(fetcher && { fetch: fetcher }),
  });
  return { client, aside, owner: account.address as Hex };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

/** The verdict's failed check, by name and code. */
const failedCheck = (error: unknown) => {
  expect(error).toBeInstanceOf(AttestationRefusedError);
  const failed = (error as AttestationRefusedError).verdict.checks.filter((c) => c.status === "fail");
  expect(failed).toHaveLength(1);
  return { name: failed[0]!.name, code: failed[0]!.code };
};

/** An NVIDIA verifier's token for `nonce` (the SHA-256 of a quote's report data), signed with `key`. */
const gpuToken = (key: GenerateKeyPairResult["privateKey"], nonce: string, claims: JWTPayload = {}) =>
  new SignJWT({ eat_nonce: nonce.slice(2), "x-nvidia-overall-att-result": true, ...claims })
    .setProtectedHeader({ alg: "ES384", kid: KID })
    .setIssuer(NRAS_ISSUER)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(key);

const attestationGets = () =>
  A.relay.requests.filter((r) => r.method === "GET" && r.path.startsWith("/v1/attestation")).length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  net = await startConfidentialNetwork();
  [A] = net.nodes;
  nras = await generateKeyPair("ES384", { extractable: true });
  forger = await generateKeyPair("ES384", { extractable: true });
  jwks = { keys: [{ ...(await exportJWK(nras.publicKey)), kid: KID, alg: "ES384", use: "sig" }] };
}, 240_000);
afterAll(async () => {
  await net?.stop();
}, 60_000);

describe("GPU evidence, checked by a direct client given NVIDIA's key set", () => {
  it("accepts a node whose GPU token is NVIDIA's, for the same report data as its quote", async () => {
    A.gpu.token = (reportData) => gpuToken(nras.privateKey, gpuNonceFor(reportData));
    try {
      const { client } = await clientOfA({ gpu: { jwks, required: true } });
      const answer = await client.chat(ask("Say hi."));
      const gpu = answer.attestation?.checks.find((c) => c.name === "gpu");
      expect(gpu).toMatchObject({ status: "pass" });
      expect(answer.attestation?.ok).toBe(true);
    } finally {
      A.gpu.token = undefined;
    }
  }, 120_000);

  it("refuses a forged GPU token, one bound to another nonce or key, or none when required: nothing bought", async () => {
    const cases: [string, typeof A.gpu.token, ConfidentialOptions, string][] = [
      [
        "forged",
        (reportData) => gpuToken(forger.privateKey, gpuNonceFor(reportData)),
        { gpu: { jwks } },
        "gpu_token_signature_invalid",
      ],
      [
        // NVIDIA's genuine token, but for another quote's report data (another nonce, key or signer).
        "another binding",
        async () => gpuToken(nras.privateKey, gpuNonceFor(crypto.getRandomValues(new Uint8Array(64)))),
        { gpu: { jwks } },
        "gpu_token_claims_invalid",
      ],
      [
        "GPUs that failed NVIDIA's checks",
        (reportData) =>
          gpuToken(nras.privateKey, gpuNonceFor(reportData), { "x-nvidia-overall-att-result": false }),
        { gpu: { jwks } },
        "gpu_token_claims_invalid",
      ],
      ["missing", undefined, { gpu: { jwks, required: true } }, "gpu_evidence_missing"],
      // Review-conf2 M5: a key set given with no word on `required` requires the token: a node cannot drop it.
      ["missing, required by default", undefined, { gpu: { jwks } }, "gpu_evidence_missing"],
    ];
    for (const [label, token, options, code] of cases) {
      A.gpu.token = token;
      const { client, aside, owner } = await clientOfA(options);
      const error = await rejection(client.chat(ask("secret")));
      expect({ label, ...failedCheck(error) }).toEqual({ label, name: "gpu", code });
      expect(error).not.toBeInstanceOf(AttestationUnavailableError);
      expect(aside).toEqual([A.registered.nodeId]);
      expect(await findOwnedStacks(net.network, { owner })).toEqual([]);
    }
    A.gpu.token = undefined;
  }, 180_000);

  it("without a key set the token is not read: the check says skipped", async () => {
    A.gpu.token = (reportData) => gpuToken(forger.privateKey, gpuNonceFor(reportData));
    try {
      const { client } = await clientOfA({});
      const answer = await client.chat(ask("Say hi."));
      expect(answer.attestation?.checks.find((c) => c.name === "gpu")).toMatchObject({ status: "skipped" });
    } finally {
      A.gpu.token = undefined;
    }
  }, 120_000);
});

describe("a node that cannot attest for now is retried later, one that fails a check is put aside", () => {
  it("503 and connection refused: skipped for a doubling cooldown, never put aside, then served", async () => {
    let refuseConnections = false;
    // A path to the node that is down: the attestation route's connections land on a port nobody listens on.
    const fetcher: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (refuseConnections && url.pathname === "/v1/attestation") url.host = "127.0.0.1:1";
      return fetch(url, init);
    };
    const { client, aside, owner } = await clientOfA({ attestationRetryMs: 1_500 }, fetcher);
    A.relay.statusOf = (status, path) => (path.startsWith("/v1/attestation") ? 503 : status);
    try {
      const first = await rejection(client.chat(ask("secret")));
      expect(first).toBeInstanceOf(AttestationUnavailableError);
      const unavailable = first as AttestationUnavailableError;
      expect(unavailable.code).toBe("attestation_unavailable");
      expect(unavailable.verdict).toMatchObject({ transient: true, failures: ["attestation_unavailable"] });
      expect(unavailable.retryAt).toBeInstanceOf(Date);
      // Within the cooldown the node is not even asked.
      const asked = attestationGets();
      const again = await rejection(client.chat(ask("secret")));
      expect(again).toBeInstanceOf(AttestationUnavailableError);
      expect(attestationGets()).toBe(asked);
      // Past it, asked again: its connections are refused now, and the wait doubles.
      await sleep(Math.max(0, unavailable.retryAt!.getTime() - Date.now()) + 50);
      refuseConnections = true;
      const refusedConnection = await rejection(client.chat(ask("secret")));
      expect(refusedConnection).toBeInstanceOf(AttestationUnavailableError);
      const second = refusedConnection as AttestationUnavailableError;
      expect(second.verdict.failures).toEqual(["attestation_unreachable"]);
      expect(second.retryAt!.getTime() - Date.now()).toBeGreaterThan(2_000);
      expect(aside).toEqual([]);
      expect(await findOwnedStacks(net.network, { owner })).toEqual([]);
      // The node is back: once the wait is over the client attests it, buys and is served.
      refuseConnections = false;
      A.relay.statusOf = (status) => status;
      await sleep(Math.max(0, second.retryAt!.getTime() - Date.now()) + 50);
      const answer = await client.chat(ask("Say hi."));
      expect(answer.attestation?.nodeId).toBe(A.registered.nodeId);
      expect(aside).toEqual([]);
    } finally {
      A.relay.statusOf = (status) => status;
    }
  }, 180_000);

  // Issue 14 review: a node's "no confidential compute here" and "no evidence for now" were one code to the client.
  it("the node's own code decides: a 400 confidential_unsupported puts it aside; stale, a bare 404 or a 503 is retried", async () => {
    const refusal = (code: string) =>
      JSON.stringify({ error: { message: code, type: "server_error", param: null, code } });
    const saying = (status: number, code: string) => {
      A.relay.statusOf = (given, path) => (path.startsWith("/v1/attestation") ? status : given);
      A.relay.rewrite = (body, path) => (path.startsWith("/v1/attestation") ? refusal(code) : body);
    };
    try {
      // For now: the node's record is being posted again. Skipped for its cooldown, never put aside.
      saying(503, "attestation_record_stale");
      const later = await clientOfA({ attestationRetryMs: 200 });
      const stale = await rejection(later.client.chat(ask("secret")));
      expect(stale).toBeInstanceOf(AttestationUnavailableError);
      expect((stale as AttestationUnavailableError).verdict).toMatchObject({
        transient: true,
        failures: ["attestation_record_stale"],
      });
      expect(later.aside).toEqual([]);
      // For good: the node's own well-formed 400 confidential_unsupported (it runs no confidential compute).
      saying(400, "confidential_unsupported");
      const never = await clientOfA({ attestationRetryMs: 200 });
      const unsupported = await rejection(never.client.chat(ask("secret")));
      expect(unsupported).toBeInstanceOf(AttestationRefusedError);
      expect(unsupported).not.toBeInstanceOf(AttestationUnavailableError);
      expect(failedCheck(unsupported)).toEqual({ name: "evidence", code: "confidential_unsupported" });
      expect(never.aside).toEqual([A.registered.nodeId]);
      expect(await findOwnedStacks(net.network, { owner: never.owner })).toEqual([]);
      // Review LOW-10: a bare 404 (a proxy mid-deploy, a misrouted request) or the code under a status the node never
      // sends it with (503 confidential_unsupported) is only for now: cooled down, never put aside for good.
      for (const [status, code] of [
        [404, "route_not_found"],
        [503, "confidential_unsupported"],
      ] as const) {
        saying(status, code);
        const cooled = await clientOfA({ attestationRetryMs: 200 });
        const forNow = await rejection(cooled.client.chat(ask("secret")));
        expect({ status, forNow }).toEqual({ status, forNow: expect.any(AttestationUnavailableError) });
        expect((forNow as AttestationUnavailableError).verdict).toMatchObject({
          transient: true,
          failures: ["attestation_unavailable"],
        });
        expect(cooled.aside).toEqual([]);
      }
    } finally {
      A.relay.statusOf = (status) => status;
      A.relay.rewrite = (body) => body;
    }
  }, 120_000);

  it("evidence that fails a check is a refusal: put aside for good, never asked again after any cooldown", async () => {
    const { client, aside } = await clientOfA({ attestationRetryMs: 200 });
    A.relay.rewrite = (body, path) => {
      if (!path.startsWith("/v1/attestation")) return body;
      const served = JSON.parse(body) as { evidence: { encryptionPublicKey: string } };
      served.evidence.encryptionPublicKey = toHex(crypto.getRandomValues(new Uint8Array(32)));
      return JSON.stringify(served);
    };
    try {
      const error = await rejection(client.chat(ask("secret")));
      expect(failedCheck(error)).toEqual({ name: "binding", code: "attestation_report_data_mismatch" });
      expect(error).not.toBeInstanceOf(AttestationUnavailableError);
      expect(aside).toEqual([A.registered.nodeId]);
    } finally {
      A.relay.rewrite = (body) => body;
    }
    await sleep(500);
    const asked = attestationGets();
    expect(await rejection(client.chat(ask("secret")))).toBeInstanceOf(NoNodeOfferedError);
    expect(attestationGets()).toBe(asked);
  }, 120_000);
});

describe("a task that requires GPUs (set on chain by governance)", () => {
  it("offers no node whose record declares no GPU evidence; refuses one that declares it and sends none, and a client that cannot check it", async () => {
    const taskId = net.confidentialTask;
    await setGpuRequired(net.network.admin, { taskId, required: true });
    try {
      // A's record was posted without GPU evidence: the chain no longer offers it, before anything is sealed or bought.
      const cpuOnly = await clientOfA({ gpu: { jwks } });
      expect(await rejection(cpuOnly.client.chat(ask("secret")))).toBeInstanceOf(NoNodeOfferedError);
      expect(await findOwnedStacks(net.network, { owner: cpuOnly.owner })).toEqual([]);

      // A re-attests with NVIDIA's token beside its quote: its record now declares GPU evidence.
      A.gpu.token = (reportData) => gpuToken(nras.privateKey, gpuNonceFor(reportData));
      await A.compute.rotateKey();
      await waitForGpuRecord();

      // A client given no key set cannot check the token the task requires: refused, nothing bought.
      const blind = await clientOfA({});
      expect(failedCheck(await rejection(blind.client.chat(ask("secret"))))).toEqual({
        name: "gpu",
        code: "gpu_keyset_missing",
      });
      expect(await findOwnedStacks(net.network, { owner: blind.owner })).toEqual([]);

      // A client that said GPU evidence was optional still has it checked on this task, and is served.
      const lenient = await clientOfA({ gpu: { jwks, required: false } });
      const answer = await lenient.client.chat(ask("Say hi."));
      expect(answer.attestation?.checks.find((c) => c.name === "gpu")).toMatchObject({ status: "pass" });

      // A node that declared GPU evidence and then sends none (its GPUs gone, or it lied) is refused anyway.
      A.gpu.token = undefined;
      const after = await clientOfA({ gpu: { jwks, required: false } });
      expect(failedCheck(await rejection(after.client.chat(ask("secret"))))).toEqual({
        name: "gpu",
        code: "gpu_evidence_missing",
      });
      expect(await findOwnedStacks(net.network, { owner: after.owner })).toEqual([]);
    } finally {
      A.gpu.token = undefined;
      await setGpuRequired(net.network.admin, { taskId, required: false });
    }
  }, 180_000);
});

async function waitForGpuRecord(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await getAttestation(net.network.admin, A.registered.nodeId))?.gpu) return;
    await sleep(100);
  }
  throw new Error("node A's record never declared its GPU evidence");
}
