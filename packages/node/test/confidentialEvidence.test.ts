import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type AttestationEvidence,
  type AttestationPolicy,
  type Collateral,
  createDevAuthority,
  type DevAuthority,
  fromHex,
  type HexString,
  issueDevAttestationKey,
  NonceStore,
  ReportDataMismatchError,
  type TdMeasurements,
  toHex,
  verifyAttestation,
  verifyTdxQuote,
} from "@atoma/confidential";
import { type Logger, silentLogger } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobStore } from "../src/blobs/blobStore.js";
import { attestationRoute } from "../src/confidential/attestationRoute.js";
import { ConfidentialCompute } from "../src/confidential/confidentialCompute.js";
import { startEpochAttester } from "../src/confidential/epochAttester.js";
import { EvidenceSourceError } from "../src/confidential/errors.js";
import { devEvidenceSource, type EvidenceSource } from "../src/confidential/evidenceSource.js";
import { QuoteBudgets, sourceKey } from "../src/confidential/quoteBudget.js";
import { tsmEvidenceSource } from "../src/confidential/tsmEvidenceSource.js";
import { waitFor } from "../src/devnet/waitFor.js";
import { createHttpApp } from "../src/http/createHttpApp.js";
import type { NodeApp } from "../src/http/nodeEnv.js";

const fixtures = fileURLToPath(new URL("../../confidential/test/fixtures/dcap/", import.meta.url));
const fixtureQuote = new Uint8Array(readFileSync(join(fixtures, "tdx_quote")));
const fixtureCollateral = JSON.parse(
  readFileSync(join(fixtures, "tdx_quote_collateral.json"), "utf8"),
) as Collateral;
/** Inside tdx_quote's collateral window (see the fixtures' README). */
const TDX_INSIDE = new Date("2025-06-21T00:00:00Z");

