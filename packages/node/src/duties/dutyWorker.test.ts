import { afterEach, describe, expect, it, vi } from "vitest";
import { sleep } from "../listener/sleep.js";
import { DutyWorker } from "./dutyWorker.js";

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

interface Duty {
  key: number;
  lane: string;
  /** How long its step takes. */
  ms: number;
  fails?: boolean;
}

/**
 * A worker whose pass starts the due duties in turn, in each lane while it has a free slot, after the duty it
 * started last (the attestation worker's rotation), recording when each step began and counting passes.
 */
function rotation(duties: Duty[], options: { pollIntervalMs: number; lanes: Record<string, number> }) {
  const starts = new Map<number, number[]>(duties.map((d) => [d.key, []]));
  const cursor = new Map<string, number>();
  let passes = 0;
  const worker: DutyWorker<number> = new DutyWorker<number>(
    { ...options, maxBackoffMs: 60_000 },
    {
      pass: async (signal) => {
        passes++;
        for (const lane of Object.keys(options.lanes)) {
          const inLane = duties.filter((d) => d.lane === lane);
          const from = cursor.get(lane) ?? 0;
          for (let i = 0; i < inLane.length; i++) {
            const duty = inLane[(from + i) % inLane.length]!;
            if (!worker.due(duty.key)) continue;
            const step = async () => {
              starts.get(duty.key)!.push(Date.now());
              await sleep(duty.ms, signal);
              if (duty.fails) throw new Error("step failed");
            };
            if (!worker.launch(duty.key, lane, () => worker.attempt(duty.key, step, () => {}))) break;
            cursor.set(lane, (from + i + 1) % inLane.length);
          }
        }
      },
      passFailed: () => {},
    },
  );
  stop = () => worker.stop();
  const steps = () => [...starts.values()].reduce((n, s) => n + s.length, 0);
  return { worker, starts, steps, passes: () => passes };
}

const duties = (n: number, lane: string, ms: number, from = 0): Duty[] =>
  [...Array(n).keys()].map((i) => ({ key: from + i, lane, ms }));

describe("DutyWorker", () => {
  it("a pass cut short by full slots goes on when a slot frees, not at the next poll: 20 duties, 2 slots, 20 ms steps, a 60 s poll", async () => {
    // 200 ms of steps in all; on a loaded machine far more, but never the minute a poll-bound worker needs per pass.
    const all = duties(20, "main", 20);
    const { worker, starts } = rotation(all, { pollIntervalMs: 60_000, lanes: { main: 2 } });
    worker.start();
    await vi.waitFor(
      () => {
        for (const { key } of all) expect(starts.get(key)!.length, `duty ${key}`).toBe(1);
      },
      { timeout: 20_000, interval: 20 },
    );
  });

  it("does not spin when slots free: each duty steps once a sweep, and duties all running or backing off wait for the poll", async () => {
    // A pass comes at the poll, or when a step ends and frees a slot a pass missed: never more.
    const bound = (pollMs: number, steps: number) => Math.ceil(1_000 / pollMs) + 1 + steps;
    // Quick steps free slots all the time: still one step a duty per 400 ms sweep.
    const quick = rotation(duties(4, "main", 5), { pollIntervalMs: 400, lanes: { main: 2 } });
    quick.worker.start();
    await sleep(1_000);
    await stop?.();
    for (const [key, s] of quick.starts) expect(s.length, `duty ${key}`).toBeLessThanOrEqual(3);
    expect(quick.passes()).toBeLessThanOrEqual(bound(400, quick.steps()));

    // Every duty fails and backs off (200 ms, then 400, 800): passes come at the poll, and when a step ends.
    const failing = duties(3, "main", 1).map((d) => ({ ...d, fails: true }));
    const backingOff = rotation(failing, { pollIntervalMs: 100, lanes: { main: 1 } });
    backingOff.worker.start();
    await sleep(1_000);
    await stop?.();
    expect(backingOff.steps()).toBeLessThanOrEqual(9);
    expect(backingOff.passes()).toBeLessThanOrEqual(bound(100, backingOff.steps()));

    // Long steps hold every slot: passes at the poll alone.
    const held = rotation(duties(3, "main", 5_000), { pollIntervalMs: 100, lanes: { main: 2 } });
    held.worker.start();
    await sleep(1_000);
    expect(held.passes()).toBeLessThanOrEqual(bound(100, 0));
    expect(held.steps()).toBe(2);
  });

  it("long steps holding every slot of one lane do not hold another lane's duties, nor their turns", async () => {
    const long = duties(4, "compute", 120_000);
    const cheap = duties(6, "chain", 30, 100);
    const { worker, starts } = rotation([...long, ...cheap], {
      pollIntervalMs: 60_000,
      lanes: { compute: 2, chain: 1 },
    });
    worker.start();
    // Well before the long steps end or the next poll comes: every cheap duty stepped once, in its own lane.
    await vi.waitFor(
      () => {
        for (const { key } of cheap) expect(starts.get(key)!.length, `chain duty ${key}`).toBe(1);
      },
      { timeout: 20_000, interval: 20 },
    );
    expect(long.filter(({ key }) => starts.get(key)!.length > 0).length).toBe(2);
  });

  it("starts sweeps an interval apart, not an interval after the pass a freed slot woke", async () => {
    // One slot, two duties whose steps take under half the interval: the second waits for the first's slot, and the
    // pass its end wakes starts it. Sleeping a whole interval after that woken pass spaced each duty's steps an
    // interval and a half apart (2.9 s here); counted from the sweep's start they come an interval apart (2 s).
    const { worker, starts } = rotation(duties(2, "main", 900), {
      pollIntervalMs: 2_000,
      lanes: { main: 1 },
    });
    worker.start();
    await vi.waitFor(() => expect(starts.get(0)!.length).toBeGreaterThanOrEqual(4), {
      timeout: 60_000,
      interval: 50,
    });
    const at = starts.get(0)!;
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    gaps.sort((a, b) => a - b);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(2_450);
  });
});
