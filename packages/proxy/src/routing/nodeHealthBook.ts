/** What the gateway has measured of one node. */
export interface NodeObservation {
  /** Moving average of the time to the first token (ms); undefined until measured. */
  ttftMs: number | undefined;
  /** Moving average of generated tokens per second; undefined until measured. */
  tokensPerSecond: number | undefined;
  /** Requests this gateway has at the node now. */
  inFlight: number;
  /** Requests waiting in the node's own queue, as its `/metrics` last said. */
  queueDepth: number;
  /** Share of recent health checks (and requests) the node passed, 0..1; 1 until checked. */
  uptime: number;
  /** Unix ms until which the node is put aside after a failure. */
  coolingUntil: number;
  /** Out of rotation for good: one of its receipts failed verification. */
  removed: boolean;
  /** When a request was last routed to it, as a count of routings (0: never). */
  lastClaimed: number;
}

/** Weight of the newest sample in the moving averages. */
const ALPHA = 0.2;
/** Health outcomes remembered for uptime. */
const UPTIME_WINDOW = 20;

/** Something the rest of the gateway fleet should also know (shared through Redis when configured). */
export type HealthEvent =
  | { kind: "cooldown"; nodeId: bigint; until: number }
  | { kind: "removed"; nodeId: bigint; reason: string };

/** A claim on a node's load for one request; `moveTo` when the stack leased is at another node. */
export interface InFlightClaim {
  readonly nodeId: bigint;
  moveTo(nodeId: bigint): void;
  end(): void;
}

/**
 * The gateway's live view of each node: measured latency and throughput, its load, its uptime, and whether it is
 * put aside (cooldown) or out of rotation. Reads are synchronous (routing runs on every request); `onEvent` tells
 * other gateways of cooldowns and removals, and `apply` takes theirs.
 */
export class NodeHealthBook {
  readonly #nodes = new Map<bigint, NodeObservation & { outcomes: boolean[] }>();
  readonly #now: () => number;
  #claims = 0;
  readonly #listeners: ((event: HealthEvent) => void)[] = [];
  /** Sharing with other gateways (`RedisHealthChannel`); `listen` adds others beside it. */
  onEvent: ((event: HealthEvent) => void) | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Tells `listener` of each cooldown and removal this gateway decides (not those `apply` takes from others). */
  listen(listener: (event: HealthEvent) => void): void {
    this.#listeners.push(listener);
  }

  observation(nodeId: bigint): NodeObservation {
    return this.#node(nodeId);
  }

  available(nodeId: bigint): boolean {
    const node = this.#nodes.get(nodeId);
    return !node || (!node.removed && node.coolingUntil <= this.#now());
  }

  isRemoved(nodeId: bigint): boolean {
    return this.#nodes.get(nodeId)?.removed ?? false;
  }

  claim(nodeId: bigint): InFlightClaim {
    let current = nodeId;
    let ended = false;
    const node = this.#node(current);
    node.inFlight++;
    node.lastClaimed = ++this.#claims;
    return {
      get nodeId() {
        return current;
      },
      moveTo: (next) => {
        if (ended || next === current) return;
        this.#node(current).inFlight--;
        current = next;
        this.#node(current).inFlight++;
      },
      end: () => {
        if (ended) return;
        ended = true;
        this.#node(current).inFlight--;
      },
    };
  }

  /** A served request: time to first token and tokens per second, when the request had any. */
  served(nodeId: bigint, ttftMs: number, tokensPerSecond: number | undefined): void {
    const node = this.#node(nodeId);
    node.ttftMs = average(node.ttftMs, ttftMs);
    if (tokensPerSecond !== undefined && Number.isFinite(tokensPerSecond))
      node.tokensPerSecond = average(node.tokensPerSecond, tokensPerSecond);
    this.#outcome(node, true);
  }

  /** The node refused, failed or could not be reached: put aside for `ms`. */
  coolDown(nodeId: bigint, ms: number): void {
    const until = this.#now() + ms;
    const node = this.#node(nodeId);
    this.#outcome(node, false);
    if (until <= node.coolingUntil) return;
    node.coolingUntil = until;
    this.#emit({ kind: "cooldown", nodeId, until });
  }

  /** One of the node's receipts failed verification: it leaves rotation at once, for good. */
  remove(nodeId: bigint, reason: string): void {
    const node = this.#node(nodeId);
    if (node.removed) return;
    node.removed = true;
    this.#emit({ kind: "removed", nodeId, reason });
  }

  /** A health check's result, and the node's queue when its metrics said. */
  checked(nodeId: bigint, healthy: boolean, queueDepth?: number): void {
    const node = this.#node(nodeId);
    this.#outcome(node, healthy);
    if (queueDepth !== undefined && Number.isFinite(queueDepth) && queueDepth >= 0)
      node.queueDepth = queueDepth;
  }

  /** Another gateway's news (never echoed back out). */
  apply(event: HealthEvent): void {
    const node = this.#node(event.nodeId);
    if (event.kind === "removed") node.removed = true;
    else node.coolingUntil = Math.max(node.coolingUntil, event.until);
  }

  #emit(event: HealthEvent): void {
    this.onEvent?.(event);
    for (const listener of this.#listeners) listener(event);
  }

  #outcome(node: { outcomes: boolean[]; uptime: number }, ok: boolean): void {
    node.outcomes.push(ok);
    if (node.outcomes.length > UPTIME_WINDOW) node.outcomes.shift();
    node.uptime = node.outcomes.filter(Boolean).length / node.outcomes.length;
  }

  #node(nodeId: bigint) {
    let node = this.#nodes.get(nodeId);
    if (!node) {
      node = {
        ttftMs: undefined,
        tokensPerSecond: undefined,
        inFlight: 0,
        queueDepth: 0,
        uptime: 1,
        coolingUntil: 0,
        removed: false,
        lastClaimed: 0,
        outcomes: [],
      };
      this.#nodes.set(nodeId, node);
    }
    return node;
  }
}

const average = (previous: number | undefined, sample: number) =>
  previous === undefined ? sample : previous + ALPHA * (sample - previous);
