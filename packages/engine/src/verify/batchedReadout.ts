import { acquireLock } from "lifecycle-utils";
import type { LlamaContextSequence, Token } from "node-llama-cpp";

/**
 * What to read after one position: the top few logits, or every logit. No named tokens beside them: node-llama-cpp
 * 3.22.1 looks for those among what the top-k sampler kept, so it only ever handed the top few over twice.
 */
export type Readout = "all" | { top: number };

/** One position's logits as llama.cpp's sampler hands them over, highest first: token, logit, token, logit, … */
export type LogitPairs = readonly number[];

/**
 * Told what a position's read-out gave (`tokenIndex` into the evaluated tokens), a wider read-out to take at the same
 * position, or undefined when what was read is enough. The wider one is read before the next batch, while that
 * position's logits are still there. Each pair handed over costs the main thread about as much as the call itself
 * (every value a JavaScript number set into an array one by one), so a caller that needs the top 40 only to confirm
 * what the top 1 or 2 already settle reads those, and widens where they do not.
 */
export type Widen = (tokenIndex: number, pairs: LogitPairs) => Readout | undefined;

/** The logits option of a top-N read-out: no named tokens, no highest, lowest or picked token, the top N. */
const NO_TOKENS: readonly Token[] = [];

/** The parts of node-llama-cpp 3.22.1 this uses that its public API keeps to itself (checked on first use). */
interface SequenceInternals {
  _lock: object;
  _tokenMeter: unknown;
  _contextShift: { size: unknown; strategy: unknown };
  _abortTokenPredictor(): Promise<void>;
  _resolveSamplerConfig(options: Record<string, number>): object;
  _takeIntervalCheckpointIfNeededAfterBatch(sequenceStateLength: number): Promise<void> | undefined;
  _decodeTokens(
    tokens: Token[],
    logits: boolean[],
    evaluationPriority: number,
    tokenMeter: unknown,
    contextShiftOptions: unknown,
    logitDataMapper: (batchLogitIndex: number, tokenIndex: number) => undefined,
    afterBatchAction: (sequenceStateLength: number) => Promise<void>,
  ): Promise<unknown>;
  model: { _model: unknown; _llama: { _bindings: { AddonSampler: new (model: unknown) => NativeSampler } } };
  _context: { _ctx: { sampleToken: NativeSampleToken } };
}

interface NativeSampler {
  applyConfig(config: object): void;
}

type NativeSampleToken = (
  batchLogitIndex: number,
  sampler: NativeSampler,
  probabilities: boolean,
  confidence: boolean,
  logits: true | [readonly Token[], boolean, boolean, boolean, number],
  totalLogitWeight: boolean,
) => Promise<[number, unknown, unknown, number[] | undefined, unknown]>;

/** node-llama-cpp's priority for an evaluation that names none. */
const EVALUATION_PRIORITY = 5;

/**
 * Read-outs in flight at once. Each is one native call (a libuv work item); several in flight keep the thread pool
 * busy instead of making every position wait for the main thread to see the last one finish and ask for the next.
 */
const IN_FLIGHT = 8;

/** A native sampler and the read-out config it last had. */
interface Slot {
  sampler: NativeSampler;
  config: string;
}

/**
 * Native samplers for read-outs, per context: each pair reads one position at a time, the first read with its own
 * sampler and a widened one with the other (so neither switches configs back and forth).
 */
const samplerPools = new WeakMap<object, { first: Slot; wider: Slot }[]>();

function internalsOf(sequence: LlamaContextSequence): SequenceInternals {
  const internals = sequence as unknown as Partial<SequenceInternals>;
  if (
    typeof internals._decodeTokens !== "function" ||
    typeof internals._resolveSamplerConfig !== "function" ||
    typeof internals._abortTokenPredictor !== "function" ||
    typeof internals._takeIntervalCheckpointIfNeededAfterBatch !== "function" ||
    typeof internals._context?._ctx?.sampleToken !== "function" ||
    typeof internals.model?._llama?._bindings?.AddonSampler !== "function" ||
    internals._lock === undefined ||
    internals._contextShift === undefined
  )
    throw new Error("this node-llama-cpp has no batched evaluation to read logits with");
  return internals as SequenceInternals;
}

/**
 * Evaluates `tokens` after what the sequence holds, in one prefill (split only by the batch size), and reads the
 * logits that follow each position with a read-out. This is what `controlledEvaluate` does with `generateNext.logits`
 * (the same native call with the same arguments, so the same values), except that the read-outs of a batch go to
 * the native side together, over a few samplers, instead of each waiting for the one before: node-llama-cpp chains
 * them, and on a small model the round trips cost more than the prefill. They run inside the context's lock,
 * before the next batch overwrites the logits. Where `widen` names a wider read-out for a position, its result is that
 * one's.
 */
