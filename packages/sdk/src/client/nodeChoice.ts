import {
  type ChainContext,
  getNode,
  type NodeCandidate,
  NodeStatus,
  offeredNodes,
  SecurityLevel,
} from "@atoma/chain/portable";
import type { Address } from "viem";
import { ClientArgumentError, NoNodeOfferedError } from "../errors.js";
import { boughtStack, type NodePick, reusableStack, type UsableStack } from "../stackChoice.js";
import { type ServingTerms, servedTasks } from "../verify/modelTasks.js";
import type { TaskLogStore } from "../verify/taskLogCache.js";
import { checkNodeId, checkPositive } from "./clientArguments.js";
import { rankedByThroughput, throughputPick } from "./throughputRank.js";

/**
 * How a node is picked for a model, as a gateway's `provider` object says it: a price cap (wei of TOMA per million
 * units), `sort` (`price`: the cheapest node; `latency`: the node that answers `GET /v1/models` first; `throughput`:
 * the node whose verified answers on the model this owner measured at the most bytes per second, `NodeThroughput`; absent: a
 * node drawn at random by the protocol), the nodes allowed (`only`) or not (`ignore`), the nodes tried first
 * (`order`) and whether any other may serve (`allowFallbacks`).
 */
export interface NodePreferences {
  maxPricePerMillion?: bigint | undefined;
  /**
   * `throughput` ranks the nodes measured on the model (the lower quartile of each one's last answers' bytes per
   * second, kept in the client's `stateStore`, `NodeThroughput`) and those not measured yet as `throughputPick`
   * says; while no node offered is measured, it picks as no `sort` does (the protocol draws).
   */
  sort?: NodeSort | undefined;
  only?: readonly bigint[] | undefined;
  ignore?: readonly bigint[] | undefined;
  /**
   * Node ids to buy from first, in this order, ahead of `sort`: the first of them the chain offers is bought from
   * (a stack held on an earlier one of them is reused instead); when none is offered, `sort` chooses among the rest.
   */
  order?: readonly bigint[] | undefined;
  /**
   * `false`: with `order`, no node outside it serves (no offer among them: `NoNodeOfferedError`, nothing bought);
   * without it, no candidate after the first choice is tried when a vetting (a confidential client's attestation
   * check) refuses it. @default true
   */
  allowFallbacks?: boolean | undefined;
  /**
   * Only tasks of this security level (0 none, 1 cross-validation, 2 consensus). Default: the highest level a node
   * could serve this client at now (`servedTasks` within `maxPricePerMillion`, with capacity for `stack.units`, busy or
   * not): anyone may create a task, and an unverified one must not win while a verified one serves this client; a
   * subscriber at a price above the cap, or with too little capacity, does not raise it. Stacks of a lower level bought earlier are not reused.
   */
  securityLevel?: number | undefined;
}

export const NODE_SORTS = ["price", "latency", "throughput"] as const;
export type NodeSort = (typeof NODE_SORTS)[number];

/** Reads the bytes of answer per second measured of each node on a model (`NodeThroughput.figures`). */
export type MeasuredThroughput = (model: string) => Promise<ReadonlyMap<bigint, number>>;

/** What a stack the client buys holds. */
export interface StackPreferences {
  /** @default 100000n */
  units?: bigint | undefined;
  /** Seconds. @default 3600n */
  duration?: bigint | undefined;
}

export const DEFAULT_STACK_UNITS = 100_000n;
export const DEFAULT_STACK_DURATION = 3_600n;
/** The gateway's default cap too: 10 TOMA per million units. */
export const DEFAULT_MAX_PRICE_PER_MILLION = 10n ** 19n;
/** How long a node has to answer the latency probe. */
const PROBE_TIMEOUT_MS = 2_000;
const PROBED_AT_MOST = 8;

