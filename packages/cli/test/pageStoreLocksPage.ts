// A page of the explorer's origin that updates one key of the playground's page store many times, for
// explorerPageStoreLocks.test.ts (bundled for Chromium): each update reads the key, waits a moment (as the SDK's
// state updates do between their read and their write), and writes it back with one entry more.
import { pageStore } from "../../../apps/explorer/src/playground/pageStore.js";

const store = pageStore();

async function appendMany(key: string, tab: string, count: number, locked: boolean): Promise<void> {
  for (let i = 0; i < count; i++) {
    const update = async () => {
      const text = await store.get(key);
      const entries = text === undefined ? [] : (JSON.parse(text) as string[]);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      await store.set(key, JSON.stringify([...entries, `${tab}-${i}`]));
    };
    if (locked && store.exclusive) await store.exclusive(key, update);
    else await update();
  }
}

Object.assign(globalThis, { appendMany });

/** One locked update of `key` adding `entry` (review MEDIUM-5). */
async function appendOnce(key: string, entry: string): Promise<void> {
  const update = async () => {
    const text = await store.get(key);
    await store.set(
      key,
      JSON.stringify([...(text === undefined ? [] : (JSON.parse(text) as string[])), entry]),
    );
  };
  if (store.exclusive) await store.exclusive(key, update);
  else await update();
}

Object.assign(globalThis, { appendOnce });
