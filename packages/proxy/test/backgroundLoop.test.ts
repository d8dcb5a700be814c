import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { BackgroundLoop } from "../src/network/backgroundLoop.js";

describe("the gateway's background loop", () => {
  it("runs a pass at a time, keeps going after a failed one, and stops only once the pass in progress ended", async () => {
    const lines: string[] = [];
    const logger = pino({ base: null }, { write: (line: string) => void lines.push(line) });
    const events: string[] = [];
    let passes = 0;
    let secondStarted: () => void = () => {};
    const second = new Promise<void>((resolve) => {
      secondStarted = resolve;
    });
    const loop = new BackgroundLoop(
      "test",
      10,
      async () => {
        const n = ++passes;
        events.push(`start ${n}`);
        if (n === 2) secondStarted();
        await new Promise((resolve) => setTimeout(resolve, 50));
        events.push(`end ${n}`);
        if (n === 1) throw new Error("the chain is down");
      },
      logger,
    );
    loop.start();
    loop.start();
    // Stop while the second pass runs, however slowly the machine schedules the first.
    await second;
    await loop.stop();
    const ended = events.length;
    // Never two passes at once, and the one in progress when stop was called finished first.
    expect(events).toEqual(
      Array.from({ length: ended }, (_, i) => `${i % 2 ? "end" : "start"} ${(i >> 1) + 1}`),
    );
    expect(events.at(-1)).toMatch(/^end/);
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(lines.filter((line) => line.includes("a background pass failed"))).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events).toHaveLength(ended);
  });
});
