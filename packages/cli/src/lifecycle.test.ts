import { type Logger, silentLogger } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { ServiceStack } from "./lifecycle.js";

/** The warnings a logger was given, in order. */
function warnings(): { logger: Logger; seen: { obj: object; msg?: string | undefined }[] } {
  const seen: { obj: object; msg?: string | undefined }[] = [];
  const logger: Logger = { ...silentLogger, warn: (obj, msg) => void seen.push({ obj, msg }) };
  return { logger, seen };
}

// Issue 12's CI run: an `atoma dev` teardown ran past its test's 60 s hook with nothing saying which part it waited
// for. A service whose stop takes long is named, with how long it took; the quick ones are not.
describe("a ServiceStack stopping", () => {
  it("names a slow service's stop, in reverse order of start, and no quick one", async () => {
    const { logger, seen } = warnings();
    const services = new ServiceStack(logger, 100);
    const order: string[] = [];
    services.add({ name: "quick", stop: async () => void order.push("quick") });
    services.add({
      name: "slow",
      stop: () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            order.push("slow");
            resolve();
          }, 300),
        ),
    });
    await services.stopAll();
    expect(order).toEqual(["slow", "quick"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.msg).toBe("stopping took long");
    expect(seen[0]?.obj).toMatchObject({ service: "slow" });
    const [warning] = seen;
    expect((warning!.obj as { ms: number }).ms).toBeGreaterThanOrEqual(100);
  });
});
