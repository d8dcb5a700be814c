import type { CustomBatchingPrioritizationStrategy } from "node-llama-cpp";

/**
 * Gives each llama_decode the pending tokens of one sequence only: the first queued item of the highest priority,
 * with the whole batch budget, so a prompt is split exactly as when it runs alone.
 *
 * Why: node-llama-cpp's default batches the pending tokens of every sequence into one decode, and the batch's
 * composition (which depends on arrival timing) changes the floating-point path. llama.cpp multiplies a batch of
 * one token with `ggml_vec_dot` but a batch of two or more with llamafile's tinyBLAS, which sums in another
 * order; and a multi-sequence batch is cut into equal per-sequence slices. A busy node's outputs would then differ
 * from an attester's solo recomputation. Per-sequence KV placement needs nothing more: node-llama-cpp gives every
 * sequence its own KV stream (`kv_unified = false`), and clearing a sequence moves its stream's head back to 0.
 * Sequences take turns: a sequence queues its next token only after its last decode returns, behind the others.
 */
export const oneSequencePerBatch: CustomBatchingPrioritizationStrategy = ({ items, size }) => {
  let chosen = items[0];
  if (!chosen) return [];
  for (const item of items) if (item.evaluationPriority > chosen.evaluationPriority) chosen = item;
  return [{ item: chosen, processAmount: Math.min(chosen.tokens.length, size) }];
};