export async function evaluateWithReadouts(
  sequence: LlamaContextSequence,
  tokens: readonly number[],
  readouts: readonly (Readout | undefined)[],
  widen?: Widen,
): Promise<(LogitPairs | undefined)[]> {
  const internals = internalsOf(sequence);
  const wanted = tokens.map((_, i) => readouts[i] !== undefined);
  const expected = wanted.filter(Boolean).length;
  const results: (LogitPairs | undefined)[] = new Array(tokens.length);
  const sampleToken = internals._context._ctx.sampleToken.bind(internals._context._ctx);
  const pool = samplerPoolOf(internals);
  const configs = new Map<string, object>();
  const configOf = (readout: Readout): [string, object] => {
    const key = readout === "all" ? "all" : `top ${readout.top}`;
    let config = configs.get(key);
    if (!config) {
      // A top-k sampler of that size, temperature 1, no top-p or min-p: the logits pass unchanged, cut natively
      // with a partial sort. Every logit: node-llama-cpp's default config, as controlledEvaluate applies it.
      config = internals._resolveSamplerConfig(
        readout === "all" ? {} : { temperature: 1, topK: readout.top, topP: 1, minP: 0 },
      );
      configs.set(key, config);
    }
    return [key, config];
  };

  let batch: [batchLogitIndex: number, tokenIndex: number][] = [];
  let read = 0;
  let failure: unknown;
  let settle: () => void = () => {};
  const allRead = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const readBatch = async (positions: [number, number][]) => {
    let next = 0;
    const readWith = async (slot: Slot, batchLogitIndex: number, readout: Readout) => {
      const [key, config] = configOf(readout);
      if (slot.config !== key) {
        slot.sampler.applyConfig(config);
        slot.config = key;
      }
      const [, , , logits] = await sampleToken(
        batchLogitIndex,
        slot.sampler,
        false,
        false,
        readout === "all" ? true : [NO_TOKENS, false, false, false, readout.top],
        false,
      );
      return logits ?? [];
    };
    const reader = async (slots: { first: Slot; wider: Slot }) => {
      while (next < positions.length) {
        const [batchLogitIndex, tokenIndex] = positions[next++]!;
        const pairs = await readWith(slots.first, batchLogitIndex, readouts[tokenIndex]!);
        const wider = widen?.(tokenIndex, pairs);
        results[tokenIndex] =
          wider === undefined ? pairs : await readWith(slots.wider, batchLogitIndex, wider);
      }
    };
    await Promise.all(pool.slice(0, Math.min(pool.length, positions.length)).map(reader));
  };
  const afterBatch = async (sequenceStateLength: number) => {
    const positions = batch;
    batch = [];
    try {
      if (failure === undefined && positions.length > 0) await readBatch(positions);
      await internals._takeIntervalCheckpointIfNeededAfterBatch(sequenceStateLength);
    } catch (error) {
      failure ??= error;
    }
    read += positions.length;
    if (read >= expected || failure !== undefined) settle();
  };

  const lock = await acquireLock([internals._lock, "evaluate"]);
  try {
    await internals._abortTokenPredictor();
    if (tokens.length === 0) return results;
    await internals._decodeTokens(
      tokens as Token[],
      wanted,
      EVALUATION_PRIORITY,
      internals._tokenMeter,
      { size: internals._contextShift.size, strategy: internals._contextShift.strategy },
      (batchLogitIndex, tokenIndex) => {
        batch.push([batchLogitIndex, tokenIndex]);
        return undefined;
      },
      afterBatch,
    );
    // The decode's promise settles before its last batch's read-outs finish (they run after it, still in the lock).
    if (expected > 0) await allRead;
    if (failure !== undefined) throw failure;
    return results;
  } finally {
    lock.dispose();
  }
}

function samplerPoolOf(internals: SequenceInternals) {
  let pool = samplerPools.get(internals._context);
  if (!pool) {
    const { AddonSampler } = internals.model._llama._bindings;
    const slot = (): Slot => ({ sampler: new AddonSampler(internals.model._model), config: "" });
    pool = Array.from({ length: IN_FLIGHT }, () => ({ first: slot(), wider: slot() }));
    samplerPools.set(internals._context, pool);
  }
  return pool;
}
