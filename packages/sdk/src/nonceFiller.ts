import { requestHash } from "@atoma/core";

type Body = Record<string, unknown>;

/**
 * The smallest request of `denied`'s kind that takes a nonce the node denied `denied` at: the same model, a
 * one-character prompt (messages, prompt or input, whichever the body uses) and one token, so the nonce costs
 * almost nothing whatever the denied body's prompt was. Never the denied request itself (another request hash).
 */
export function nonceFiller(denied: Body): Body {
  for (const text of [".", ".."]) {
    const filler = fillerOf(denied, text);
    if (requestHash(filler) !== requestHash(denied)) return filler;
  }
  return { ...fillerOf(denied, "."), max_tokens: 2 };
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
