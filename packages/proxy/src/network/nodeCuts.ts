/** What a node's cuts call for: nothing yet, the cooldown, or its removal from rotation. */
export type CutVerdict = "none" | "cool_down" | "remove";

export interface NodeCutsOptions {
  /** The window cuts and answered streams are counted over. */
  windowMs: number;
  /** Cut events within the window before the node is put aside (cooled down); twice as many may remove it. */
  limit: number;
  /**
   * Cuts this close after the last counted one, of streams begun before it, are the same event (a broken link cuts
   * every stream open on it at once). @default 2000
   */
  burstMs?: number | undefined;
  /** The least share of its streams in the window a node cut before it is removed, not only put aside. @default 0.2 */
  removeShare?: number | undefined;
}

/**
 * Whether a cut of a stream begun at `begunAt`, counted at `now`, is the same event as the last one counted (at
 * `last`): the stream was open then, and `now` is within `burstMs` after it. A last event timed after `now` (another
 * clock's) is no burst: an age below zero would otherwise hide every cut that follows.
 */
export function sameCutEvent(
  last: number | undefined,
  begunAt: number,
  now: number,
  burstMs: number,
): boolean {
  if (last === undefined) return false;
  const age = now - last;
  return begunAt <= last && age >= 0 && age < burstMs;
}

/** What `events` cut events within the window call for, with `answered` requests answered in it. */
export function cutVerdict(events: number, answered: number, o: NodeCutsOptions): CutVerdict {
  if (events < o.limit) return "none";
  if (events < 2 * o.limit) return "cool_down";
  return events >= (o.removeShare ?? 0.2) * (events + answered) ? "remove" : "cool_down";
}

/**
 * Streams each node broke off after sending text and before its receipt, with the resend still in flight there (a
 * cut), counted as events over a moving window (review 2 of h-gw, MEDIUM-C). One cut is what a broken connection
 * looks like, and one blip cuts every stream open at once: a cut of a stream begun before the last counted cut, and
 * within `burstMs` of it, is that same event. Cut after cut is a node that cuts on purpose (its leaf then read with no
 * answer bytes to check its units against): past `limit` events it is put aside, and it is removed only past twice
 * that when those events are a large share of the streams it served (answered ones count too, so a busy honest node
 * whose link breaks now and then stays). Never reset by a request answered in between. Kept in memory: a gateway with a
 * database counts with `StrikeCounter` instead, on the same rules (`sameCutEvent`, `cutVerdict`).
 */
export class NodeCuts {
  readonly #o: NodeCutsOptions;
  readonly #now: () => number;
  /** Per node: when each counted cut event happened. */
  readonly #events = new Map<bigint, number[]>();
  /** Per node: its requests answered, counted in slices of a twentieth of the window (a busy node answers many). */
  readonly #answers = new Map<bigint, { slice: number; count: number }[]>();

  constructor(options: NodeCutsOptions, now: () => number = Date.now) {
    this.#o = options;
    this.#now = now;
  }

  /** The clock cuts are counted on: a stream's `begunAt` for `record` is read from it. */
  now(): number {
    return this.#now();
  }

  /** Counts a cut by `nodeId` of a stream begun at `begunAt`; returns what its cut events now call for. */
  record(nodeId: bigint, begunAt: number): CutVerdict {
    const now = this.#now();
    const events = this.#recent(this.#events, nodeId, now);
    const last = events.at(-1);
    if (sameCutEvent(last, begunAt, now, this.#o.burstMs ?? 2_000)) return "none";
    events.push(now);
    const answered = this.#answered(nodeId, now).reduce((sum, slice) => sum + slice.count, 0);
    return cutVerdict(events.length, answered, this.#o);
  }

  /** Counts a request `nodeId` answered (its receipt kept): the streams a node cut are weighed against these. */
  answered(nodeId: bigint): void {
    const slices = this.#answered(nodeId, this.#now());
    const slice = Math.floor(this.#now() / this.#sliceMs());
    const last = slices.at(-1);
    if (last?.slice === slice) last.count++;
    else slices.push({ slice, count: 1 });
  }

  /** The node's cut events within the window. */
  events(nodeId: bigint): number {
    return this.#recent(this.#events, nodeId, this.#now()).length;
  }

  #sliceMs(): number {
    return Math.max(1, Math.floor(this.#o.windowMs / 20));
  }

  /** The node's answered slices within the window (older ones dropped). */
  #answered(nodeId: bigint, now: number): { slice: number; count: number }[] {
    const oldest = Math.floor((now - this.#o.windowMs) / this.#sliceMs());
    const recent = (this.#answers.get(nodeId) ?? []).filter((s) => s.slice > oldest);
    this.#answers.set(nodeId, recent);
    return recent;
  }

  /** The node's times within the window (older ones dropped), kept in `book`. */
  #recent(book: Map<bigint, number[]>, nodeId: bigint, now: number): number[] {
    const recent = (book.get(nodeId) ?? []).filter((at) => at > now - this.#o.windowMs);
    book.set(nodeId, recent);
    return recent;
  }
}
