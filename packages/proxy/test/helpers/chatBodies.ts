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
