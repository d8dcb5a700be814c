import { memoryTaskLogStore, type TaskLogStore } from "@atoma/sdk";

/** The explorer's own keys in the origin's `localStorage`: another app served there does not share its entries. */
const PREFIX = "atoma-explorer/";

/**
 * The task logs the playground's clients read, kept in the page's `localStorage` so that a question asked later, or
 * after a reload, reads only the blocks since (the SDK trusts an entry only while its last block is still the
 * chain's, reads the last blocks under the head again, and takes each task's level from the chain). The SDK's key
 * names the chain, the registry and the model; this page's keys are its own (`PREFIX`). Where `localStorage` is
 * refused (private mode, quota), the page's memory keeps them.
 */
export function pageTaskLogs(): TaskLogStore {
  const memory = memoryTaskLogStore();
  return {
    get(key) {
      try {
        return globalThis.localStorage.getItem(PREFIX + key) ?? undefined;
      } catch {
        return memory.get(key);
      }
    },
    set(key, value) {
      try {
        globalThis.localStorage.setItem(PREFIX + key, value);
      } catch {
        return memory.set(key, value);
      }
    },
  };
}
