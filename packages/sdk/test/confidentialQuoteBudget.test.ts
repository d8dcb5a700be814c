import { toHex } from "@atoma/confidential";
import { waitFor } from "@atoma/node/devnet";
import { AttestationUnavailableError, createAtomaClient } from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfidentialNetwork, startConfidentialNetwork } from "./confidentialNetwork.js";

let net: ConfidentialNetwork;
/** The griefer's loop, while it runs. */
let griefing: ReturnType<typeof setInterval> | undefined;
let griefed = 0;

beforeAll(async () => {
  // The nodes keep their default fresh-quote budget: 2/s in all, 0.5/s per source.
  net = await startConfidentialNetwork({ quoteDefaults: true });
  // Each node attests the chain's current epoch, and serves that evidence once its record is on the chain.
  const epoch = await net.chainEpoch();
  for (const { compute, relay } of net.nodes) {
    await compute.attestEpoch(epoch);
    await waitFor(
      "the node's epoch evidence",
      async () => {
        const served = (await (await fetch(new URL("/v1/attestation", relay.url))).json()) as {
          freshness?: { epoch?: string };
          statement?: unknown;
        };
        return served.freshness?.epoch === String(epoch) && served.statement !== undefined;
      },
      30_000,
    );
  }
}, 240_000);
afterAll(async () => {
  if (griefing) clearInterval(griefing);
  await net?.stop();
}, 60_000);

const ask = (content: string) => ({
  model: net.model.id,
  messages: [{ role: "user", content }],
  max_tokens: 4,
  seed: 5,
});

/**
 * A griefer holding a whole IPv6 /48: every millisecond each node is asked for fresh nonces from five /64s it has not
 * used yet (each counts as a quiet source), so the nodes' whole budget, reserve included, stays spent.
 */
function startGriefing(): void {
  let next = 0;
  griefing = setInterval(() => {
    for (const { compute } of net.nodes)
      for (let i = 0; i < 5; i++) {
        const nonce = toHex(crypto.getRandomValues(new Uint8Array(32)));
        try {
          compute.forNonce(nonce, `2001:db8:${(next++).toString(16)}::1`).catch(() => {});
          griefed++;
        } catch {
          // 429: the budget is spent, as the griefer wants
        }
      }
  }, 1);
}

describe("a direct confidential client while griefers spend the nodes' fresh quotes", () => {
  it("is still served: after the node's 429 it takes the epoch evidence the chain's record names", async () => {
    startGriefing();
    // The griefer got the budget first.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(griefed).toBeGreaterThan(0);
    const { account } = await net.network.account();
    const client = createAtomaClient({
      network: net.networkText(),
      account,
      confidential: true,
      stack: { units: 20_000n },
    });
    const answer = await client.chat(ask("Say hi."));
    expect(answer.verdict?.ok).toBe(true);
    expect(answer.attestation?.ok).toBe(true);
    const evidence = answer.attestation?.checks.find((c) => c.name === "evidence");
    expect(evidence?.reason).toMatch(/evidence for epoch \d+ \(the node's fresh quotes were rate-limited\)/);
    expect(answer.attestation?.checks.find((c) => c.name === "nonce")?.status).toBe("skipped");
  }, 120_000);

  it("with epochEvidence: false it waits instead: the node is unavailable for now, not refused", async () => {
    const { account } = await net.network.account();
    const client = createAtomaClient({
      network: net.networkText(),
      account,
      confidential: { epochEvidence: false },
      stack: { units: 20_000n },
    });
    const error = await client.chat(ask("Say hi.")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AttestationUnavailableError);
    expect((error as AttestationUnavailableError).verdict.failures).toEqual(["attestation_rate_limited"]);
  }, 120_000);
});
