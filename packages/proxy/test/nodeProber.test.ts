import { describe, expect, it } from "vitest";
import type { CatalogNode } from "../src/network/catalog.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { NodeProber } from "../src/routing/nodeProber.js";

const node = (id: number): CatalogNode => ({
  nodeId: BigInt(id),
  url: `http://node-${id}.test`,
  signer: `0x${"00".repeat(20)}`,
  pricePerMillion: 1n,
});

describe("health checks of the nodes", () => {
  it("reads uptime from /health and the queue from /metrics, and shrugs off hostile answers", async () => {
    const answers: Record<string, () => Response> = {
      "node-1.test/health": () => Response.json({ status: "ok" }),
      "node-1.test/metrics": () =>
        new Response("# HELP x\natoma_node_queue_depth 7\natoma_node_active_streams 2\n"),
      "node-2.test/health": () => Response.json({ status: "degraded" }, { status: 503 }),
      "node-2.test/metrics": () => new Response("atoma_node_queue_depth -5\n"),
      "node-3.test/health": () => {
        throw new TypeError("fetch failed");
      },
      "node-3.test/metrics": () => new Response("atoma_node_queue_depth NaN\n"),
    };
    const fake = (async (input: URL | string) => {
      const url = new URL(String(input));
      const answer = answers[`${url.host}${url.pathname}`];
      if (!answer) throw new TypeError("fetch failed");
      return answer();
    }) as typeof fetch;
    const book = new NodeHealthBook();
    const prober = new NodeProber(book, { fetch: fake });
    await prober.probe([node(1), node(2), node(3)]);
    expect(book.observation(1n)).toMatchObject({ uptime: 1, queueDepth: 7 });
    expect(book.observation(2n)).toMatchObject({ uptime: 0, queueDepth: 0 });
    expect(book.observation(3n)).toMatchObject({ uptime: 0, queueDepth: 0 });
    answers["node-2.test/health"] = () => Response.json({ status: "ok" });
    await prober.probe([node(2)]);
    expect(book.observation(2n).uptime).toBe(0.5);
  });

  it("reads a metrics page of undeclared length only up to its bound", async () => {
    let pulled = 0;
    const endless = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            pulled += 65_536;
            controller.enqueue(new TextEncoder().encode(`${"#".repeat(65_535)}\n`));
          },
        }),
      );
    const fake = (async (input: URL | string) =>
      new URL(String(input)).pathname === "/health"
        ? Response.json({ status: "ok" })
        : endless()) as typeof fetch;
    const book = new NodeHealthBook();
    await new NodeProber(book, { fetch: fake }).probe([node(4)]);
    expect(book.observation(4n)).toMatchObject({ uptime: 1, queueDepth: 0 });
    expect(pulled).toBeLessThan(4 * 1_048_576);
  });
});
