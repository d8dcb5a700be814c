import { describe, expect, it } from "vitest";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import { LONG_STREAM, shortChat } from "./helpers/chatBodies.js";
import { type NodeScript, streamsAs } from "./helpers/fakeNode.js";
import { type NodeGateway, suiteNodeGateway } from "./helpers/nodeGateway.js";
import { stackState } from "./helpers/stackState.js";
import { chat } from "./helpers/testGateway.js";

/**
 * The deadline the gateway signs requests with (s), and the grace after it (ms). Three seconds: deadlines are whole
 * seconds, and on a loaded machine a request's first resend must still land within its first deadline (at one
 * second a fresh CI's first resend came after it, was answered 401 and signed again, and the test measured another
 * path than the one it names).
 */
const DEADLINE_S = 3;
const GRACE_MS = 500;

// Review 3 of h-gw, HIGH-3: the strike of a node still answering 409 `request_in_flight` past a pending request's
// deadline and grace measured the deadline of the request as it stood, and the SDK signs a pending request again with a
// new deadline when the node answers it 401 `request_expired`. A node answered 409 until the deadline passed, then the
// leaf read with a 5xx (so the request is resent), the resend 401 `request_expired` (so it is signed again, its deadline
// renewed), and the renewed one 409 again: never struck, the stack's next nonce held for ever. The cutoff now runs from
// the deadline the request was first signed with at its nonce (as this process saw it), whatever it was signed with since.
/** A gateway over one fake node (`lies` changes what it answers), its first stack 1. */
function rigged(deadlineS = DEADLINE_S) {
  const lies: { leafReadStatus?: number; expiredFirst?: boolean } = {};
  const env: NodeGateway & { script: NodeScript; lies: typeof lies } = Object.assign(
    suiteNodeGateway({
      nodes: [{ script: streamsAs(() => env.script), options: { strictNonces: true, lies } }],
      upstream: {
        cutLimit: 100,
        deadlineSeconds: deadlineS,
        inFlightGraceMs: GRACE_MS,
      },
    }),
    { script: { kind: "honest" } as NodeScript, lies },
  );
  return env;
}

const plain = shortChat("again");
/** A new key's long stream the node cuts and never finishes: the stack's next nonce stays in flight. */
async function stuckStream(env: ReturnType<typeof rigged>, name: string) {
  const app = createGatewayApp(env.parts);
  const { key } = await env.parts.keys.create({ name, budget: "1" });
  env.script = { kind: "cutThenFinish", finishMs: 600_000 };
  const cut = await chat(app, key, LONG_STREAM);
  expect(await cut.text()).toContain("Hel");
  env.script = { kind: "honest" };
  return { app, key };
}
/** Deadlines are whole seconds: a second more than the grace past the deadline, wherever in its second it fell. */
const pastDeadlineAndGrace = (deadlineS = DEADLINE_S) =>
  new Promise((resolve) => setTimeout(resolve, deadlineS * 1000 + GRACE_MS + 1_600));

describe("a node that answers request_in_flight, then calls the request expired to have it signed again", () => {
  const env = rigged();

  it("strikes the node from the first deadline signed, whatever deadline the request was signed again with", async () => {
    const { app, key } = await stuckStream(env, "stuck");
    // Within the deadline: the node may still be finishing; nothing is struck.
    expect((await chat(app, key, plain)).status).toBeGreaterThanOrEqual(500);
    expect(env.nodeErrors).toEqual([]);

    await pastDeadlineAndGrace();
    env.lies.leafReadStatus = 503;
    env.lies.expiredFirst = true;
    expect((await chat(app, key, plain)).status).toBeGreaterThanOrEqual(500);
    // The request was signed again (its deadline renewed) and answered 409 again.
    const deadlines = new Set(
      env.node.envelopes.filter((e) => e["x-atoma-nonce"] === "0").map((e) => e["x-atoma-deadline"]),
    );
    expect(deadlines.size).toBeGreaterThan(1);
    expect(env.nodeErrors).toContain("1:in_flight_past_deadline");
    expect(await stackState(env.opened)).toBe("retired");
    expect(env.upstream.health.available(1n)).toBe(false);
  }, 60_000);
});

// Review 4 of h-gw, MEDIUM-A: the first deadline was noted whenever a pending request was listed, before any 409. A
// request whose first resend the node answered 401 `request_expired` (honestly: it checks the deadline first) was
// signed again with a new deadline, and the 409 an honest node then gives while it generates the renewed one struck
// it at once, measured from the old deadline. The deadline is now noted at the first 409 for that request.
describe("an honest node that answers a late resend 401 request_expired, then 409 while it generates the renewed one", () => {
  const env = rigged();

  it("is not struck: the cutoff runs from the deadline the request carried at its first 409", async () => {
    const { app, key } = await stuckStream(env, "late");
    // No call at all until the first deadline and its grace are past (an idle stack, a gateway restart).
    await pastDeadlineAndGrace();
    env.lies.leafReadStatus = 503;
    env.lies.expiredFirst = true;
    expect((await chat(app, key, plain)).status).toBeGreaterThanOrEqual(500);
    const deadlines = new Set(
      env.node.envelopes.filter((e) => e["x-atoma-nonce"] === "0").map((e) => e["x-atoma-deadline"]),
    );
    expect(deadlines.size).toBeGreaterThan(1);
    expect(env.nodeErrors).not.toContain("1:in_flight_past_deadline");
    expect({ state: await stackState(env.opened), errors: env.nodeErrors }).toEqual({
      state: "leased",
      errors: [],
    });
  }, 60_000);
});
