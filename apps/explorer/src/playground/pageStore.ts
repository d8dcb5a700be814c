import type { StateStore } from "@atoma/sdk";

/** The explorer's own keys in the origin's `localStorage`: another app served there does not share its entries. */
const PREFIX = "atoma-explorer/";

/** The part of the page's `localStorage` the store uses. */
interface PageStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The page's `localStorage`; throws where the page has none or refuses it (as a browser does in some modes). */
function local(): PageStorage {
  const storage = (globalThis as { localStorage?: PageStorage }).localStorage;
  if (storage === undefined) throw new Error("this page has no localStorage");
  return storage;
}

/** The part of the Web Locks API (`navigator.locks`) the store takes a key's lock with. */
interface WebLocks {
  request<T>(name: string, run: () => Promise<T>): Promise<T>;
}

/** The part of IndexedDB the store keeps each key's latest text in. */
interface Idb {
  open(name: string, version: number): IdbRequest<IdbDatabase> & { onupgradeneeded: (() => void) | null };
}
interface IdbRequest<T> {
  result: T;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbDatabase {
  createObjectStore(name: string): unknown;
  transaction(
    name: string,
    mode: "readonly" | "readwrite",
  ): {
    objectStore(name: string): {
      get(key: string): IdbRequest<unknown>;
      put(value: string, key: string): unknown;
    };
    oncomplete: (() => void) | null;
    onerror: (() => void) | null;
    onabort: (() => void) | null;
  };
}

const ENTRIES = "entries";
let database: Promise<IdbDatabase | undefined> | undefined;

/** The origin's IndexedDB database of the explorer's keys; undefined where the page has none or refuses it. */
function idb(): Promise<IdbDatabase | undefined> {
  database ??= new Promise((resolve) => {
    const indexedDB = (globalThis as { indexedDB?: Idb }).indexedDB;
    if (indexedDB === undefined) return resolve(undefined);
    try {
      const request = indexedDB.open("atoma-explorer", 1);
      request.onupgradeneeded = () => request.result.createObjectStore(ENTRIES);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(undefined);
    } catch {
      resolve(undefined);
    }
  });
  return database;
}

/** A key's text with the sequence number of its write (review MEDIUM-5: the newer of two stores wins). */
interface Stamped {
  seq: number;
  text: string;
}

/**
 * `key`'s stamped text in IndexedDB, undefined when none (or it cannot be read). A bare string (written by the
 * bundle before stamps) counts as sequence 0.
 */
async function idbGet(key: string): Promise<Stamped | undefined> {
  const db = await idb();
  if (db === undefined) return undefined;
  return new Promise((resolve) => {
    try {
      const request = db.transaction(ENTRIES, "readonly").objectStore(ENTRIES).get(key);
      request.onsuccess = () => resolve(stampedOf(request.result));
      request.onerror = () => resolve(undefined);
    } catch {
      resolve(undefined);
    }
  });
}

function stampedOf(value: unknown): Stamped | undefined {
  if (typeof value === "string") return { seq: 0, text: value };
  if (typeof value !== "object" || value === null) return undefined;
  const { seq, text } = value as Partial<Stamped>;
  return typeof seq === "number" && typeof text === "string" ? { seq, text } : undefined;
}

/** Writes `key`'s stamped text to IndexedDB; settles once it is committed (or refused: `localStorage` has it). */
async function idbPut(key: string, value: Stamped): Promise<void> {
  const db = await idb();
  if (db === undefined) return;
  await new Promise<void>((resolve) => {
    try {
      const transaction = db.transaction(ENTRIES, "readwrite");
      (transaction.objectStore(ENTRIES) as unknown as { put(value: Stamped, key: string): unknown }).put(
        value,
        key,
      );
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => resolve();
      transaction.onabort = () => resolve();
    } catch {
      resolve();
    }
  });
}

/**
 * Where a key's stamp lies in `localStorage`: `seq:digest` of the text written with it, beside (not in) the text, so
 * that a tab on an older bundle still reads the text as it did.
 */
const STAMPS = "atoma-explorer-stamp/";

/** A short digest of `text` (FNV-1a, 32 bits, with its length): tells whether the text is the one its stamp names. */
function digest(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `${text.length.toString(36)}.${hash.toString(36)}`;
}

/**
 * `key`'s text in `localStorage` with its sequence number: the stamp's, when the stamp names this text; otherwise
 * `Infinity` (a tab on the bundle before stamps wrote it after the last stamped write, the stamp written second).
 */
function localStamped(key: string): Stamped | undefined {
  try {
    const text = local().getItem(PREFIX + key);
    if (text === null) return undefined;
    const [seq, named] = (local().getItem(STAMPS + key) ?? "").split(":");
    return named === digest(text) && seq !== undefined && /^\d+$/.test(seq)
      ? { seq: Number(seq), text }
      : { seq: Number.POSITIVE_INFINITY, text };
  } catch {
    return undefined;
  }
}

/** The newer of two stamped texts (IndexedDB's on a tie), undefined when neither. */
function newer(a: Stamped | undefined, b: Stamped | undefined): Stamped | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.seq > a.seq ? b : a;
}

