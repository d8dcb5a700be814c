import { silentLogger } from "@atoma/core";
import { EmbeddedEngine } from "../../src/embedded/EmbeddedEngine.js";
import type { EmbeddedEngineOptions } from "../../src/embedded/options.js";
import { ensureTinyModel } from "../../src/tinyModel/tinyModelCache.js";
import { testLlama } from "./llama.js";

/** An embedded engine over tiny models of the given seeds (default: the project's model), on one thread. */
export async function startTinyEngine(
  options: Partial<EmbeddedEngineOptions> & { seeds?: number[] | undefined } = {},
): Promise<EmbeddedEngine> {
  const { seeds = [1], ...rest } = options;
  const models = seeds.map((seed) => {
    const file = ensureTinyModel({ seed });
    return { id: file.id, path: file.path };
  });
  const engine = new EmbeddedEngine(
    { logger: silentLogger, llama: await testLlama() },
    { models, threads: 1, contextSize: 1024, ...rest },
  );
  await engine.start();
  return engine;
}

export const TINY = "atoma-tiny";

export const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({
  model: TINY,
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content },
  ],
  ...extra,
});

export const completionBody = (prompt: string, extra: Record<string, unknown> = {}) => ({
  model: TINY,
  prompt,
  ...extra,
});
