import type { LlamaModel, Token } from "node-llama-cpp";

/** Text of some token ids as they read in the middle of a text. */
export type Detokenize = (tokens: readonly number[]) => string;

/**
 * The model's detokenizer, position-independent: tokens are rendered after a fixed anchor of plain text and the
 * anchor's text is cut off, so a SentencePiece word-start token reads " word" wherever it comes (llama.cpp strips
 * that space only at the very start of a text). Single-token pieces that are whole characters are cached, so
 * generation pays one native call per token only for byte-fallback tokens. Special tokens render as nothing.
 */
export function positionIndependentDetokenizer(model: LlamaModel): Detokenize {
  const anchor = model.tokenize("a", false);
  const anchorText = model.detokenize(anchor, false);
  const cache = new Map<number, string>();
  const render = (tokens: readonly number[]) => {
    const text = model.detokenize([...anchor, ...(tokens as Token[])], false);
    return text.startsWith(anchorText)
      ? text.slice(anchorText.length)
      : model.detokenize(tokens as Token[], false);
  };
  return (tokens) => {
    if (tokens.length !== 1) return render(tokens);
    const token = tokens[0]!;
    let piece = cache.get(token);
    if (piece === undefined) {
      piece = render(tokens);
      if (!piece.includes("\uFFFD")) cache.set(token, piece);
    }
    return piece;
  };
}
