import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from "node-llama-cpp";

/** Which logits to fetch after a token: every one, or the top few plus named tokens. */
export type LogitsWanted = true | { filter: { tokens: Token[]; includeTop: number } };

/**
 * A context sequence holding a prompt and a guessed continuation, with the logits the model gives for each
 * position: `logits(j)` is the distribution of completion token j. Guesses are evaluated in one batch (a prefill);
 * when the verifier takes another token at position j, the state after j is erased and evaluation goes on from it.
 */
export class ForcedSequence {
  readonly #sequence: LlamaContextSequence;
  readonly #promptLength: number;
  readonly #wanted: (nextToken: number | undefined) => LogitsWanted;
  readonly #logits: Map<number, number>[] = [];
  /** Completion tokens whose state is in the sequence. */
  #evaluated = 0;

  private constructor(
    sequence: LlamaContextSequence,
    promptLength: number,
    wanted: (nextToken: number | undefined) => LogitsWanted,
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
    wanted: (nextToken: number | undefined) => LogitsWanted,
  ): Promise<ForcedSequence> {
    await sequence.clearHistory();
    const forced = new ForcedSequence(sequence, promptTokens.length, wanted);
    const items: ControlledEvaluateInputItem[] = promptTokens.slice(0, -1) as Token[];
    items.push([promptTokens.at(-1) as Token, { generateNext: generateNext(wanted(guess[0])) }]);
    const results = await sequence.controlledEvaluate([...items, ...forced.#guessItems(guess)]);
    for (let j = 0; j <= guess.length; j++)
      forced.#logits[j] = results[promptTokens.length - 1 + j]?.next.logits ?? new Map();
    forced.#evaluated = guess.length;
    return forced;
  }

  /** Distribution of completion token `j` (undefined if not evaluated yet). */
  logits(j: number): Map<number, number> | undefined {
    return this.#logits[j];
  }

  /** Keeps `token` at position `j` instead of the guess there: drops the state after j and evaluates it. */
  async replace(j: number, token: number, guess: readonly number[] = []): Promise<void> {
    if (this.#evaluated > j)
      await this.#sequence.eraseContextTokenRanges([
        { start: this.#promptLength + j, end: this.#promptLength + this.#evaluated },
      ]);
    this.#evaluated = j;
    this.#logits.length = j + 1;
    await this.extend([token, ...guess]);
  }

  /** Evaluates more tokens after those already in the sequence, keeping each one's next-token logits. */
  async extend(tokens: readonly number[]): Promise<void> {
    if (tokens.length === 0) return;
    const results = await this.#sequence.controlledEvaluate(this.#guessItems(tokens));
    for (const [i] of tokens.entries())
      this.#logits[this.#evaluated + 1 + i] = results[i]?.next.logits ?? new Map();
    this.#evaluated += tokens.length;
  }

  get evaluated(): number {
    return this.#evaluated;
  }

  #guessItems(tokens: readonly number[]): ControlledEvaluateInputItem[] {
    return tokens.map((token, i) => [
      token as Token,
      { generateNext: generateNext(this.#wanted(tokens[i + 1])) },
    ]);
  }
}

/**
 * The read-out for one position. For the top few, a top-k sampler of that size (temperature 1, no top-p or min-p:
 * the logits pass unchanged) cuts the candidates natively with a partial sort, so node-llama-cpp neither sorts nor
 * copies the whole vocabulary for each position. A named token below the cut is then absent, as if not likely.
 */
function generateNext(logits: LogitsWanted) {
  if (logits === true) return { logits };
  const k = logits.filter.includeTop;
  return { logits, options: { topK: k, temperature: 1, topP: 1, minP: 0 } };
}
