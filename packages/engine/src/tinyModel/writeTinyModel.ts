import { InvalidInputError } from "@atoma/core";
import { encodeGguf, type GgufTensor, type GgufValue } from "./gguf.js";
import { SeededRandom } from "./seededRandom.js";
import { TINY_CHAT_TEMPLATES, type TinyChatTemplate } from "./tinyChatTemplates.js";
import { unigramPrior } from "./unigramPrior.js";
import { tinyVocabulary } from "./vocabulary.js";

export type { TinyChatTemplate } from "./tinyChatTemplates.js";

/** The architecture of a tiny model. */
export interface TinyModelShape {
  /** Transformer blocks. */
  layers: number;
  /** Hidden width (embedding length). */
  width: number;
  /** Attention heads; `width` must divide by it. */
  heads: number;
  /** Key/value heads (grouped-query attention); `heads` must divide by it. */
  kvHeads: number;
  /** Feed-forward width. */
  feedForward: number;
  /** Context the model declares it was trained on. */
  contextLength: number;
}

/** Small enough that every test loads it in milliseconds and decodes thousands of tokens per second. */
export const DEFAULT_TINY_SHAPE: TinyModelShape = Object.freeze({
  layers: 2,
  width: 64,
  heads: 4,
  kvHeads: 2,
  feedForward: 192,
  contextLength: 4096,
});

/** The seed of the project's default model; other seeds stand for "a different model". */
export const DEFAULT_TINY_SEED = 1;

/** Bumped whenever the writer's output changes for the same (seed, shape). */
export const TINY_WRITER_VERSION = 1;

/** Standard deviation of the context-dependent part of the logits (the prior is added on top). */
const LOGIT_SPREAD = 2;
/** Value of the constant hidden channel that carries the prior to the output layer. */
const PRIOR_CHANNEL = 2;

export interface TinyModelOptions {
  /** @default "chatml" */
  template?: TinyChatTemplate | undefined;
  /** 32-bit seed of every weight. @default DEFAULT_TINY_SEED */
  seed?: number | undefined;
  /** @default DEFAULT_TINY_SHAPE */
  shape?: Partial<TinyModelShape> | undefined;
}

export function resolveTinyShape(shape: Partial<TinyModelShape> = {}): TinyModelShape {
  const resolved = { ...DEFAULT_TINY_SHAPE, ...shape };
  for (const [key, value] of Object.entries(resolved))
    if (!Number.isSafeInteger(value) || value < 1 || value > 1 << 20)
      throw new InvalidInputError(`tiny model ${key} must be a positive whole number, got ${value}`);
  if (resolved.width % resolved.heads !== 0 || (resolved.width / resolved.heads) % 2 !== 0)
    throw new InvalidInputError("tiny model width must be an even multiple of heads");
  if (resolved.heads % resolved.kvHeads !== 0)
    throw new InvalidInputError("tiny model heads must divide by kvHeads");
  return resolved;
}

export function resolveTinyTemplate(template: TinyChatTemplate = "chatml"): TinyChatTemplate {
  if (!Object.hasOwn(TINY_CHAT_TEMPLATES, template))
    throw new InvalidInputError(
      `tiny model template must be one of ${Object.keys(TINY_CHAT_TEMPLATES).join(", ")}, got ${String(template)}`,
    );
  return template;
}

export function resolveTinySeed(seed: number = DEFAULT_TINY_SEED): number {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffff_ffff)
    throw new InvalidInputError(`tiny model seed must be a 32-bit unsigned integer, got ${seed}`);
  return seed;
}

/**
 * The bytes of a Llama-architecture GGUF with seeded F32 weights, a character-level SentencePiece vocabulary
 * with byte fallback, and a chat template (ChatML, or a Llama-3.1- or Mistral-style one with its control
 * tokens added to the vocabulary). Byte-identical for the same (seed, shape, template); the ChatML model's bytes are as before templates.
 *
 * Channel 0 of the residual stream is a constant (embeddings set it, no block writes it), so after the final
 * norm it carries the unigram prior into the logits like a bias, over a context-dependent random part.
 */
