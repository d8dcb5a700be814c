import { memoryTaskLogStore, type TaskLogStore } from "@atoma/sdk";

/**
 * The task logs the playground's clients read, kept in the page's `localStorage` so that a question asked later, or
 * after a reload, reads only the blocks since (the SDK trusts an entry only while its last block is still the
 * chain's). Where `localStorage` is refused (private mode, quota), the page's memory keeps them.
 */
export function pageTaskLogs(): TaskLogStore {
  const memory = memoryTaskLogStore();
  return {
    get(key) {
      try {
        return globalThis.localStorage.getItem(key) ?? undefined;
      } catch {
        return memory.get(key);
      }
    },
    set(key, value) {
      try {
        globalThis.localStorage.setItem(key, value);
      } catch {
        return memory.set(key, value);
      }
    },
  };
}
