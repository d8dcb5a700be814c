import { setMaxListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { requestDeadline } from "../src/network/requestDeadline.js";

describe("a request's deadline", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("cuts a request that outlives it, with a TimeoutError, as AbortSignal.timeout does", () => {
    vi.useFakeTimers();
    const client = new AbortController();
    const deadline = requestDeadline(client.signal, 300_000);
    vi.advanceTimersByTime(299_999);
    expect(deadline.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(deadline.signal.aborted).toBe(true);
    expect((deadline.signal.reason as DOMException).name).toBe("TimeoutError");
  });

  it("ends with the client, with the client's reason, even one gone before it began", () => {
    const client = new AbortController();
    const deadline = requestDeadline(client.signal, 300_000);
    const reason = new Error("client went away");
    client.abort(reason);
    expect(deadline.signal.reason).toBe(reason);
    deadline.end();
    const gone = requestDeadline(client.signal, 300_000);
    expect(gone.signal.aborted).toBe(true);
    expect(gone.signal.reason).toBe(reason);
  });

  it("leaves no timer and no listener behind once the request is done (each used to live five minutes)", () => {
    vi.useFakeTimers();
    const client = new AbortController();
    setMaxListeners(1_000, client.signal);
    const listeners = vi.spyOn(client.signal, "removeEventListener");
    const deadlines = Array.from({ length: 1_000 }, () => requestDeadline(client.signal, 300_000));
    expect(vi.getTimerCount()).toBe(1_000);
    for (const deadline of deadlines) deadline.end();
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners).toHaveBeenCalledTimes(1_000);
    client.abort(new Error("late"));
    vi.advanceTimersByTime(300_000);
    expect(deadlines.some((deadline) => deadline.signal.aborted)).toBe(false);
  });
});