export function writeTinyModel(options: TinyModelOptions = {}): Uint8Array {
  const seed = resolveTinySeed(options.seed);
  const shape = resolveTinyShape(options.shape);
  const template = resolveTinyTemplate(options.template);
  const vocab = tinyVocabulary(TINY_CHAT_TEMPLATES[template].controlTokens);
  const random = new SeededRandom(seed);
  const { width, feedForward } = shape;
  const headDim = width / shape.heads;
  const kvWidth = headDim * shape.kvHeads;
  const vocabSize = vocab.tokens.length;
  const uniform = (fanIn: number) => Math.sqrt(3 / fanIn);

  const tensors: GgufTensor[] = [];
  const add = (name: string, dims: number[], data: Float32Array) => tensors.push({ name, dims, data });
  const norm = (size: number) => {
    const values = random.uniform(size, 0.1);
    for (let i = 0; i < size; i++) values[i] = 1 + values[i]!;
    return values;
  };
  /** A [rows × cols] matrix whose row 0 (writing channel 0) is zero, so the prior channel stays constant. */
  const sparingChannel0 = (rows: number, cols: number, scale: number) => {
    const values = random.uniform(rows * cols, scale);
    values.fill(0, 0, cols);
    return values;
  };

  const embeddings = random.uniform(vocabSize * width, 1);
  for (let token = 0; token < vocabSize; token++) embeddings[token * width] = PRIOR_CHANNEL;
  add("token_embd.weight", [width, vocabSize], embeddings);

  for (let layer = 0; layer < shape.layers; layer++) {
    const blk = `blk.${layer}`;
    add(`${blk}.attn_norm.weight`, [width], norm(width));
    add(`${blk}.attn_q.weight`, [width, width], random.uniform(width * width, 2 * uniform(width)));
    add(`${blk}.attn_k.weight`, [width, kvWidth], random.uniform(width * kvWidth, 2 * uniform(width)));
    add(`${blk}.attn_v.weight`, [width, kvWidth], random.uniform(width * kvWidth, uniform(width)));
    add(`${blk}.attn_output.weight`, [width, width], sparingChannel0(width, width, uniform(width)));
    add(`${blk}.ffn_norm.weight`, [width], norm(width));
    add(`${blk}.ffn_gate.weight`, [width, feedForward], random.uniform(width * feedForward, uniform(width)));
    add(`${blk}.ffn_up.weight`, [width, feedForward], random.uniform(width * feedForward, uniform(width)));
    add(
      `${blk}.ffn_down.weight`,
      [feedForward, width],
      sparingChannel0(width, feedForward, uniform(feedForward)),
    );
  }
  add("output_norm.weight", [width], new Float32Array(width).fill(1));

  // Row t of the output layer: the prior of t on channel 0, random weights on the rest. After the final RMS
  // norm channel 0 is about PRIOR_CHANNEL / rms(x) ≈ 1–3, every other channel about ±1.
  const prior = unigramPrior(vocab);
  const output = new Float32Array(vocabSize * width);
  const spread = LOGIT_SPREAD * Math.sqrt(3 / (width - 1));
  for (let token = 0; token < vocabSize; token++) {
    output[token * width] = prior[token]! / PRIOR_CHANNEL;
    for (let j = 1; j < width; j++) output[token * width + j] = random.nextSigned() * spread;
  }
  add("output.weight", [width, vocabSize], output);

  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  const metadata: Array<[string, GgufValue]> = [
    ["general.architecture", { type: "string", value: "llama" }],
    [
      "general.name",
      { type: "string", value: `atoma-tiny-s${seed}${template === "chatml" ? "" : `-${template}`}` },
    ],
    ["general.file_type", u32(0)],
    ["llama.vocab_size", u32(vocabSize)],
    ["llama.context_length", u32(shape.contextLength)],
    ["llama.embedding_length", u32(width)],
    ["llama.block_count", u32(shape.layers)],
    ["llama.feed_forward_length", u32(feedForward)],
    ["llama.attention.head_count", u32(shape.heads)],
    ["llama.attention.head_count_kv", u32(shape.kvHeads)],
    ["llama.attention.layer_norm_rms_epsilon", { type: "float32", value: 1e-5 }],
    ["llama.rope.dimension_count", u32(headDim)],
    ["llama.rope.freq_base", { type: "float32", value: 10000 }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "float32[]", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "int32[]", value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", u32(vocab.unk)],
    ["tokenizer.ggml.bos_token_id", u32(vocab.bos)],
    ["tokenizer.ggml.eos_token_id", u32(vocab.eos)],
    ["tokenizer.ggml.eot_token_id", u32(vocab.extra["<|eot_id|>"] ?? vocab.imEnd)],
    ["tokenizer.ggml.padding_token_id", u32(vocab.unk)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
    ["tokenizer.ggml.add_space_prefix", { type: "bool", value: false }],
    ["tokenizer.chat_template", { type: "string", value: TINY_CHAT_TEMPLATES[template].source }],
  ];
  return encodeGguf(metadata, tensors);
}
