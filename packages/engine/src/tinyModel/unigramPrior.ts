import { SPACE_MARK, type TinyVocabulary } from "./vocabulary.js";

/** Rough English letter frequencies (per character, space included), so generations look like text. */
const LETTERS: Record<string, number> = {
  e: 0.1,
  t: 0.075,
  a: 0.065,
  o: 0.062,
  i: 0.057,
  n: 0.057,
  s: 0.053,
  h: 0.05,
  r: 0.049,
  d: 0.035,
  l: 0.033,
  c: 0.023,
  u: 0.023,
  m: 0.02,
  w: 0.019,
  f: 0.018,
  g: 0.016,
  y: 0.016,
  p: 0.015,
  b: 0.012,
  v: 0.008,
  k: 0.006,
  x: 0.0015,
  j: 0.001,
  q: 0.001,
  z: 0.0007,
};

/** Probability of each end-of-generation token per step under the prior (`</s>`, `<|im_end|>`, and `<|eot_id|>` in a vocabulary that has it). */
export const END_PROBABILITY = 0.015;

/**
 * A unigram prior over the vocabulary, as natural-log weights. The model adds it to every position's logits
 * through a constant hidden channel, so seeded random weights still write letter-like text and end with an
 * end-of-generation token every ~30 tokens on average (which exercises EOS, stop sequences and max tokens).
 */
export function unigramPrior(vocab: TinyVocabulary): Float32Array {
  const weight = new Float64Array(vocab.tokens.length).fill(1e-9);
  for (const id of vocab.bytes) weight[id] = 1e-5;
  weight[vocab.bytes[0x0a]!] = 0.01; // newline
  for (const id of vocab.characters) {
    const text = vocab.tokens[id]!;
    const lower = LETTERS[text];
    const upper = LETTERS[text.toLowerCase()];
    if (text === SPACE_MARK) weight[id] = 0.18;
    else if (lower !== undefined) weight[id] = lower;
    else if (upper !== undefined) weight[id] = upper * 0.1;
    else if (text === "," || text === ".") weight[id] = 0.01;
    else if (text >= "0" && text <= "9") weight[id] = 0.002;
    else weight[id] = 0.001;
  }
  weight[vocab.eos] = END_PROBABILITY;
  weight[vocab.imEnd] = END_PROBABILITY;
  const endOfTurn = vocab.extra["<|eot_id|>"];
  if (endOfTurn !== undefined) weight[endOfTurn] = END_PROBABILITY;
  // Rounded to 1/1024 so a last-bit difference in Math.log between platforms cannot change the file's bytes.
  return Float32Array.from(weight, (w) => Math.round(Math.log(w) * 1024) / 1024);
}
