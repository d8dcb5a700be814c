import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { reveal, serveAndSettle } from "./harness/servingNode.js";
import { settlementWatch } from "./helpers/settlementWatch.js";

const Phase = { Reveal: 2 } as const;

/**
 * A griefing server holds its transcript open to every attester, so each holds a long step (the fetch; a slow
 * recompute is the same) in every slot its worker recomputes in: one here. Five nodes, three attesters a settlement:
 * any two settlements share an attester. An opening is one cheap chain transaction that slashes when missed; it used
 * to wait for a slot behind the held step (up to the fetch timeout), past the opening deadline.
 */
describe("an opening while long steps hold every slot", () => {
  let net: AttestNetwork;

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 5,
      sampleSize: 2,
      attesters: 3,
      fetchTimeoutMs: 600_000,
      concurrency: 1,
    });
  }, 240_000);
  afterAll(() => net?.stop(), 60_000);

  const { whenPhase } = settlementWatch(() => net);

  it("a transcript held open by a griefing server takes the recompute slot; its attesters still open their commitments on another settlement", async () => {
    const honest = await serveAndSettle(net, 2, { engine: net.engine });
    await whenPhase(honest.stackId, Phase.Reveal);
    const held = await serveAndSettle(net, 2, { engine: net.engine, stallTranscript: true });
    await eventually(
      async () => (held.server.front.holding >= held.attesters.length ? true : undefined),
      "every attester fetching the held transcript",
    );
    const shared = honest.attesters.filter((id) => held.attesters.includes(id));
    expect(shared.length).toBeGreaterThan(0);

    const revealed = await reveal(honest, honest.indices);
    expect(revealed.outcome).toBe("accepted");
    expect([...revealed.agreeing].sort()).toEqual([...honest.attesters].sort());
    // The held steps are still held: the openings did not wait for them.
    expect(held.server.front.holding).toBe(held.attesters.length);
    held.server.front.release();
  }, 240_000);
});
