import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { serveAndSettle } from "./harness/servingNode.js";
import { settlementWatch } from "./helpers/settlementWatch.js";

const Phase = { Reveal: 2 } as const;

/**
 * Item 19: one heavy duty must not starve the others. Five nodes, three attesters per settlement: any two
 * settlements share an attester. A colluding server holds every fetch of its transcript open; the attesters it
 * holds still commit to another settlement in time, and fetch each transcript once.
 */
describe("duties run side by side", () => {
  let net: AttestNetwork;

  beforeAll(async () => {
    net = await startAttestNetwork({ nodes: 5, sampleSize: 2, attesters: 3, fetchTimeoutMs: 600_000 });
  }, 240_000);
  afterAll(() => net?.stop(), 60_000);

  const { whenPhase } = settlementWatch(() => net);

  it("a transcript held open by a colluding server holds one duty, not the node: its attesters commit to another settlement meanwhile", async () => {
    const slow = await serveAndSettle(net, 2, { engine: net.engine, stallTranscript: true });
    await eventually(
      async () => (slow.server.front.holding >= slow.attesters.length ? true : undefined),
      "every attester fetching the stalled transcript",
    );
    const fast = await serveAndSettle(net, 2, { engine: net.engine });
    const shared = fast.attesters.filter((id) => slow.attesters.includes(id));
    expect(shared.length).toBeGreaterThan(0);
    await whenPhase(fast.stackId, Phase.Reveal);
    expect(slow.server.front.holding).toBe(slow.attesters.length);

    slow.server.front.release();
    await whenPhase(slow.stackId, Phase.Reveal);
    const fetched = (served: {
      server: { front: { blobRequests: Map<string, number> } };
      transcriptId: string;
    }) => served.server.front.blobRequests.get(served.transcriptId.toLowerCase());
    expect(fetched(slow)).toBe(slow.attesters.length);
    expect(fetched(fast)).toBe(fast.attesters.length);
  }, 240_000);

  it("refuses a request body longer than the on-chain bound a server may have to post (item 7)", async () => {
    const node = net.nodes[0]!.node;
    const bound = await net.deployment.contracts.settlementEvidence.read.maxRequestBytes();
    const post = (bytes: number) =>
      fetch(`${node.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `"${"a".repeat(bytes - 2)}"`,
      });
    expect((await post(bound + 1)).status).toBe(413);
    expect((await post(bound)).status).not.toBe(413);
  });
});