const root = mkdtempSync(join(tmpdir(), "atoma-tsm-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const reg = (byte: string) => `0x${byte.repeat(48)}` as HexString;
const MEASURED: TdMeasurements = {
  mrTd: reg("a1"),
  rtmr0: reg("b0"),
  rtmr1: reg("b1"),
  rtmr2: reg("b2"),
  rtmr3: reg("b3"),
};
const NODE = "0x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" as const;

/** A directory laid out as configfs-tsm lays out a report entry, its outblob holding a real TDX quote. */
function fakeTsm(name: string): string {
  const entry = join(root, name, "atoma");
  mkdirSync(entry, { recursive: true });
  writeFileSync(join(entry, "outblob"), fixtureQuote);
  writeFileSync(join(entry, "generation"), "1\n");
  return join(root, name);
}

describe("TDX evidence through configfs-tsm", () => {
  it("writes the binding to inblob and serves the quote from outblob with its collateral", async () => {
    const tsmRoot = fakeTsm("ok");
    const compute = new ConfidentialCompute({
      source: tsmEvidenceSource({ root: tsmRoot, collateral: async () => fixtureCollateral }),
      signingAddress: NODE,
    });
    const nonce = new NonceStore().issue();
    const evidence = await compute.forNonce(nonce);
    const written = new Uint8Array(readFileSync(join(tsmRoot, "atoma", "inblob")));
    const { bindingReportData } = await import("@atoma/confidential");
    expect(toHex(written)).toBe(
      toHex(
        bindingReportData({
          signingAddress: NODE,
          encryptionPublicKey: await compute.publicKey(),
          freshness: { kind: "nonce", nonce },
        }),
      ),
    );
    expect(evidence).toMatchObject({
      kind: "tdx",
      quote: toHex(fixtureQuote),
      encryptionPublicKey: await compute.publicKey(),
    });
    // The real quote verifies (signatures, collateral, TCB) at a pinned time...
    const verified = verifyTdxQuote(fromHex(evidence.quote, "quote"), fixtureCollateral, {
      nowSeconds: Math.floor(TDX_INSIDE.getTime() / 1000),
      allowedTcbStatuses: ["UpToDate"],
    });
    expect(verified.tcbStatus).toBe("UpToDate");
    // ...and a client refuses it, rightly: the fixture's report data binds nothing of this node.
    const policy: AttestationPolicy = {
      measurements: [{ label: "fixture", mrTd: verified.measurements.mrTd }],
    };
    await expect(
      verifyAttestation(evidence, policy, {
        signingAddress: NODE,
        freshness: { kind: "nonce", nonce },
        now: TDX_INSIDE,
      }),
    ).rejects.toBeInstanceOf(ReportDataMismatchError);
  });

  it("fails with its own error on a host without configfs-tsm, and serves 503 for it", async () => {
    const compute = new ConfidentialCompute({
      source: tsmEvidenceSource({ root: join(root, "absent"), collateral: async () => fixtureCollateral }),
      signingAddress: NODE,
    });
    await expect(compute.attestEpoch(1n)).rejects.toBeInstanceOf(EvidenceSourceError);
    await expect(compute.forNonce(new NonceStore().issue())).rejects.toMatchObject({
      code: "attestation_unavailable",
    });
  });

  it("refuses report data of the wrong length before touching the TEE", async () => {
    const tsmRoot = fakeTsm("len");
    const source = tsmEvidenceSource({ root: tsmRoot, collateral: async () => fixtureCollateral });
    await expect(source.produce(new Uint8Array(32), `0x${"11".repeat(32)}`)).rejects.toBeInstanceOf(
      EvidenceSourceError,
    );
    expect(() => readFileSync(join(tsmRoot, "atoma", "inblob"))).toThrow();
  });
});

describe("dev evidence, epochs and key rotation", () => {
  let authority: DevAuthority;
  let source: EvidenceSource;
  let policy: AttestationPolicy;
  beforeAll(async () => {
    authority = await createDevAuthority();
    source = devEvidenceSource(await issueDevAttestationKey(authority), MEASURED);
    policy = {
      measurements: [{ label: "dev", ...MEASURED }],
      dev: { rootCertificatePem: authority.rootCertificatePem },
    };
  });

  it("answers a client nonce with evidence the client verifies, labelled insecure", async () => {
    const compute = new ConfidentialCompute({ source, signingAddress: NODE });
    const nonces = new NonceStore();
    const nonce = nonces.issue();
    const verdict = await verifyAttestation(await compute.forNonce(nonce), policy, {
      signingAddress: NODE,
      freshness: { kind: "nonce", nonce },
      nonces,
    });
    expect(verdict).toMatchObject({ insecure: true, label: "insecure, development" });
    expect(verdict.binding.encryptionPublicKey).toBe(await compute.publicKey());
  });

  it("keeps the epoch evidence, and re-attests with the new key on rotation", async () => {
    const compute = new ConfidentialCompute({ source, signingAddress: NODE });
    const heard: bigint[] = [];
    compute.onEpochEvidence((e) => heard.push(e.epoch));
    const first = await compute.attestEpoch(7n);
    const oldKey = await compute.publicKey();
    const rotated = await compute.rotateKey();
    expect(rotated?.epoch).toBe(7n);
    expect(rotated?.encryptionPublicKey).not.toBe(oldKey);
    expect(compute.epochEvidence).toBe(rotated);
    expect(heard).toEqual([7n, 7n]);
    const expect7 = { signingAddress: NODE, freshness: { kind: "epoch" as const, epoch: 7n } };
    expect((await verifyAttestation(rotated!.evidence, policy, expect7)).binding.encryptionPublicKey).toBe(
      await compute.publicKey(),
    );
    // The old evidence still verifies for epoch 7, but for the old key only: a client seals to the key it vouches for.
    expect((await verifyAttestation(first.evidence, policy, expect7)).binding.encryptionPublicKey).toBe(
      oldKey,
    );
    await expect(
      verifyAttestation(first.evidence, policy, {
        signingAddress: NODE,
        freshness: { kind: "epoch", epoch: 8n },
      }),
    ).rejects.toBeInstanceOf(ReportDataMismatchError);
  });
});

describe("re-attestation each epoch", () => {
  it("attests at start, again when the epoch moves on, and retries after a failed attempt", async () => {
    const authority = await createDevAuthority();
    const dev = devEvidenceSource(await issueDevAttestationKey(authority), MEASURED);
    let failing = false;
    const flaky: EvidenceSource = {
      kind: "dev",
      produce: async (reportData, key) => {
        if (failing) throw new EvidenceSourceError("the TEE is busy");
        return dev.produce(reportData, key);
      },
    };
    const compute = new ConfidentialCompute({ source: flaky, signingAddress: NODE });
    let epoch = 1n;
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (_: unknown, message: string) => warnings.push(message),
    } as unknown as Logger;
    const attester = startEpochAttester(compute, { epoch: async () => epoch, pollMs: 10, logger });
    try {
      await attester.ready;
      expect(compute.epochEvidence?.epoch).toBe(1n);
      failing = true;
      epoch = 2n;
      await waitFor("a failed attempt", async () => warnings.length > 0, 5_000);
      expect(compute.epochEvidence?.epoch).toBe(1n);
      failing = false;
      await waitFor("epoch 2 evidence", async () => compute.epochEvidence?.epoch === 2n, 5_000);
      const policy: AttestationPolicy = {
        measurements: [{ label: "dev", ...MEASURED }],
        dev: { rootCertificatePem: authority.rootCertificatePem },
      };
      await verifyAttestation(compute.epochEvidence!.evidence, policy, {
        signingAddress: NODE,
        freshness: { kind: "epoch", epoch: 2n },
      });
    } finally {
      attester.stop();
    }
  });
});

describe("GET /v1/attestation against griefers", () => {
  let app: NodeApp;
  let produced = 0;
  let compute: ConfidentialCompute;
  const dir = mkdtempSync(join(tmpdir(), "atoma-attest-http-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    const authority = await createDevAuthority();
    const dev = devEvidenceSource(await issueDevAttestationKey(authority), MEASURED);
    const counting: EvidenceSource = {
      kind: "dev",
      produce: (reportData, key) => {
        produced += 1;
        return dev.produce(reportData, key);
      },
    };
    // The clock stands still: no token comes back during the loop.
    compute = new ConfidentialCompute({
      source: counting,
      signingAddress: NODE,
      quotesPerSecond: 1,
      quoteBurst: 3,
      quoteBurstPerSource: 2,
      now: () => 0,
    });
    const blobs = new BlobStore({}, { dir });
    await blobs.start();
    app = createHttpApp(
      { blobs, models: { listModels: () => [] } },
      { maxBodyBytes: 1_024, routes: [(a) => attestationRoute(a, compute)] },
    );
  });
  /** As the node's HTTP server gives it, the asking socket (getConnInfo reads its address). */
  const get = (query: string, from = "203.0.113.7") =>
    app.request(
      `/v1/attestation${query}`,
      {},
      { incoming: { socket: { remoteAddress: from, remoteFamily: "IPv4" } } },
    );
  const errorOf = async (res: Response) => ({
    status: res.status,
    ...((await res.json()) as { error: object }).error,
  });

  it("refuses a nonce that is not exactly 32 bytes of hex with an OpenAI-shaped 400", async () => {
    const good = `0x${"ab".repeat(32)}`;
    for (const bad of [
      "0x1234",
      `${good}00`,
      good.slice(0, -1),
      `0x${"zz".repeat(32)}`,
      "ab".repeat(33),
      `${good}&nonce=${good}`,
      encodeURIComponent(`${good} `),
    ]) {
      expect(await errorOf(await get(`?nonce=${bad}`))).toMatchObject({
        status: 400,
        type: "invalid_request_error",
        code: "invalid_attestation_nonce",
        param: "nonce",
      });
    }
    expect(produced).toBe(0);
  });

  it("serves 503 before the first epoch attestation, then the epoch evidence without producing a quote", async () => {
    expect((await get("")).status).toBe(503);
    await compute.attestEpoch(3n);
    const before = produced;
    const body = (await (await get("")).json()) as { freshness: unknown; evidence: AttestationEvidence };
    expect(body.freshness).toEqual({ kind: "epoch", epoch: "3" });
    expect(body.evidence.kind).toBe("dev");
    expect(produced).toBe(before);
  });

  it("a griefer looping over fresh nonces gets 429 once its share is spent; others still get quotes; a repeated nonce is cached", async () => {
    const before = produced;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 40; i++) {
      const res = await get(`?nonce=0x${i.toString(16).padStart(64, "0")}`);
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
      await res.body?.cancel();
    }
    // Its own share (burst 2), not the node's whole budget (burst 3).
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(38);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(produced - before).toBe(2);
    // The same griefer from another port or an IPv4-mapped form of its address is the same source.
    const mapped = await get(`?nonce=0x${"77".repeat(32)}`, "::ffff:203.0.113.7");
    expect(mapped.status).toBe(429);
    // An honest client elsewhere still gets its fresh quote; then the node's whole budget is spent.
    const honest = await get(`?nonce=0x${"aa".repeat(32)}`, "198.51.100.20");
    expect(honest.status).toBe(200);
    expect((await get(`?nonce=0x${"bb".repeat(32)}`, "198.51.100.21")).status).toBe(429);
    expect(produced - before).toBe(3);
    const again = await get(`?nonce=0x${(0).toString(16).padStart(64, "0")}`);
    expect(again.status).toBe(200);
    expect(produced - before).toBe(3);
  });

  it("five IPv6 /64s asking at their full share (the review's 600 s simulation) leave clients asking now and then their fresh quotes", () => {
    let now = 0;
    // The node's defaults (ConfidentialCompute): 2/s, burst 8; each source 0.5/s, burst 2.
    const budgets = new QuoteBudgets({
      perSecond: 2,
      burst: 8,
      perSourcePerSecond: 0.5,
      perSourceBurst: 2,
      now: () => now,
    });
    const griefers = [0, 1, 2, 3, 4].map((i) => `2001:db8:0:${i}::1`);
    let honest = 0;
    let griefed = 0;
    for (let step = 0; step < 6_000; step++) {
      now = step * 100;
      for (const source of griefers) if (budgets.take(source) === 0) griefed++;
      // An honest client every 5 s, from one of four addresses (each asks every 20 s).
      if (step % 50 === 25 && budgets.take(`10.0.0.${step % 200}`) === 0) honest++;
    }
    expect(honest).toBe(120);
    // The griefers still get the rest: the whole budget is spent, not left idle.
    expect(griefed).toBeGreaterThan(1_000);
  });

  it("counts an IPv6 client by its /64 (one host holds a whole /64 cheaply)", () => {
    expect(sourceKey("2001:db8:1:2:aaaa::1")).toBe(sourceKey("2001:0db8:0001:0002:ffff:1:2:3"));
    expect(sourceKey("2001:db8:1:3::1")).not.toBe(sourceKey("2001:db8:1:2::1"));
    expect(sourceKey("::ffff:10.0.0.1")).toBe("10.0.0.1");
  });
});
