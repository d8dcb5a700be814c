import type { AttestationVerdict } from "./attestationVerdict.js";

const DEFAULT_FIRST_MS = 5_000;
const DEFAULT_MAX_MS = 300_000;

interface Cooling {
  verdict: AttestationVerdict;
  /** Failures in a row: the wait doubles with each. */
  failures: number;
  until: number;
}

/**
 * Nodes whose attestation could not be had for now (a transient failure: timeout, connection refused, 5xx, the
 * chain unreadable). Each is skipped until its wait is over, the wait doubling with each failure in a row (capped),
 * then asked again; an attestation that passes forgets it. A node whose evidence fails a check is not kept here:
 * the client puts it aside for good.
 */
export class AttestationCooldown {
  readonly #firstMs: number;
  readonly #maxMs: number;
  readonly #nodes = new Map<bigint, Cooling>();

  constructor(options: { firstMs?: number | undefined; maxMs?: number | undefined } = {}) {
    this.#firstMs = options.firstMs ?? DEFAULT_FIRST_MS;
    this.#maxMs = Math.max(options.maxMs ?? DEFAULT_MAX_MS, this.#firstMs);
  }

  /** Records a transient failure of `verdict.nodeId`; returns when it is asked again. */
  cool(verdict: AttestationVerdict, now = Date.now()): Date {
    const failures = (this.#nodes.get(verdict.nodeId)?.failures ?? 0) + 1;
    const wait = Math.min(this.#firstMs * 2 ** Math.min(failures - 1, 30), this.#maxMs);
    this.#nodes.set(verdict.nodeId, { verdict, failures, until: now + wait });
    return new Date(now + wait);
  }

  /** The node's attestation passed: its next failure waits the first delay again. */
  forget(nodeId: bigint): void {
    this.#nodes.delete(nodeId);
  }

  /** The nodes still waiting at `now`, each with its last verdict and when it is asked again. */
  waiting(now = Date.now()): { nodeId: bigint; verdict: AttestationVerdict; retryAt: Date }[] {
    return [...this.#nodes.entries()]
      .filter(([, cooling]) => cooling.until > now)
      .map(([nodeId, cooling]) => ({ nodeId, verdict: cooling.verdict, retryAt: new Date(cooling.until) }));
  }
}
