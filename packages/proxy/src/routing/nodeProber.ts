import { readBodyCapped } from "@atoma/sdk";
import type { CatalogNode } from "../network/catalog.js";
import type { NodeAddressGuard } from "../network/nodeAddressGuard.js";
import type { NodeHealthBook } from "./nodeHealthBook.js";

/** The node's gauge of requests waiting for its engine (see the node's metrics). */
const QUEUE_METRIC = /^atoma_node_queue_depth(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$/m;
/** A node's metrics page is small; a hostile one must not fill memory. */
const MAX_METRICS_BYTES = 1_048_576;

export interface NodeProberOptions {
  /** How long one node may take to answer. @default 2000 */
  timeoutMs?: number | undefined;
  fetch?: typeof fetch | undefined;
  /**
   * Judges each node's URL before it is probed and pins its connections to checked addresses (a node URL is
   * whatever its operator registered). @default none: every URL is probed
   */
  guard?: NodeAddressGuard | undefined;
}

/**
 * Asks each node for its `/health` (uptime: a 200 passes, anything else or no answer fails) and its `/metrics`
 * (the queue waiting for its engine), and writes both into the health book. The gateway runs it on a timer.
 */
export class NodeProber {
  readonly #book: NodeHealthBook;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #guard: NodeAddressGuard | undefined;

  constructor(book: NodeHealthBook, options: NodeProberOptions = {}) {
    this.#book = book;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    const fetcher = options.fetch ?? fetch;
    this.#guard = options.guard;
    const dispatcher = options.guard?.dispatcher;
    this.#fetch = dispatcher
      ? (input, init) => fetcher(input, { ...init, dispatcher } as unknown as RequestInit)
      : fetcher;
  }

  async probe(nodes: readonly CatalogNode[]): Promise<void> {
    const unique = new Map(nodes.map((node) => [node.nodeId, node] as const));
    await Promise.all([...unique.values()].map((node) => this.#probeOne(node)));
  }

  async #probeOne(node: CatalogNode): Promise<void> {
    if ((await this.#guard?.refusal(node.url)) !== undefined) {
      this.#book.checked(node.nodeId, false, undefined);
      return;
    }
    const [healthy, queueDepth] = await Promise.all([this.#healthy(node.url), this.#queue(node.url)]);
    this.#book.checked(node.nodeId, healthy, queueDepth);
  }

  async #healthy(url: string): Promise<boolean> {
    try {
      const answer = await this.#fetch(new URL("/health", url), {
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: "error",
      });
      await answer.body?.cancel();
      return answer.status === 200;
    } catch {
      return false;
    }
  }

  async #queue(url: string): Promise<number | undefined> {
    try {
      const answer = await this.#fetch(new URL("/metrics", url), {
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: "error",
      });
      if (!answer.ok) {
        await answer.body?.cancel();
        return undefined;
      }
      // Read up to the bound, whether or not the node declares a length (a larger page: no reading).
      const text = await readBodyCapped(answer, MAX_METRICS_BYTES, "metrics page");
      const match = QUEUE_METRIC.exec(text);
      const depth = match ? Number(match[1]) : Number.NaN;
      return Number.isFinite(depth) && depth >= 0 ? depth : undefined;
    } catch {
      return undefined;
    }
  }
}
