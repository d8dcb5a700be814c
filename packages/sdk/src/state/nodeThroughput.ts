import { placeKey, type StackPlace } from "./stackState.js";
import { type StateStore, type StateUpdates, stateUpdates } from "./stateStore.js";

/** Answers of a node (on one model) its figure is taken from: the most recent ones only. */
export const THROUGHPUT_WINDOW = 5;
/** (model, node) entries kept in one store entry: past this many, the least recently measured is dropped. */
export const THROUGHPUT_ENTRIES = 256;
/** A figure last measured longer ago than this (24 hours) is ignored: the node counts as not measured again. */
export const THROUGHPUT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** More bytes per second than any engine generates: a stored figure above it was not measured, it was written. */
const MOST_BYTES_PER_SECOND = 10_000_000;
/** How far past this clock a stored time may lie (another client's clock a little ahead); further, it was written. */
const FUTURE_SLACK_MS = 60_000;
/** A node id as the chain's uint256, in decimal. */
const NODE_ID = /^(0|[1-9][0-9]{0,77})$/;
/** Longer model names are no model a node serves: an entry under one is passed over. */
const MODEL_CHARS = 256;

/** One answer's measure, as `NodeThroughput.recordAll` takes it. */
export interface ThroughputMeasure {
  nodeId: bigint;
  model: string;
  bytesPerSecond: number;
}

interface Measured {
  model: string;
  node: string;
  /** When it was last measured (ms since the epoch; later than any other entry's when it was written). */
  at: number;
  /** Bytes per second of its most recent answers, oldest first. */
  samples: number[];
}

/** Where an owner's measurements of the nodes of one chain are kept. */
export function throughputKey(place: StackPlace): string {
  return `atoma-throughput-v2:${placeKey(place)}`;
}

const isFigure = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 && value <= MOST_BYTES_PER_SECOND;

const entryKey = (model: string, node: string) => JSON.stringify([model, node]);

/**
 * The entries of a stored text that are measurements (the store is text anything may have changed): a model name, a
 * node id in decimal, a time (possibly ahead of this clock: `aheadOf`) and 1 to `THROUGHPUT_WINDOW` figures each
 * within reason. Anything else is passed over; a text that holds no list holds none.
 */
function decodeThroughput(text: string | undefined): Map<string, Measured> {
  const kept = new Map<string, Measured>();
  let parsed: unknown;
  try {
    parsed = text === undefined ? undefined : JSON.parse(text);
  } catch {
    return kept;
  }
  const entries = (parsed as { entries?: unknown } | null | undefined)?.entries;
  if (!Array.isArray(entries)) return kept;
  for (const entry of entries) {
    if (typeof entry !== "object" || entry === null) continue;
    const { model, node, at, samples } = entry as Partial<Record<keyof Measured, unknown>>;
    if (typeof model !== "string" || model.length === 0 || model.length > MODEL_CHARS) continue;
    if (typeof node !== "string" || !NODE_ID.test(node)) continue;
    if (!Number.isSafeInteger(at) || (at as number) < 0) continue;
    if (!Array.isArray(samples) || samples.length === 0 || samples.length > THROUGHPUT_WINDOW) continue;
    if (!samples.every(isFigure)) continue;
    const key = entryKey(model, node);
    const seen = kept.get(key);
    if (!seen || seen.at < (at as number)) kept.set(key, { model, node, at: at as number, samples });
  }
  return kept;
}

/**
 * Dated more than `FUTURE_SLACK_MS` past `now`: another client's clock far ahead of this one, or a time written to
 * stay the newest for good. Not ranked, and not taken as the latest time (it would push every later one past it);
 * kept on a rewrite all the same (a client with a slow clock does not erase another's measurements), but the first
 * dropped past `THROUGHPUT_ENTRIES`.
 */
const aheadOf = (entry: Measured, now: number) => entry.at > now + FUTURE_SLACK_MS;

/** At most `THROUGHPUT_ENTRIES` entries: the most recently measured, those dated far ahead of `now` dropped first. */
function newest(entries: Map<string, Measured>, now: number): Map<string, Measured> {
  if (entries.size <= THROUGHPUT_ENTRIES) return entries;
  const recency = (e: Measured) => (aheadOf(e, now) ? -1 : e.at);
  return new Map([...entries].sort(([, a], [, b]) => recency(b) - recency(a)).slice(0, THROUGHPUT_ENTRIES));
}

/**
 * The lower quartile of a node's recent figures (the second-lowest of five, the lowest of four or fewer): one answer
 * far faster than the rest does not carry it, two slow answers among fast ones (a node slow every other time) do
 * sink it, and a single slow one among five does not.
 */
function figureOf(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 4)]!;
}

/**
 * The bytes of answer per second this client (and every client of the owner over the same store) measured of each
 * node's verified answers on one chain, per model (`answerBytesPerSecond`), kept in its `StateStore` under
 * `throughputKey`: what `sort: "throughput"` ranks by. Each figure is taken from the node's last
 * `THROUGHPUT_WINDOW` answers on the model, one not measured for `THROUGHPUT_MAX_AGE_MS` is ignored, and at most
 * `THROUGHPUT_ENTRIES` (model, node) entries are kept.
 */
export class NodeThroughput {
  readonly #updates: StateUpdates;
  readonly #key: string;
  constructor(
    readonly store: StateStore,
    place: StackPlace,
  ) {
    this.#updates = stateUpdates(store);
    this.#key = throughputKey(place);
  }

  /** One more answer of `nodeId` on `model`, at `bytesPerSecond`; a figure that is no measure is not kept. */
  record(nodeId: bigint, model: string, bytesPerSecond: number, now = Date.now()): Promise<void> {
    return this.recordAll([{ nodeId, model, bytesPerSecond }], now);
  }

  /** Several answers in one update of the store, in the order given; figures that are no measure are not kept. */
  async recordAll(measures: readonly ThroughputMeasure[], now = Date.now()): Promise<void> {
    const kept = measures.filter(
      (m) => isFigure(m.bytesPerSecond) && m.model.length > 0 && m.model.length <= MODEL_CHARS,
    );
    if (kept.length === 0) return;
    await this.#updates.update(this.#key, (text) => {
      const entries = decodeThroughput(text);
      for (const { nodeId, model, bytesPerSecond } of kept) {
        const node = nodeId.toString();
        const key = entryKey(model, node);
        const before = entries.get(key);
        // An entry measured longer ago than a figure is kept starts afresh: old answers do not stay in the window.
        const recent = before && before.at >= now - THROUGHPUT_MAX_AGE_MS ? before.samples : [];
        const samples = [...recent, bytesPerSecond].slice(-THROUGHPUT_WINDOW);
        // Later than every entry kept: the one measured last is never the one dropped, whatever the clock says.
        const current = [...entries.values()].filter((e) => !aheadOf(e, now));
        const latest = Math.max(-1, ...current.map((e) => e.at));
        entries.set(key, { model, node, at: Math.max(now, latest + 1), samples });
      }
      return { text: JSON.stringify({ entries: [...newest(entries, now).values()] }), value: undefined };
    });
  }

  /** Each node's figure on `model` (bytes per second), of those measured within `THROUGHPUT_MAX_AGE_MS`. */
  async figures(model: string, now = Date.now()): Promise<Map<bigint, number>> {
    const entries = newest(decodeThroughput(await this.store.get(this.#key)), now);
    return new Map(
      [...entries.values()]
        .filter((e) => e.model === model && e.at >= now - THROUGHPUT_MAX_AGE_MS && !aheadOf(e, now))
        .map((e) => [BigInt(e.node), figureOf(e.samples)]),
    );
  }
}
