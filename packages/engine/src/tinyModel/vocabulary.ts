/** SentencePiece token types as GGUF stores them (`tokenizer.ggml.token_type`). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 } as const;

/** SentencePiece's word-boundary mark, which stands for a space. */
export const SPACE_MARK = "\u2581";

export interface TinyVocabulary {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
  unk: number;
  bos: number;
  eos: number;
  imStart: number;
  imEnd: number;
  /** Ids of the 95 printable ASCII characters (space as the boundary mark), in code-point order. */
  characters: number[];
  /** Ids of the 256 byte-fallback tokens, indexed by byte value. */
  bytes: number[];
  /** Ids of the extra control tokens asked for, by their text (after every other token, so those keep their ids). */
  extra: Record<string, number>;
}

/**
 * A character-level SentencePiece-style vocabulary: the control tokens, 256 byte-fallback tokens `<0xNN>`
 * (every other character, newline included, is spelled in UTF-8 bytes), then one token per printable ASCII
 * character, then the extra control tokens a chat template needs. No multi-character pieces but control tokens, so
 * tokenization is unambiguous.
 */
export function tinyVocabulary(extraControlTokens: readonly string[] = []): TinyVocabulary {
  const tokens: string[] = [];
  const types: number[] = [];
  const add = (text: string, type: number) => {
    tokens.push(text);
    types.push(type);
    return tokens.length - 1;
  };
  const unk = add("<unk>", TokenType.UNKNOWN);
  const bos = add("<s>", TokenType.CONTROL);
  const eos = add("</s>", TokenType.CONTROL);
  const imStart = add("<|im_start|>", TokenType.CONTROL);
  const imEnd = add("<|im_end|>", TokenType.CONTROL);
  const bytes: number[] = [];
  for (let b = 0; b < 256; b++)
    bytes.push(add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.BYTE));
  const characters: number[] = [add(SPACE_MARK, TokenType.NORMAL)];
  for (let code = 0x21; code <= 0x7e; code++)
    characters.push(add(String.fromCharCode(code), TokenType.NORMAL));
  const extra: Record<string, number> = {};
  for (const text of extraControlTokens) extra[text] = add(text, TokenType.CONTROL);
  const scores = new Float32Array(tokens.length);
  for (const [rank, id] of characters.entries()) scores[id] = -rank;
  return {
    tokens,
    scores,
    types: Int32Array.from(types),
    unk,
    bos,
    eos,
    imStart,
    imEnd,
    characters,
    bytes,
    extra,
  };
}
