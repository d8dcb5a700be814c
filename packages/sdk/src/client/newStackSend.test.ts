import { describe, expect, it } from "vitest";
import { NodeRequestError } from "../errors.js";
import { NewStackSends } from "./newStackSend.js";

const unknownStack = () =>
  new NodeRequestError(400, {
    message: "no such stack",
    type: "invalid_request_error",
    code: "unknown_stack",
  });

describe("NewStackSends: a node is given time to see a stack just bought, once", () => {
  it("asks again while a node does not know a stack just bought, and times the answer from the first try", async () => {
    const sends = new NewStackSends();
    let tries = 0;
    const sent = await sends.send({ stackId: 7n, bought: true }, async () => {
      tries += 1;
      if (tries < 3) throw unknownStack();
      return { answer: "ok" };
    });
    expect(tries).toBe(3);
    expect(sent.answer).toBe("ok");
    expect(sent.elapsedMs).toBeGreaterThan(400);
  });

  it("takes no more unknown_stack waits on a stack its node has answered on: the wait would be timed as generating", async () => {
    const sends = new NewStackSends();
    const stack = { stackId: 7n, bought: true };
    await sends.send(stack, async () => ({ answer: "first" }));
    let tries = 0;
    await expect(
      sends.send(stack, async () => {
        tries += 1;
        throw unknownStack();
      }),
    ).rejects.toMatchObject({ code: "unknown_stack" });
    expect(tries).toBe(1);
    // Another stack just bought is still waited for.
    let other = 0;
    await sends.send({ stackId: 8n, bought: true }, async () => {
      other += 1;
      if (other < 2) throw unknownStack();
      return {};
    });
    expect(other).toBe(2);
  });

  it("never waits on a stack it did not buy", async () => {
    const sends = new NewStackSends();
    let tries = 0;
    await expect(
      sends.send({ stackId: 9n, bought: false }, async () => {
        tries += 1;
        throw unknownStack();
      }),
    ).rejects.toBeInstanceOf(NodeRequestError);
    expect(tries).toBe(1);
  });
});
