import { requestHash } from "@atoma/core";

type Body = Record<string, unknown>;

/** The one-character prompts a filler tries, in turn: another when the node denied one at that nonce too. */
const FILLER_TEXTS = [".", "..", "...", "...."] as const;

/**
 * The smallest request of `denied`'s kind that takes a nonce the node denied `denied` at: the same model, a
 * one-character prompt (messages, prompt or input, whichever the body uses) and one token, so the nonce costs
 * almost nothing whatever the denied body's prompt was. Never the denied request itself (another request hash), nor
 * one `taken` says the node denied at that nonce as well (else the same filler, denied, would fail the call for ever):
 * undefined once every filler is.
 */
export function nonceFiller(
  denied: Body,
  taken: (reqHash: string) => boolean = () => false,
): Body | undefined {
  const deniedHash = requestHash(denied).toLowerCase();
  const candidates = [
    ...FILLER_TEXTS.map((text) => fillerOf(denied, text)),
    { ...fillerOf(denied, "."), max_tokens: 2 },
  ];
  return candidates.find((filler) => {
    const hash = requestHash(filler).toLowerCase();
    return hash !== deniedHash && !taken(hash);
  });
}

function fillerOf(denied: Body, text: string): Body {
  const filler: Body = { stream: false };
  if (denied.model !== undefined) filler.model = denied.model;
  if (denied.messages !== undefined) filler.messages = [{ role: "user", content: text }];
  else if (denied.prompt !== undefined) filler.prompt = text;
  else if (denied.input !== undefined) {
    filler.input = text;
    // An embedding generates nothing: no token limit to name.
    return filler;
  }
  filler.max_tokens = 1;
  return filler;
}
