import { type LlamaGrammar, LlamaGrammarEvaluationState, type LlamaModel } from "node-llama-cpp";
import type { Candidate } from "./samplerReplica.js";

/**
 * node-llama-cpp's native grammar calls, which its public API uses only inside generation (and its speculative
 * decoding, through `LlamaSampler._canBeNextTokenForGrammarEvaluationState` and `_acceptTokenOnGrammarEvaluationState`):
 * whether a token may come next, and taking one. node-llama-cpp is pinned to one version; a change of these
 * internals fails here, loudly.
 */
interface GrammarCalls {
  canBeNextTokenForGrammarEvaluationState(state: unknown, token: number): boolean;
  acceptGrammarEvaluationStateToken(state: unknown, token: number): void;
}

function grammarCallsOf(model: LlamaModel): GrammarCalls {
  const calls = (model as unknown as { _llama?: { _bindings?: { AddonSampler?: Partial<GrammarCalls> } } })
    ._llama?._bindings?.AddonSampler;
  if (
    typeof calls?.canBeNextTokenForGrammarEvaluationState !== "function" ||
    typeof calls.acceptGrammarEvaluationStateToken !== "function"
  )
    throw new Error("this node-llama-cpp has no native grammar calls to check tokens with");
  return calls as GrammarCalls;
}

const nativeState = (state: LlamaGrammarEvaluationState) => (state as unknown as { _state: unknown })._state;

/**
 * A verifier's view of the output grammar along a claimed completion: which tokens it allows after a given prefix.
 * Generation applies the grammar to every token before the other samplers, so the tokens it allows, with their
 * logits, are the candidates the replicated sampler chooses among. End-of-generation tokens are allowed only once
 * the grammar is complete, and are never taken into its state (as in generation).
 */
export class GrammarCursor {
  readonly #model: LlamaModel;
  readonly #grammar: LlamaGrammar;
  readonly #calls: GrammarCalls;
  #state: LlamaGrammarEvaluationState;
  #taken: number[] = [];

  constructor(model: LlamaModel, grammar: LlamaGrammar) {
    this.#model = model;
    this.#grammar = grammar;
    this.#calls = grammarCallsOf(model);
    this.#state = new LlamaGrammarEvaluationState({ model, grammar });
  }

  /** Puts the grammar in its state after exactly these tokens (going on from the last ones when it can). */
  follow(tokens: readonly number[]): void {
    const goesOn =
      this.#taken.length <= tokens.length && this.#taken.every((token, i) => tokens[i] === token);
    if (!goesOn) {
      this.#state = new LlamaGrammarEvaluationState({ model: this.#model, grammar: this.#grammar });
      this.#taken = [];
    }
    for (const token of tokens.slice(this.#taken.length)) {
      if (!this.#model.isEogToken(token as never))
        this.#calls.acceptGrammarEvaluationStateToken(nativeState(this.#state), token);
      this.#taken.push(token);
    }
  }

  allows(token: number): boolean {
    return this.#calls.canBeNextTokenForGrammarEvaluationState(nativeState(this.#state), token);
  }

  /** The first `limit` candidates (all when undefined) the grammar allows next, in their order. */
  allowed(candidates: readonly Candidate[], limit: number | undefined): Candidate[] {
    const kept: Candidate[] = [];
    for (const candidate of candidates) {
      if (limit !== undefined && kept.length >= limit) break;
      if (this.allows(candidate.token)) kept.push(candidate);
    }
    return kept;
  }
}
