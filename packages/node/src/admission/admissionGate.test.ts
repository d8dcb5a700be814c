import { describe, expect, it } from "vitest";
import { QueueFullError } from "../errors.js";
import { createNodeMetrics } from "../metrics/nodeMetrics.js";
import { AdmissionGate, type Permit } from "./admissionGate.js";

const gauge = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await metric.get()).values[0]?.value;

describe("AdmissionGate", () => {
  it("admits up to the limit, queues in order, and refuses past the queue with a Retry-After", async () => {
    const metrics = createNodeMetrics({ processMetrics: false });
    let now = 0;
    const gate = new AdmissionGate({ metrics }, { maxConcurrent: 2, maxQueue: 2, now: () => now });
    const a = await gate.acquire();
    const b = await gate.acquire();
    const order: string[] = [];
    const inOrder = (name: string) => (permit: Permit) => {
      order.push(name);
      return permit;
    };
    const c = gate.acquire().then(inOrder("c"));
    const d = gate.acquire().then(inOrder("d"));
    expect([gate.active, gate.queued]).toEqual([2, 2]);
    expect(await gauge(metrics.queueDepth)).toBe(2);
    const refused = await gate.acquire().catch((error) => error);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect((refused as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);

    now = 10_000;
    a.release();
    a.release(); // twice is harmless
    const permitC = await c;
    expect([gate.active, gate.queued]).toEqual([2, 1]);
    b.release();
    const permitD = await d;
    expect(order).toEqual(["c", "d"]);
    permitC.release();
    permitD.release();
    expect([gate.active, gate.queued]).toEqual([0, 0]);
    expect(await gauge(metrics.activeStreams)).toBe(0);
    expect(await gauge(metrics.queueDepth)).toBe(0);
    // permits were held ~10 s: a refused client is told to wait longer than the 1 s floor
    const held: Permit[] = [await gate.acquire(), await gate.acquire()];
    void gate.acquire();
    void gate.acquire();
    expect(gate.retryAfterSeconds()).toBeGreaterThan(1);
    for (const permit of held) permit.release();
  });

  it("drops a waiter whose client went away", async () => {
    const gate = new AdmissionGate({}, { maxConcurrent: 1, maxQueue: 5 });
    const holder = await gate.acquire();
    const controller = new AbortController();
    const abandoned = gate.acquire(controller.signal);
    const next = gate.acquire();
    controller.abort(new Error("client disconnected"));
    await expect(abandoned).rejects.toThrow("client disconnected");
    expect(gate.queued).toBe(1);
    holder.release();
    (await next).release();
    expect(gate.active).toBe(0);
  });

  it("runs work under a permit and frees it on failure", async () => {
    const gate = new AdmissionGate({}, { maxConcurrent: 1, maxQueue: 0 });
    await expect(gate.run(async () => Promise.reject(new Error("engine failed")))).rejects.toThrow(
      "engine failed",
    );
    expect(await gate.run(async () => 42)).toBe(42);
    expect(gate.active).toBe(0);
  });
});
