import type { LlamaContextSequence } from "node-llama-cpp";
import { evaluateWithReadouts, type Readout } from "./batchedReadout.js";
import { type Candidate, sortCandidates } from "./samplerReplica.js";

export type { Readout } from "./batchedReadout.js";

/**
 * A context sequence holding a prompt and a guessed continuation, with the logits the model gives for each
 * position: `candidates(j)` is the distribution of completion token j. Guesses are evaluated in one batch (a
 * prefill); when the verifier takes another token at position j, the state after j is erased and evaluation goes
 * on from it.
 */
export class ForcedSequence {
  readonly #sequence: LlamaContextSequence;
  readonly #promptLength: number;
  readonly #wanted: (nextToken: number | undefined) => Readout;
  readonly #candidates: Candidate[][] = [];
  /** Completion tokens whose state is in the sequence. */
  #evaluated = 0;

  private constructor(
    sequence: LlamaContextSequence,
    promptLength: number,
    wanted: (nextToken: number | undefined) => Readout,
  ) {
    this.#sequence = sequence;
    this.#promptLength = promptLength;
    this.#wanted = wanted;
  }

  /** Evaluates the prompt and the guessed completion tokens in one prefill. */
  static async start(
    sequence: LlamaContextSequence,
    promptTokens: readonly number[],
    guess: readonly number[],
    wanted: (nextToken: number | undefined) => Readout,
  ): Promise<ForcedSequence> {
    await sequence.clearHistory();
    const forced = new ForcedSequence(sequence, promptTokens.length, wanted);
    const before = promptTokens.length - 1;
    const tokens = [...promptTokens, ...guess];
    const readouts: (Readout | undefined)[] = new Array(before);
    for (let j = 0; j <= guess.length; j++) readouts.push(wanted(guess[j]));
    const read = await evaluateWithReadouts(sequence, tokens, readouts);
    for (let j = 0; j <= guess.length; j++) forced.#candidates[j] = sortCandidates(read[before + j] ?? []);
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
    const read = await evaluateWithReadouts(
      this.#sequence,
      tokens,
      tokens.map((_, i) => this.#wanted(tokens[i + 1])),
    );
    for (const [i] of tokens.entries())
      this.#candidates[this.#evaluated + 1 + i] = sortCandidates(read[i] ?? []);
    this.#evaluated += tokens.length;
  }

  get evaluated(): number {
    return this.#evaluated;
  }
}
