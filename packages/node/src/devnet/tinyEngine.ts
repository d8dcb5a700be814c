import { silentLogger } from "@atoma/core";
import { EmbeddedEngine, ensureTinyModel, type TinyChatTemplate, type TinyModelFile } from "@atoma/engine";

export interface TinyEngineOptions {
  /** Picks the tiny model's weights. @default 1 */
  seed?: number | undefined;
  /** The id the model is served under. @default the tiny model's own (`atoma-tiny` for seed 1) */
  id?: string | undefined;
  /** The chat template the model carries (another template, another tool-call format). @default "chatml" */
  template?: TinyChatTemplate | undefined;
  /** Tokens of context (a request with tools spends one token per character of their definitions here). @default 512 */
  contextSize?: number | undefined;
}

/** An engine over the tiny model on one thread (deterministic settings). */
export async function startTinyEngine(
  options: TinyEngineOptions = {},
): Promise<{ engine: EmbeddedEngine; model: TinyModelFile }> {
  const model = ensureTinyModel({ seed: options.seed, template: options.template });
  const engine = new EmbeddedEngine(
    { logger: silentLogger },
    {
      models: [{ id: options.id ?? model.id, path: model.path }],
      threads: 1,
      contextSize: options.contextSize ?? 512,
    },
  );
  await engine.start();
  return { engine, model };
}
