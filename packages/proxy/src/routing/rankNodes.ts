import type { CatalogNode } from "../network/catalog.js";
import type { NodeHealthBook, NodeObservation } from "./nodeHealthBook.js";
import type { ProviderPreferences } from "./providerPreferences.js";

/** Weights of the balanced score (lower is better); load weighs as much as price so that load spreads. */
export const BALANCED_WEIGHTS = {
  price: 0.3,
  load: 0.3,
  latency: 0.15,
  throughput: 0.1,
  uptime: 0.1,
  reputation: 0.05,
} as const;

interface Scored {
  node: CatalogNode;
  seen: NodeObservation;
  score: number;
}

/**
 * The nodes a request may go to, best first: those the preferences allow (`only`, `ignore`, `max_price`), never
 * a node out of rotation, and nodes cooling down after a failure only when no other is left. Ranked by the
 * balanced score of price, load (this gateway's requests in flight plus the node's queue), measured time to first
 * token and tokens/s, uptime and on-chain reputation; `sort` ranks by one of them first, `order` puts its nodes
 * ahead, and `allow_fallbacks: false` keeps only those (or only the first choice).
 */
export function rankNodes(
  nodes: readonly CatalogNode[],
  preferences: ProviderPreferences,
  book: NodeHealthBook,
): CatalogNode[] {
  const only = preferences.only && new Set(preferences.only);
  const ignore = new Set(preferences.ignore ?? []);
  const allowed = nodes.filter(
    (node) =>
      !book.isRemoved(node.nodeId) &&
      (!only || only.has(node.nodeId)) &&
      !ignore.has(node.nodeId) &&
      (preferences.maxPricePerMillion === undefined ||
        node.pricePerMillion <= preferences.maxPricePerMillion),
  );
  const ready = allowed.filter((node) => book.available(node.nodeId));
  const pool = ready.length > 0 ? ready : allowed;
  const ranked = balancedScores(pool, book)
    .sort(bySort(preferences.sort))
    .map((entry) => entry.node);
  if (preferences.order) {
    const position = new Map(preferences.order.map((id, i) => [id, i] as const));
    const first = ranked
      .filter((node) => position.has(node.nodeId))
      .sort((a, b) => (position.get(a.nodeId) ?? 0) - (position.get(b.nodeId) ?? 0));
    return preferences.allowFallbacks
      ? [...first, ...ranked.filter((node) => !position.has(node.nodeId))]
      : first;
  }
  return preferences.allowFallbacks ? ranked : ranked.slice(0, 1);
}

/** Whether the request's `only`, `ignore` and `max_price` let `node` serve it. */
export function allowedBy(preferences: ProviderPreferences, node: CatalogNode): boolean {
  return (
    (!preferences.only || preferences.only.includes(node.nodeId)) &&
    !preferences.ignore?.includes(node.nodeId) &&
    (preferences.maxPricePerMillion === undefined || node.pricePerMillion <= preferences.maxPricePerMillion)
  );
}

/** Scores this close are a tie: the node routed to least recently goes first (equal nodes take turns). */
const TIE = 1e-9;

function balancedScores(nodes: readonly CatalogNode[], book: NodeHealthBook): Scored[] {
  const seen = nodes.map((node) => book.observation(node.nodeId));
  const maxPrice = Math.max(0, ...nodes.map((node) => Number(node.pricePerMillion)));
  const loads = seen.map((s) => s.inFlight + s.queueDepth);
  const maxLoad = Math.max(0, ...loads);
  const maxTtft = Math.max(0, ...seen.map((s) => s.ttftMs ?? 0));
  const maxTps = Math.max(0, ...seen.map((s) => s.tokensPerSecond ?? 0));
  const w = BALANCED_WEIGHTS;
  return nodes.map((node, i) => {
    const s = seen[i] as NodeObservation;
    // A node not measured yet scores as the best measured one, so new nodes get tried.
    const latency = s.ttftMs === undefined || maxTtft === 0 ? 0 : s.ttftMs / maxTtft;
    const throughput = s.tokensPerSecond === undefined || maxTps === 0 ? 0 : 1 - s.tokensPerSecond / maxTps;
    const score =
      w.price * (maxPrice === 0 ? 0 : Number(node.pricePerMillion) / maxPrice) +
      w.load * ((loads[i] ?? 0) / (1 + maxLoad)) +
      w.latency * latency +
      w.throughput * throughput +
      w.uptime * (1 - s.uptime) +
      w.reputation * (1 - Math.min(100, Math.max(0, node.reputation ?? 0)) / 100);
    return { node, seen: s, score };
  });
}

function bySort(sort: ProviderPreferences["sort"]): (a: Scored, b: Scored) => number {
  const balanced = (a: Scored, b: Scored) =>
    Math.abs(a.score - b.score) < TIE ? a.seen.lastClaimed - b.seen.lastClaimed : a.score - b.score;
  switch (sort) {
    case "price":
      return (a, b) =>
        a.node.pricePerMillion === b.node.pricePerMillion
          ? balanced(a, b)
          : a.node.pricePerMillion < b.node.pricePerMillion
            ? -1
            : 1;
    case "latency":
      return (a, b) => (a.seen.ttftMs ?? Infinity) - (b.seen.ttftMs ?? Infinity) || balanced(a, b);
    case "throughput":
      return (a, b) => (b.seen.tokensPerSecond ?? -1) - (a.seen.tokensPerSecond ?? -1) || balanced(a, b);
    default:
      return balanced;
  }
}
