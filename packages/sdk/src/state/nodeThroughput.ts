import { placeKey, type StackPlace } from "./stackState.js";
import { type StateStore, type StateUpdates, stateUpdates } from "./stateStore.js";

/** Answers of a node its figure is taken from: the most recent ones only. */
export const THROUGHPUT_WINDOW = 5;
/** Nodes kept in one store entry: past this many, the least recently measured is dropped. */
export const THROUGHPUT_NODES = 256;
/** More tokens per second than any engine serves: a stored figure above it was not measured, it was written. */
const MOST_TOKENS_PER_SECOND = 1_000_000;
/** A node id as the chain's uint256, in decimal. */
const NODE_ID = /^(0|[1-9][0-9]{0,77})$/;

interface Measured {
  /** When it was last measured (ms since the epoch; later than any other entry's when it was written). */
  at: number;
  /** Tokens per second of its most recent answers, oldest first. */
  samples: number[];
}

/** Where an owner's measurements of the nodes of one chain are kept. */
export function throughputKey(place: StackPlace): string {
  return `atoma-throughput:${placeKey(place)}`;
}

const isFigure = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 && value <= MOST_TOKENS_PER_SECOND;

/**
 * The entries of a stored text that are measurements (the store is text anything may have changed): a node id in
 * decimal, a time, and 1 to `THROUGHPUT_WINDOW` figures each within reason. Anything else is passed over; a text
 * that is no JSON object holds none.
 */
function decodeThroughput(text: string | undefined): Map<string, Measured> {
  const kept = new Map<string, Measured>();
  let parsed: unknown;
  try {
    parsed = text === undefined ? undefined : JSON.parse(text);
  } catch {
    return kept;
  }
  const nodes = (parsed as { nodes?: unknown } | null | undefined)?.nodes;
  if (typeof nodes !== "object" || nodes === null || Array.isArray(nodes)) return kept;
  for (const [nodeId, entry] of Object.entries(nodes)) {
    if (!NODE_ID.test(nodeId) || typeof entry !== "object" || entry === null) continue;
    const { at, samples } = entry as Partial<Record<keyof Measured, unknown>>;
    if (!Number.isSafeInteger(at) || (at as number) < 0) continue;
    if (!Array.isArray(samples) || samples.length === 0 || samples.length > THROUGHPUT_WINDOW) continue;
    if (!samples.every(isFigure)) continue;
    kept.set(nodeId, { at: at as number, samples });
  }
  return newest(kept);
}

/** At most `THROUGHPUT_NODES` entries: the most recently measured. */
function newest(entries: Map<string, Measured>): Map<string, Measured> {
  if (entries.size <= THROUGHPUT_NODES) return entries;
  return new Map([...entries].sort(([, a], [, b]) => b.at - a.at).slice(0, THROUGHPUT_NODES));
}

/**
 * The lower median of a node's recent figures: one answer far faster than the rest (a fast first answer, then slow
 * ones) does not carry it, and one slow answer among fast ones does not sink it.
 */
function figureOf(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * The tokens per second this client (and every client of the owner over the same store) measured of each node's
 * verified answers on one chain (`answerTokensPerSecond`), kept in its `StateStore` under `throughputKey`: what
 * `sort: "throughput"` ranks by. Each node's figure is taken from its last `THROUGHPUT_WINDOW` answers only, and
 * at most `THROUGHPUT_NODES` nodes are kept.
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

  /** One more answer of `nodeId`, at `tokensPerSecond`; a figure that is no measure is not kept. */
  async record(nodeId: bigint, tokensPerSecond: number, now = Date.now()): Promise<void> {
    if (!isFigure(tokensPerSecond)) return;
    await this.#updates.update(this.#key, (text) => {
      const entries = decodeThroughput(text);
      const id = nodeId.toString();
      const samples = [...(entries.get(id)?.samples ?? []), tokensPerSecond].slice(-THROUGHPUT_WINDOW);
      // Later than every entry kept: the one measured last is never the one dropped, whatever the clock says.
      const latest = Math.max(-1, ...[...entries.values()].map((e) => e.at));
      entries.set(id, { at: Math.max(now, latest + 1), samples });
      const nodes = Object.fromEntries(newest(entries));
      return { text: JSON.stringify({ nodes }), value: undefined };
    });
  }

  /** Each measured node's figure (tokens per second). */
  async figures(): Promise<Map<bigint, number>> {
    const entries = decodeThroughput(await this.store.get(this.#key));
    return new Map([...entries].map(([nodeId, { samples }]) => [BigInt(nodeId), figureOf(samples)]));
  }
}
