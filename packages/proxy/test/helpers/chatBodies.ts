/** A streamed chat request long enough (400 tokens at most) for a node to cut it part way. */
export const LONG_STREAM = {
  model: "tiny",
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 400,
  stream: true,
};

/** A short plain (not streamed) chat request saying `content`. */
export const shortChat = (content: string) => ({
  model: "tiny",
  messages: [{ role: "user", content }],
  max_tokens: 4,
});

/**
 * How long a `cutThenFinish` node takes to commit a stream it cut: longer than the gateway's own resends of the cut
 * request take on a loaded machine, so each of them finds it still in flight and the leaf waits for the next request.
 */
export const CUT_FINISH_MS = 1_500;
