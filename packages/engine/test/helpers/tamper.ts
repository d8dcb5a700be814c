import type { Claim } from "../../src/verify/claim.js";

/** A small seeded generator, so tampered test sets are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

export interface Honest {
  tokens: number[];
  text: string;
  finishReason: "stop" | "length";
  completionTokens: number;
}

export interface TamperTools {
  random: () => number;
  /** Token id of a single character. */
  charToken: (char: string) => number;
  isEog: (token: number) => boolean;
  detokenize: (tokens: number[]) => string;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz ";

function claim(tools: TamperTools, tokens: number[], finishReason: "stop" | "length"): Claim {
  return {
    tokenIds: tokens,
    text: tools.detokenize(tokens.filter((t) => !tools.isEog(t))),
    finishReason,
    completionTokens: tokens.length,
  };
}

/** The honest tokens with one text token replaced by another character; undefined when there is no text. */
export function changeOneToken(
  honest: Honest,
  tools: TamperTools,
): { claim: Claim; position: number } | undefined {
  const textTokens = honest.tokens.length - (tools.isEog(honest.tokens.at(-1)!) ? 1 : 0);
  if (textTokens === 0) return undefined;
  const position = Math.floor(tools.random() * textTokens);
  const tokens = [...honest.tokens];
  let replacement: number;
  do replacement = tools.charToken(LETTERS[Math.floor(tools.random() * LETTERS.length)]!);
  while (replacement === tokens[position]);
  tokens[position] = replacement;
  return { claim: claim(tools, tokens, honest.finishReason), position };
}

/** The honest tokens with their last 1..half dropped (usage adjusted to match, as a cheater would). */
export function truncate(honest: Honest, tools: TamperTools): Claim | undefined {
  if (honest.tokens.length < 2) return undefined;
  const drop = 1 + Math.floor(tools.random() * (honest.tokens.length / 2));
  return claim(tools, honest.tokens.slice(0, honest.tokens.length - drop), honest.finishReason);
}

/** The honest tokens with 1–4 characters added before the end (before the end-of-generation token, if any). */
export function extend(honest: Honest, tools: TamperTools): Claim {
  const end = tools.isEog(honest.tokens.at(-1)!) ? honest.tokens.length - 1 : honest.tokens.length;
  const extra = Array.from({ length: 1 + Math.floor(tools.random() * 4) }, () =>
    tools.charToken(LETTERS[Math.floor(tools.random() * LETTERS.length)]!),
  );
  return claim(
    tools,
    [...honest.tokens.slice(0, end), ...extra, ...honest.tokens.slice(end)],
    honest.finishReason,
  );
}

/**
 * The honest tokens with `fraction` of their text tokens (at least one) replaced, each by another single-character
 * token at a distinct position: a node passing off cheaper or edited output as the model's.
 */
export function changeFraction(honest: Honest, fraction: number, tools: TamperTools): Claim | undefined {
  const textTokens = honest.tokens.length - (tools.isEog(honest.tokens.at(-1)!) ? 1 : 0);
  if (textTokens === 0) return undefined;
  const count = Math.min(textTokens, Math.max(1, Math.round(fraction * textTokens)));
  const positions = [...Array(textTokens).keys()];
  for (let i = positions.length - 1; i > 0; i--) {
    const j = Math.floor(tools.random() * (i + 1));
    [positions[i], positions[j]] = [positions[j]!, positions[i]!];
  }
  const tokens = [...honest.tokens];
  for (const position of positions.slice(0, count)) {
    let replacement: number;
    do replacement = tools.charToken(LETTERS[Math.floor(tools.random() * LETTERS.length)]!);
    while (replacement === tokens[position]);
    tokens[position] = replacement;
  }
  return claim(tools, tokens, honest.finishReason);
}