/**
 * Text by key in the page's `localStorage` (the explorer's own keys: `PREFIX`), written at once, so that what the
 * playground keeps survives a reload: the SDK's task logs (`TaskLogStore`) and its per-stack state (`StateStore`).
 * Where `localStorage` refuses a write (private mode, quota), the page's memory keeps that key from then on, and
 * reads of it come from there, never from the older text left in `localStorage` (review of issue 13, second, F).
 * Every tab of the origin shares `localStorage`: an update of a key holds the origin's Web Lock of that key
 * (`exclusive`), so two tabs' clients of one owner never erase each other's writes (review of issue 13, HIGH-1).
 * A tab sees another tab's `localStorage` writes only some time later (Chromium sends them between its processes
 * after the fact: a tab given the lock read the text before the last holder's write, and that write was lost; second
 * review of issue 13, found by explorerPageStoreLocks.test.ts). So every write goes to IndexedDB too, whose
 * transactions every tab sees in order, and an update under the lock reads the key from there — or from
 * `localStorage`, when its text is the newer (review MEDIUM-5: a write IndexedDB refused, or one by a tab still on the
 * bundle before IndexedDB, lands in `localStorage` only): every write is stamped with a sequence number in both stores,
 * one past the highest this tab has seen of the key, and the locked read takes the higher.
 */
export function pageStore(): StateStore {
  const memory = new Map<string, string>();
  /** Keys updated under their lock in this tab now, with their text as the newer store has it (or this update wrote). */
  const held = new Map<string, string | undefined>();
  /** The highest sequence number this tab has read or written of each key. */
  const seen = new Map<string, number>();
  const nextSeq = (key: string) => {
    const last = seen.get(key) ?? 0;
    const seq = Math.max(last + 1, Date.now());
    seen.set(key, seq);
    return seq;
  };
  return {
    get(key) {
      const latest = held.get(key);
      if (latest !== undefined) return latest;
      const kept = memory.get(key);
      if (kept !== undefined) return kept;
      try {
        return local().getItem(PREFIX + key) ?? undefined;
      } catch {
        return undefined;
      }
    },
    set(key, value) {
      if (held.has(key)) held.set(key, value);
      const seq = nextSeq(key);
      const written = idbPut(PREFIX + key, { seq, text: value });
      if (!memory.has(key)) {
        try {
          // The text first, then its stamp: a tab that sees the one without the other takes the text as unstamped.
          local().setItem(PREFIX + key, value);
          try {
            local().setItem(STAMPS + key, `${seq}:${digest(value)}`);
          } catch {
            // The stamp refused: the text reads as unstamped (newest), which it is.
          }
          return written;
        } catch {
          // Refused: this key lives in the page's memory from now on.
        }
      }
      memory.set(key, value);
      return written;
    },
    exclusive<T>(key: string, run: () => Promise<T>): Promise<T> {
      const locks = (globalThis as { navigator?: { locks?: WebLocks } }).navigator?.locks;
      if (!locks) return run();
      // The lock is held until `run` settles (its writes committed: `set`'s promise); it resolves to what `run`'s does.
      return locks.request(PREFIX + key, async () => {
        const fromIdb = await idbGet(PREFIX + key);
        const found = newer(fromIdb, memory.has(key) ? undefined : localStamped(key));
        if (found !== undefined && Number.isFinite(found.seq))
          seen.set(key, Math.max(seen.get(key) ?? 0, found.seq));
        else if (found !== undefined) seen.set(key, Math.max(seen.get(key) ?? 0, fromIdb?.seq ?? 0));
        held.set(key, found?.text);
        try {
          return await run();
        } finally {
          held.delete(key);
        }
      });
    },
  };
}
