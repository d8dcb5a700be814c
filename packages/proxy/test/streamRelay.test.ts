import { describe, expect, it } from "vitest";
import { StreamRelay } from "../src/network/streamRelay.js";

const chunk = (content: string, extra: Record<string, unknown> = {}) => ({
  id: "c",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta: { content, ...extra }, finish_reason: null }],
});
const texts = (chunks: (Record<string, unknown> | undefined)[]) =>
  chunks
    .filter((c) => c !== undefined)
    .map((c) => (c!.choices as { delta: { content?: string } }[])[0]?.delta.content ?? "")
    .join("");

describe("a stream relayed across the SDK's resends", () => {
  it("never shows the client the same text twice when the node replays the answer in one chunk", () => {
    const relay = new StreamRelay();
    const first = [chunk("Hel", { role: "assistant" }), chunk("lo, ")].map((c) => relay.pass(c));
    relay.restart();
    const replay = relay.pass({
      id: "c",
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta: { role: "assistant", content: "Hello, world" }, finish_reason: "stop" }],
    });
    expect(texts([...first, replay])).toBe("Hello, world");
    expect(replay?.choices).toEqual([{ index: 0, delta: { content: "world" }, finish_reason: "stop" }]);
  });

  it("skips a replay streamed again token by token up to where the client is, then passes the rest", () => {
    const relay = new StreamRelay();
    const seen = ["a", "b", "c"].map((t) => relay.pass(chunk(t)));
    relay.restart();
    const again = ["a", "bc", "de", "f"].map((t) => relay.pass(chunk(t)));
    expect(again.slice(0, 2)).toEqual([undefined, undefined]);
    expect(texts([...seen, ...again])).toBe("abcdef");
  });

  it("ends the stream rather than splice a replay that disagrees with what the client already has", () => {
    const relay = new StreamRelay();
    relay.pass(chunk("yes"));
    relay.restart();
    expect(() => relay.pass(chunk("no!"))).toThrow(expect.objectContaining({ code: "node_failed" }));
  });

  it("passes the usage chunk once, and completions' text the same way", () => {
    const relay = new StreamRelay();
    const usage = { id: "c", choices: [], usage: { total_tokens: 3 } };
    relay.pass({ id: "t", choices: [{ index: 0, text: "ab", finish_reason: null }] });
    expect(relay.pass(usage)).toEqual(usage);
    relay.restart();
    expect(relay.pass({ id: "t", choices: [{ index: 0, text: "abc", finish_reason: "stop" }] })).toEqual({
      id: "t",
      choices: [{ index: 0, text: "c", finish_reason: "stop" }],
    });
    expect(relay.pass(usage)).toBeUndefined();
  });

  it("refuses to replay tool-call deltas the client already got part of", () => {
    const relay = new StreamRelay();
    const tool = { tool_calls: [{ index: 0, function: { arguments: "{" } }] };
    relay.pass({ id: "c", choices: [{ index: 0, delta: tool, finish_reason: null }] });
    relay.restart();
    expect(() => relay.pass({ id: "c", choices: [{ index: 0, delta: tool, finish_reason: null }] })).toThrow(
      expect.objectContaining({ code: "node_failed" }),
    );
  });
});

describe("logprobs relayed across the SDK's resends", () => {
  const entry = (token: string) => ({ token, logprob: -0.5, bytes: [], top_logprobs: [] });
  const withLogprobs = (content: string, tokens: string[], finish: string | null = null) => ({
    id: "c",
    object: "chat.completion.chunk",
    choices: [
      {
        index: 0,
        delta: { content },
        finish_reason: finish,
        logprobs: { content: tokens.map(entry), refusal: null },
      },
    ],
  });
  const logprobTokens = (chunks: (Record<string, unknown> | undefined)[]) =>
    chunks
      .filter((c) => c !== undefined)
      .flatMap((c) =>
        (
          (c!.choices as { logprobs: { content: { token: string }[] } | null }[])[0]?.logprobs?.content ?? []
        ).map((e) => e.token),
      );

  it("passes each token's logprob once when a replay repeats them all in one chunk", () => {
    const relay = new StreamRelay();
    const first = [withLogprobs("Hel", ["Hel"]), withLogprobs("lo", ["lo"])].map((c) => relay.pass(c));
    relay.restart();
    const replay = relay.pass(withLogprobs("Hello!", ["Hel", "lo", "!"], "stop"));
    expect(logprobTokens([...first, replay])).toEqual(["Hel", "lo", "!"]);
  });

  it("cuts completions' parallel arrays alike", () => {
    const relay = new StreamRelay();
    const piece = (text: string, tokens: string[]) => ({
      id: "c",
      object: "text_completion",
      choices: [
        {
          index: 0,
          text,
          finish_reason: null,
          logprobs: {
            tokens,
            token_logprobs: tokens.map(() => -1),
            top_logprobs: tokens.map(() => ({})),
            text_offset: tokens.map((_, i) => i),
          },
        },
      ],
    });
    relay.pass(piece("a", ["a"]));
    relay.restart();
    const replay = relay.pass(piece("ab", ["a", "b"]));
    expect((replay!.choices as { logprobs: unknown }[])[0]!.logprobs).toEqual({
      tokens: ["b"],
      token_logprobs: [-1],
      top_logprobs: [{}],
      text_offset: [1],
    });
  });
});
