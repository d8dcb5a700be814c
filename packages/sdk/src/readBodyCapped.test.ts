import { describe, expect, it } from "vitest";
import { AnswerTooLargeError } from "./errors.js";
import { readBodyCapped, readJsonCapped } from "./readBodyCapped.js";

describe("readBodyCapped", () => {
  it("reads a body within its bound", async () => {
    expect(await readJsonCapped(new Response('{"a":1}'), 100)).toEqual({ a: 1 });
  });

  it("refuses a declared length past the bound without reading", async () => {
    const answer = new Response("x".repeat(10), { headers: { "content-length": "1000000" } });
    await expect(readBodyCapped(answer, 100)).rejects.toBeInstanceOf(AnswerTooLargeError);
  });

  it("stops an undeclared body once it passes the bound, pulling little more", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1024;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    await expect(readBodyCapped(new Response(body), 10_000)).rejects.toMatchObject({
      code: "answer_too_large",
    });
    expect(pulled).toBeLessThan(20_000);
  });
});