/** Checks preferences before anything is read or bought. */
export function checkPreferences(preferences: NodePreferences = {}, stack: StackPreferences = {}): void {
  if (typeof preferences !== "object" || preferences === null)
    throw new ClientArgumentError("preferences must be an object");
  if (preferences.maxPricePerMillion !== undefined)
    checkNodeId(preferences.maxPricePerMillion, "preferences.maxPricePerMillion");
  if (
    preferences.securityLevel !== undefined &&
    !(
      Number.isInteger(preferences.securityLevel) &&
      preferences.securityLevel >= 0 &&
      preferences.securityLevel <= 3
    )
  )
    throw new ClientArgumentError("preferences.securityLevel must be 0, 1, 2 or 3");
  if (preferences.sort !== undefined && !NODE_SORTS.includes(preferences.sort))
    throw new ClientArgumentError('preferences.sort must be "price", "latency" or "throughput"');
  if (preferences.allowFallbacks !== undefined && typeof preferences.allowFallbacks !== "boolean")
    throw new ClientArgumentError("preferences.allowFallbacks must be true or false");
  for (const name of ["only", "ignore", "order"] as const) {
    const ids = preferences[name];
    if (ids === undefined) continue;
    if (!Array.isArray(ids))
      throw new ClientArgumentError(`preferences.${name} must be an array of node ids`);
    for (const id of ids) checkNodeId(id ?? null, `preferences.${name}[]`);
  }
  if (stack.units !== undefined) checkPositive(stack.units, "stack.units");
  if (stack.duration !== undefined) checkPositive(stack.duration, "stack.duration");
}

/**
 * The tasks of `model` a stack may be bought or reused on, newest first, and their level: the level asked for, else
 * the highest level a node could serve this client at now in clear (`servedTasks` at `terms`: within its price cap,
 * with capacity for the stack it buys, busy or not, so that a subscriber at an absurd price or with no capacity
 * cannot push every client up to a level nobody will serve it at, while a busy verified task is still no quiet step
 * down; confidential tasks take only sealed requests).
 */
async function tasksOf(
  ctx: ChainContext,
  model: string,
  securityLevel: number | undefined,
  terms: ServingTerms,
  onLowerLevel?: LowerLevelNotice,
  fromBlock = 0n,
  taskLogs?: TaskLogStore,
): Promise<{ level: number | undefined; taskIds: bigint[] }> {
  const served = await servedTasks(
    ctx.publicClient,
    ctx.addresses,
    model,
    fromBlock,
    { ...terms, securityLevel },
    taskLogs,
  );
  const highestClear = (tasks: readonly { securityLevel: number }[]) => {
    const clear = tasks
      .filter((t) => t.securityLevel !== SecurityLevel.Confidential)
      .map((t) => t.securityLevel);
    return clear.length === 0 ? undefined : Math.max(...clear);
  };
  const level = securityLevel ?? highestClear(served);
  if (securityLevel === undefined && onLowerLevel) {
    // Said, not hidden: a higher level is served, only not within this client's cap or stack size.
    const anyTerms = highestClear(
      await servedTasks(ctx.publicClient, ctx.addresses, model, fromBlock, {}, taskLogs),
    );
    if (anyTerms !== undefined && (level === undefined || anyTerms > level))
      onLowerLevel(model, level, anyTerms);
  }
  return { level, taskIds: served.filter((t) => t.securityLevel === level).map((t) => t.taskId) };
}

/**
 * Told when the default level taken (by nodes that could serve this client: its price cap, its stack size) is below
 * the highest level a node serves the model at on any terms (`undefined`: none at all within them).
 */
export type LowerLevelNotice = (model: string, level: number | undefined, servedAt: number) => void;

interface Offer extends NodeCandidate {
  taskId: bigint;
}

/** A node the chain offers on a task, where it serves and the signer it answers with: not bought from yet. */
export interface Candidate {
  taskId: bigint;
  nodeId: bigint;
  pricePerMillion: bigint;
  url: string;
  signer: Address;
}

/**
 * Checks each candidate node before anything is bought from it (a confidential client attests it): the first
 * accepted is bought from, by name; a refused one is passed over for the next.
 */
export interface CandidateVetting {
  /** True when a stack may be bought from `candidate`; false refuses it. A rejection ends the choice. */
  accepts(candidate: Candidate): Promise<boolean>;
  /** The error thrown when every candidate was refused: nothing was bought. */
  noneAccepted(): Error;
}

const allowed = (preferences: NodePreferences, nodeId: bigint) =>
  (!preferences.only || preferences.only.includes(nodeId)) &&
  !preferences.ignore?.includes(nodeId) &&
  (preferences.allowFallbacks !== false || !preferences.order || preferences.order.includes(nodeId));

/** Where `nodeId` stands in `order` (earlier is preferred); past every named node when it is not named. */
const rankIn = (order: readonly bigint[], nodeId: bigint) => {
  const at = order.indexOf(nodeId);
  return at === -1 ? order.length : at;
};

