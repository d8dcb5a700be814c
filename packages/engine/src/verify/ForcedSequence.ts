import type { LlamaContextSequence } from "node-llama-cpp";
import { evaluateWithReadouts, type LogitPairs, type Readout } from "./batchedReadout.js";
import { type Candidate, sortCandidates } from "./samplerReplica.js";

export type { Readout } from "./batchedReadout.js";

/**
 * What to read after each position. `readout` first; where `settles` is given and does not say that what it read
 * settles the check of the token evaluated next (`claimed`, completion position `j`), `wider` is read there instead.
 * `settles` must only say so where the wider read-out would lead to the same check.
 */
export interface ReadPlan {
  readout: Readout;
  settles?: ((j: number, claimed: number, candidates: readonly Candidate[]) => boolean) | undefined;
  wider?: Readout | undefined;
}

/**
 * A context sequence holding a prompt and a guessed continuation, with the logits the model gives for each
 * position: `candidates(j)` is the distribution of completion token j. Guesses are evaluated in one batch (a
 * prefill); when the verifier takes another token at position j, the state after j is erased and evaluation goes
 * on from it.
 */
export class ForcedSequence {
  readonly #sequence: LlamaContextSequence;
  readonly #promptLength: number;
  /** What is read after each position. */
  readonly #plan: ReadPlan;
  readonly #candidates: Candidate[][] = [];
  /** Completion tokens whose state is in the sequence. */
  #evaluated = 0;

  private constructor(sequence: LlamaContextSequence, promptLength: number, plan: ReadPlan) {
    this.#sequence = sequence;
    this.#promptLength = promptLength;
    this.#plan = plan;
  }

  /** Evaluates the prompt and the guessed completion tokens in one prefill. */
  static async start(
    sequence: LlamaContextSequence,
    promptTokens: readonly number[],
    guess: readonly number[],
    plan: ReadPlan,
  ): Promise<ForcedSequence> {
    await sequence.clearHistory();
    const forced = new ForcedSequence(sequence, promptTokens.length, plan);
    const before = promptTokens.length - 1;
    const tokens = [...promptTokens, ...guess];
    const readouts: (Readout | undefined)[] = tokens.map((_, i) => (i < before ? undefined : plan.readout));
    const read = await forced.#evaluate(tokens, readouts, before, 0);
    for (let j = 0; j <= guess.length; j++) forced.#candidates[j] = read[before + j]!;
    forced.#evaluated = guess.length;
    return forced;
  }

  /** Candidates for completion token `j`, best first (undefined if not evaluated yet). */
  candidates(j: number): Candidate[] | undefined {
    return this.#candidates[j];
  }

  /** Keeps `token` at position `j` instead of the guess there: drops the state after j and evaluates it. */
  async replace(j: number, token: number, guess: readonly number[] = []): Promise<void> {
    if (this.#evaluated > j)
      await this.#sequence.eraseContextTokenRanges([
        { start: this.#promptLength + j, end: this.#promptLength + this.#evaluated },
      ]);
    this.#evaluated = j;
    this.#candidates.length = j + 1;
    await this.extend([token, ...guess]);
  }

  /** Evaluates more tokens after those already in the sequence, keeping each one's next-token candidates. */
  async extend(tokens: readonly number[]): Promise<void> {
    if (tokens.length === 0) return;
    const read = await this.#evaluate(
      tokens,
      tokens.map(() => this.#plan.readout),
      0,
      this.#evaluated + 1,
    );
    for (const [i] of tokens.entries()) this.#candidates[this.#evaluated + 1 + i] = read[i]!;
    this.#evaluated += tokens.length;
  }

  get evaluated(): number {
    return this.#evaluated;
  }

  /**
   * Evaluates `tokens` and reads the candidates after each position that has a read-out, widening where the plan
   * says the first read does not settle the next token. Read `first` (index into `tokens`) is completion position
   * `firstPosition`.
   */
  async #evaluate(
    tokens: readonly number[],
    readouts: readonly (Readout | undefined)[],
    first: number,
    firstPosition: number,
  ): Promise<(Candidate[] | undefined)[]> {
    const { settles, wider } = this.#plan;
    const settled: (Candidate[] | undefined)[] = new Array(tokens.length);
    const widen =
      settles && wider
        ? (i: number, pairs: LogitPairs): Readout | undefined => {
            const claimed = tokens[i + 1];
            if (claimed === undefined) return undefined;
            const candidates = sortCandidates(pairs);
            if (!settles(firstPosition + i - first, claimed, candidates)) return wider;
            settled[i] = candidates;
            return undefined;
          }
        : undefined;
    // After the last token no claimed one follows to settle: its read is the wider one from the start.
    const last = tokens.length - 1;
    const planned = widen
      ? readouts.map((readout, i) => (i === last && readout ? wider : readout))
      : readouts;
    const read = await evaluateWithReadouts(this.#sequence, tokens, planned, widen);
    return read.map((pairs, i) => settled[i] ?? (pairs === undefined ? undefined : sortCandidates(pairs)));
  }
}
