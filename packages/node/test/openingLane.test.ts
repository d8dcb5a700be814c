import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttestationWorker } from "../src/attestation/attestationWorker.js";
import { insertDuty, listOpenDuties, updateDuty } from "../src/attestation/duties.js";
import { honestStrategy } from "../src/attestation/honestStrategy.js";
import { TranscriptCache } from "../src/attestation/transcriptCache.js";
import { sharedVrfKeyKeeper } from "../src/attestation/vrfKey.js";
import { dutyEnvOf } from "../src/duties/dutyEnv.js";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { reveal, serveAndSettle } from "./harness/servingNode.js";
import { settlementWatch } from "./helpers/settlementWatch.js";
import { embeddedTestDatabase } from "./helpers/stateDatabases.js";

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

  it("hundreds of open duties each get their step within one sweep, not a few slots a poll", async () => {
    // The worker of node 0's seat over a database of its own: 150 duties to commit and 150 to open, on stacks that
    // settled nothing (each step reads the chain and ends its duty). The poll is a minute: a pass that stopped at
    // full slots left the rest to the next poll (two slots a lane: four steps a minute), so the last duty waited
    // for hours of polls; now every pass cut short goes on as soon as a slot frees.
    const testDb = embeddedTestDatabase();
    const state = await testDb.open();
    const context = net.nodes[0]!.node.context;
    for (let k = 0n; k < 300n; k++) {
      await insertDuty(state.db, {
        kind: "attest",
        stackId: 1_000_000n + k,
        round: 0n,
        indices: [0n],
        eventBlock: 1n,
      });
    }
    const all = await listOpenDuties(state.db, { limit: 10_000 });
    for (const duty of all.filter((_, i) => i % 2 === 1))
      await updateDuty(state.db, duty.taskId, { state: "committed" });
    const worker = new AttestationWorker(
      {
        ...dutyEnvOf({ ...context, db: state.db, metrics: undefined }, "attestation-throughput"),
        strategy: honestStrategy,
        lookbackBlocks: 1_000n,
        transcript: { maxBytes: 1_000_000, timeoutMs: 5_000, cache: new TranscriptCache(1_000_000) },
        taskModels: new Map(),
        vrfKeys: sharedVrfKeyKeeper(context.seat, context.account, context.logger),
      },
      { pollIntervalMs: 60_000, concurrency: 2, stepTimeoutMs: 30_000 },
    );
    try {
      worker.start();
      await eventually(
        async () => ((await listOpenDuties(state.db, { limit: 10_000 })).length === 0 ? true : undefined),
        "every duty stepped within the first sweep",
        50_000,
      );
    } finally {
      await worker.stop();
      await state.close();
      await testDb.dispose();
    }
  }, 120_000);
});