/**
 * A stack for `model`: the owner's own stack on one of the model's tasks when one is active, its node allowed and
 * not in `spent` (stacks a node said were spent, believed), else one bought from the nodes the chain offers within the preferences. Throws `NoNodeOfferedError` when no
 * task or node fits. With `vetting`, each candidate is checked before a stack is bought from it (`vettedStack`).
 * `measured` reads the bytes of answer per second measured of each node on the model, for `sort: "throughput"`.
 */
export async function stackForModel(
  ctx: ChainContext,
  model: string,
  preferences: NodePreferences,
  stack: StackPreferences,
  fetcher: typeof fetch,
  spent: ReadonlySet<bigint> = new Set(),
  vetting?: CandidateVetting,
  onLowerLevel?: LowerLevelNotice,
  fromBlock = 0n,
  taskLogs?: TaskLogStore,
  measured: MeasuredThroughput = async () => new Map(),
): Promise<UsableStack> {
  const units = stack.units ?? DEFAULT_STACK_UNITS;
  const cap = preferences.maxPricePerMillion ?? DEFAULT_MAX_PRICE_PER_MILLION;
  const { level, taskIds } = await tasksOf(
    ctx,
    model,
    preferences.securityLevel,
    { units, maxPricePerMillion: cap },
    onLowerLevel,
    fromBlock,
    taskLogs,
  );
  if (taskIds.length === 0)
    throw new NoNodeOfferedError(
      `no node serves the model ${model} on this chain${preferences.securityLevel === undefined ? "" : ` at security level ${preferences.securityLevel}`}`,
    );
  // Only stacks of the level chosen: one of a lower level, bought earlier, is not reused for it.
  // With `order`, the held stack on the earliest node it names (then any other allowed) is the one kept in view.
  const order = preferences.order;
  const rankHeld = ({ stackId, nodeId }: { stackId: bigint; nodeId: bigint }) =>
    !allowed(preferences, nodeId) || spent.has(stackId) ? undefined : order ? rankIn(order, nodeId) : 0;
  const held: UsableStack[] = [];
  for (const taskId of taskIds) {
    const reused = await reusableStack(ctx, taskId, fromBlock, rankHeld);
    if (!reused) continue;
    if (order === undefined) return reused;
    held.push(reused);
  }
  const offers: Offer[] = [];
  for (const taskId of taskIds) {
    // A task that cannot be served now (no node within the cap, too few verifiers) reverts: it offers none.
    const offered = await offeredNodes(ctx, { taskId, units, maxPricePerMillion: cap }).catch(() => []);
    offers.push(...offered.filter((c) => allowed(preferences, c.nodeId)).map((c) => ({ ...c, taskId })));
  }
  // With `order`, a stack held on a node named no later than the first named node offered is reused; otherwise that
  // node is bought from, and a held stack elsewhere serves only when no named node is offered.
  const ordered = order
    ? offers
        .filter((o) => order.includes(o.nodeId))
        .sort((a, b) => rankIn(order, a.nodeId) - rankIn(order, b.nodeId))
    : [];
  const keep = order ? held.sort((a, b) => rankIn(order, a.nodeId) - rankIn(order, b.nodeId))[0] : undefined;
  if (keep && (ordered[0] === undefined || rankIn(order!, keep.nodeId) <= rankIn(order!, ordered[0].nodeId)))
    return keep;
  if (offers.length === 0)
    throw new NoNodeOfferedError(
      `no node serves ${model} at security level ${level} within the preferences now${preferences.maxPricePerMillion === undefined ? "" : ` (at most ${preferences.maxPricePerMillion} wei per million units)`}`,
    );
  const figures = preferences.sort === "throughput" ? await measured(model) : new Map<bigint, number>();
  const chosen = ordered[0] ?? (await pickOffer(ctx, offers, preferences, fetcher, figures));
  const duration = stack.duration ?? DEFAULT_STACK_DURATION;
  if (vetting) {
    const candidates = candidatesInOrder(offers, chosen, ordered, figures);
    const tried = preferences.allowFallbacks === false && !order ? candidates.slice(0, 1) : candidates;
    return vettedStack(ctx, tried, vetting, units, duration);
  }
  const restricted = preferences.only !== undefined || preferences.ignore !== undefined;
  const pick: NodePick =
    chosen === undefined && !restricted
      ? { kind: "drawn" }
      : { kind: "node", nodeId: (chosen ?? offers[0]!).nodeId };
  const taskId = (chosen ?? offers[0]!).taskId;
  const prices = offers.filter((o) => o.taskId === taskId).map((o) => o.pricePerMillion);
  const maxPricePerMillion =
    pick.kind === "node"
      ? (chosen ?? offers[0]!).pricePerMillion
      : (prices.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))[0] ?? 0n);
  return boughtStack(ctx, {
    taskId,
    units,
    maxPricePerMillion,
    duration,
    pick,
  });
}

