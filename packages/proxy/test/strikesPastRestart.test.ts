import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NetworkUpstreamOptions } from "../src/network/networkUpstream.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { chatAt, type GatewayRun, startGatewayRun } from "./helpers/restartableGateway.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const embedded = testDatabases()[0]!;
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = 10n ** 15n;
const gatewayAccount = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());
const DEADLINE_S = 3;
const GRACE_MS = 500;

const streamBody = {
  model: "tiny",
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 400,
  stream: true,
};
const plain = { model: "tiny", messages: [{ role: "user", content: "again" }], max_tokens: 4 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Issue 12, gateway state past a restart: the counts that put a cheating node aside (cuts, over-billed cuts) and the
// first deadline its in-flight strike counts from were kept in the gateway process's memory. A node restarting... no:
// a node waiting for the gateway to restart (a deploy, a crash, `kill -9`) between its offences had its count start
// from zero each time, and was never put aside. They are now kept in the gateway's database.
describe("a cheating node whose gateway restarts between its offences", () => {
  let db: TestDatabaseConfig;
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let script: NodeScript = { kind: "honest" };
  const lies: {
    leafReadStatus?: number;
    expiredFirst?: boolean;
    leafNotFound?: number;
    dropRequests?: number;
  } = {};
  let run: GatewayRun | undefined;
  let nodeErrors: string[] = [];
  let key = "";

  beforeEach(async () => {
    db = embedded.make();
    script = { kind: "honest" };
    for (const lie of Object.keys(lies)) delete lies[lie as keyof typeof lies];
    node = await startFakeNode(
      nodeKey,
      1n,
      CHAIN_ID,
      STACK_MANAGER,
      (body) => (body.stream === true ? script : { kind: "honest" }),
      { strictNonces: true, lies },
    );
  });
  afterEach(async () => {
    await run?.stop();
    run = undefined;
    await node?.stop();
    await db?.dispose();
  });

  /** Stops the gateway (if running) and starts it again on the same database, with fresh memory. */
  async function restart(options: NetworkUpstreamOptions): Promise<GatewayRun> {
    const first = run === undefined && key === "";
    const previous = run;
    await run?.stop();
    nodeErrors = [];
    run = await startGatewayRun(
      db.config,
      gatewayAccount,
      { url: node.url, signer: nodeKey, price: PRICE },
      { firstByteTimeoutMs: 5_000, resendDelayMs: 10, requestTimeoutMs: 60_000, ...options },
      nodeErrors,
      first ? 1_000_000n : undefined,
      previous?.holderId,
    );
    if (first) key = (await run.keys.create({ name: "restarted", budget: "1" })).key;
    return run;
  }

  /** A stream the node cuts (its leaf billing `bills` when given), then a plain request that reads its leaf. */
  async function cutThenRead(at: GatewayRun, bills?: "fabricated") {
    const reads = node.leafReads.length;
    // The node finishes well after the gateway's resend (answered 409): a cut, under any load.
    script = { kind: "cutThenFinish", finishMs: 1_500, ...(bills && { bills }) };
    expect(await (await chatAt(at, key, streamBody)).text()).toContain("Hel");
    await sleep(1_700);
    script = { kind: "honest" };
    expect((await chatAt(at, key, plain)).status).toBe(200);
    expect(node.leafReads.slice(reads).map((read) => read.found)).toEqual([true]);
  }

  it("puts a node that cuts streams aside at its third cut, one cut per gateway start", async () => {
    key = "";
    const options = { cutLimit: 3, overbilledCutLimit: 100 };
    for (let cut = 1; cut <= 3; cut++) {
      const at = await restart(options);
      await cutThenRead(at);
      if (cut < 3) {
        expect(nodeErrors).toEqual([]);
        expect(at.upstream.health.available(1n)).toBe(true);
      }
    }
    expect(nodeErrors).toContain("1:repeated_cuts");
    expect(run?.upstream.health.available(1n)).toBe(false);
  }, 120_000);

  it("puts a node that over-bills its cut streams' leaves aside at the second, one per gateway start", async () => {
    key = "";
    const options = { cutLimit: 100, overbilledCutLimit: 2 };
    const first = await restart(options);
    await cutThenRead(first, "fabricated");
    expect(nodeErrors).toEqual([]);
    const second = await restart(options);
    await cutThenRead(second, "fabricated");
    expect(nodeErrors).toContain("1:overbilled_cuts");
    expect(second.upstream.health.available(1n)).toBe(false);
  }, 120_000);

  it("forgets cuts from before the window, as without a restart", async () => {
    key = "";
    const options = { cutLimit: 2, overbilledCutLimit: 100, cutWindowMs: 8_000 };
    await cutThenRead(await restart(options));
    await sleep(8_500);
    // The first cut is out of the window: this one is the only one counted.
    await cutThenRead(await restart(options));
    expect(nodeErrors).toEqual([]);
    // Within the window of the second: counted with it.
    await cutThenRead(await restart(options));
    expect(nodeErrors).toContain("1:repeated_cuts");
  }, 120_000);

  it("strikes a node answering 409 for ever from the first deadline, the request signed again after a restart", async () => {
    key = "";
    const options = { cutLimit: 100, deadlineSeconds: DEADLINE_S, inFlightGraceMs: GRACE_MS };
    const first = await restart(options);
    script = { kind: "cutThenFinish", finishMs: 600_000 };
    expect(await (await chatAt(first, key, streamBody)).text()).toContain("Hel");
    script = { kind: "honest" };
    // The node's first 409 for the request, within its deadline: nothing struck yet.
    expect((await chatAt(first, key, plain)).status).toBeGreaterThanOrEqual(500);
    expect(nodeErrors).toEqual([]);

    const second = await restart(options);
    await sleep(DEADLINE_S * 1000 + GRACE_MS + 1_600);
    // The node calls the request expired, so that it is signed again with a new deadline, then 409 again.
    lies.leafReadStatus = 503;
    lies.expiredFirst = true;
    expect((await chatAt(second, key, plain)).status).toBeGreaterThanOrEqual(500);
    const deadlines = new Set(
      node.envelopes.filter((e) => e["x-atoma-nonce"] === "0").map((e) => e["x-atoma-deadline"]),
    );
    expect(deadlines.size).toBeGreaterThan(1);
    expect(nodeErrors).toContain("1:in_flight_past_deadline");
    expect(second.upstream.health.available(1n)).toBe(false);
  }, 120_000);

  it("takes out a node that called a leaf missing, then shows it after the gateway restarted", async () => {
    key = "";
    const options = { cutLimit: 100, overbilledCutLimit: 100 };
    const first = await restart(options);
    script = { kind: "cutThenFinish", finishMs: 1_500, bills: "bound" };
    expect(await (await chatAt(first, key, streamBody)).text()).toContain("Hel");
    await sleep(1_700);
    script = { kind: "honest" };
    // The leaf read is told "no leaf" (the nonce freed on the node's word), and the request signed at the freed nonce
    // never reaches the node: it stays pending.
    lies.leafNotFound = 1;
    lies.dropRequests = 3;
    expect(
      (await chatAt(first, key, { ...plain, messages: [{ role: "user", content: "dropped" }] })).status,
    ).toBeGreaterThanOrEqual(500);

    const second = await restart(options);
    // The pending request's resend is called `nonce_reused`, and the leaf read now shows the freed request's leaf.
    await (await chatAt(second, key, { ...plain, messages: [{ role: "user", content: "next" }] })).text();
    expect(node.leafReads.map((read) => read.found)).toEqual([true, true]);
    await expect.poll(() => nodeErrors, { timeout: 5_000 }).toContain("1:billed_error_answer");
    expect(second.upstream.health.isRemoved(1n)).toBe(true);
  }, 120_000);

  it("counts a cut stream's leaf billed far above what it carried, read only after the gateway restarted", async () => {
    key = "";
    const options = { cutLimit: 100, overbilledCutLimit: 1 };
    const first = await restart(options);
    script = { kind: "cutThenFinish", finishMs: 1_500, bills: "fabricated" };
    expect(await (await chatAt(first, key, streamBody)).text()).toContain("Hel");
    await sleep(1_700);
    script = { kind: "honest" };

    const second = await restart(options);
    expect((await chatAt(second, key, plain)).status).toBe(200);
    // The cut request's leaf is read first (not resent), and measured against what its stream carried.
    expect(node.leafReads.at(-1)?.found).toBe(true);
    await expect.poll(() => nodeErrors, { timeout: 5_000 }).toContain("1:overbilled_cuts");
    expect(second.upstream.health.available(1n)).toBe(false);
  }, 120_000);
});
