/**
 * Request fields a node may not serve: a node on a remote engine refuses tools, structured output and logprobs with
 * `unsupported_parameter` (engine `refuseStructuredOutput`).
 */
const FEATURES = ["tools", "functions", "response_format", "logprobs", "top_logprobs"] as const;

/** The features a request body asks for (a field set to null or false asks for nothing). */
export function featuresOf(body: Record<string, unknown>): string[] {
  return FEATURES.filter(
    (field) => body[field] !== undefined && body[field] !== null && body[field] !== false,
  );
}

/**
 * How much of a node's capacity a request asks for, in about tokens: its body's bytes over 4 (the prompt) plus its
 * signed unit bound (the answer). A node's context length and body limits are about this sum.
 */
export function requestWeight(body: Record<string, unknown>, maxUnits: bigint): number {
  return Math.ceil(JSON.stringify(body).length / 4) + Number(maxUnits);
}

/**
 * The weight every node serves: a refusal of a request no heavier is never the node's limit. Well under the
 * smallest context length a model is served with (the tiny test model's included).
 */
export const SERVED_BY_ALL_WEIGHT = 512;

/** A node's refusal of a request another node then served. */
export interface ProvenRefusal {
  /** Distinct keys whose servable requests the node refused in a row, this one's included. */
  inARow: number;
  /** This refusal's key is new to the run (a key's further refusals add nothing against the node). */
  newKey: boolean;
  /**
   * The refusal is explained by the request itself, and counts nothing against the node: it named features the node
   * does not serve, or the request was heavier than any the node served (its own limits: context length, body
   * size). Later requests asking for those features, or at least as heavy, skip the node.
   */
  skipped: boolean;
}

/** How long a node is skipped for the features or the weight it refused (it may be upgraded meanwhile). */
const FEATURE_MEMORY_MS = 10 * 60_000;
/** Feature sets remembered per node. */
const MAX_REMEMBERED = 8;

/**
 * What the gateway learnt of nodes that refuse requests (a 4xx about the request itself) another node then served:
 * the client's input was fine, so the refusal counts against the node (review of issue 12, HIGH-1: a node answering
 * 400 to everything was never measured, so it ranked best for good and took the traffic). A refusal naming
 * features is remembered, and requests asking for them skip the node; so is one of a request heavier than any the
 * node served (and than every node serves, `SERVED_BY_ALL_WEIGHT`): an honest node refuses inputs over its own
 * context length as `invalid_input`, and anyone holding a few keys could otherwise send such inputs to put it aside
 * for everyone (put-aside griefing). Any other is counted by the key that sent it, and the caller puts the node
 * aside once refusals from a few distinct keys came in a row. One key counts once: a user sending inputs over one
 * node's own limits that a larger node serves cannot put an honest node aside for everyone (review speed-gwfix,
 * B-3). A request the node then serves ends its run.
 */
export class NodeRefusals {
  readonly #inARow = new Map<bigint, Set<string>>();
  readonly #unsupported = new Map<bigint, { features: string[]; until: number }[]>();
  /** The lightest request each node refused as past its limits, while remembered. */
  readonly #limit = new Map<bigint, { weight: number; until: number }>();
  /** The heaviest request each node served. */
  readonly #heaviestServed = new Map<bigint, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * `nodeId` refused a request asking for `features`, of `weight` (`requestWeight`), that another node served. The
   * node's code does not say why (a node turns an engine's `unsupported_parameter` and `context_length_exceeded` into
   * `invalid_input`), so a request with features is taken as one the node does not serve them for, one heavier than
   * any it served as past its limits, and any other counts towards the run once per key (`keyId`; absent: one
   * anonymous key).
   */
  proven(nodeId: bigint, features: readonly string[], keyId = "", weight = 0): ProvenRefusal {
    const now = this.#now();
    if (features.length > 0) {
      const kept = (this.#unsupported.get(nodeId) ?? []).filter((entry) => entry.until > now);
      kept.push({ features: [...features], until: now + FEATURE_MEMORY_MS });
      this.#unsupported.set(nodeId, kept.slice(-MAX_REMEMBERED));
      return { inARow: this.#inARow.get(nodeId)?.size ?? 0, newKey: false, skipped: true };
    }
    const served = this.#heaviestServed.get(nodeId) ?? 0;
    if (weight > SERVED_BY_ALL_WEIGHT && weight > served) {
      const known = this.#limit.get(nodeId);
      const lighter = known && known.until > now && known.weight < weight ? known.weight : weight;
      this.#limit.set(nodeId, { weight: lighter, until: now + FEATURE_MEMORY_MS });
      return { inARow: this.#inARow.get(nodeId)?.size ?? 0, newKey: false, skipped: true };
    }
    const keys = this.#inARow.get(nodeId) ?? new Set<string>();
    const newKey = !keys.has(keyId);
    keys.add(keyId);
    this.#inARow.set(nodeId, keys);
    return { inARow: keys.size, newKey, skipped: false };
  }

  /** The node served a request of `weight`: its run of refusals ends. */
  served(nodeId: bigint, weight = 0): void {
    this.#inARow.delete(nodeId);
    if (weight > (this.#heaviestServed.get(nodeId) ?? 0)) this.#heaviestServed.set(nodeId, weight);
    const limit = this.#limit.get(nodeId);
    // It served one at least as heavy as it refused: what it refused was not its limit.
    if (limit && limit.weight <= weight) this.#limit.delete(nodeId);
  }

  /**
   * Whether `nodeId` refused (recently) features this request asks for, all of those it named, or a request no
   * heavier than this one (`weight`) as past its limits.
   */
  refuses(nodeId: bigint, features: readonly string[], weight = 0): boolean {
    const now = this.#now();
    const limit = this.#limit.get(nodeId);
    if (limit && limit.until > now && weight >= limit.weight) return true;
    const entries = this.#unsupported.get(nodeId);
    if (!entries || features.length === 0) return false;
    return entries.some((entry) => entry.until > now && entry.features.every((f) => features.includes(f)));
  }
}