/**
 * The offers in the order they are tried: those `order` names, in its order, then the one `sort` prefers, the rest
 * after them, as `rankedByThroughput` ranks them by `figures` (with `sort: "throughput"`), those it leaves in the
 * order given in a random order (a named purchase cannot be drawn by the protocol, so the client draws).
 */
function candidatesInOrder(
  offers: Offer[],
  chosen: Offer | undefined,
  ordered: Offer[],
  figures: ReadonlyMap<bigint, number>,
): Offer[] {
  const first = [...ordered, ...(chosen && !ordered.includes(chosen) ? [chosen] : [])];
  const rest = offers.filter((o) => !first.includes(o));
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  return [...first, ...rankedByThroughput(rest, figures)];
}

/**
 * A stack bought, by name, from the first candidate `vetting` accepts, at its own price; a refused candidate costs
 * nothing. Throws `vetting.noneAccepted()` when every active candidate was refused: then nothing was bought.
 */
async function vettedStack(
  ctx: ChainContext,
  candidates: Offer[],
  vetting: CandidateVetting,
  units: bigint,
  duration: bigint,
): Promise<UsableStack> {
  let refused = 0;
  for (const offer of candidates) {
    const node = await getNode(ctx, offer.nodeId);
    if (node.status !== NodeStatus.Active) continue;
    const { taskId, nodeId, pricePerMillion } = offer;
    if (!(await vetting.accepts({ taskId, nodeId, pricePerMillion, url: node.url, signer: node.signer }))) {
      refused += 1;
      continue;
    }
    return boughtStack(ctx, {
      taskId,
      units,
      maxPricePerMillion: pricePerMillion,
      duration,
      pick: { kind: "node", nodeId },
    });
  }
  if (refused > 0) throw vetting.noneAccepted();
  throw new NoNodeOfferedError("no node the chain offers is active now");
}

/**
 * The offer `sort` prefers; undefined when none is asked for, or `throughput` is and no offered node is measured in
 * `figures` yet (the protocol draws); with `throughput`, possibly a node not measured yet (`throughputPick`).
 */
async function pickOffer(
  ctx: ChainContext,
  offers: Offer[],
  preferences: NodePreferences,
  fetcher: typeof fetch,
  figures: ReadonlyMap<bigint, number>,
): Promise<Offer | undefined> {
  if (preferences.sort === "price")
    return offers.reduce((best, o) => (o.pricePerMillion < best.pricePerMillion ? o : best));
  if (preferences.sort === "throughput") return throughputPick(offers, figures);
  if (preferences.sort !== "latency") return undefined;
  const timed = await Promise.all(
    offers
      .slice(0, PROBED_AT_MOST)
      .map(async (offer) => ({ offer, ms: await probe(ctx, offer.nodeId, fetcher) })),
  );
  const reached = timed.filter((t) => t.ms !== undefined).sort((a, b) => (a.ms ?? 0) - (b.ms ?? 0));
  if (reached.length === 0) throw new NoNodeOfferedError("no offered node answered the latency probe");
  return reached[0]?.offer;
}

/** Milliseconds the node's registered URL takes to list its models; undefined when it does not answer. */
async function probe(ctx: ChainContext, nodeId: bigint, fetcher: typeof fetch): Promise<number | undefined> {
  const node = await getNode(ctx, nodeId);
  if (node.status !== NodeStatus.Active) return undefined;
  const started = performance.now();
  try {
    const answer = await fetcher(new URL("/v1/models", node.url), {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      redirect: "error",
    });
    await answer.body?.cancel();
    return answer.ok ? performance.now() - started : undefined;
  } catch {
    return undefined;
  }
}
