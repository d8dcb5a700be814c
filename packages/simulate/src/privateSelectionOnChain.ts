import {
  drawAttesters,
  drawNode,
  evaluateSelection,
  getAttesterSelection,
  registerVrfKey,
  requestStack,
  SecurityLevel,
  selfSelect,
  submitSettlement,
} from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, startDevnet } from "@atoma/chain/devnet";
import {
  type Colluders,
  compareSelection,
  expectedRewards,
  isSelected,
  privateDrawOutcomes,
  validateGame,
  vrfEvaluate,
} from "@atoma/core";
import { type Hex, keccak256, parseEther, stringToBytes } from "viem";
import { cheaterCount, SimulationOptionsError } from "./options.js";
import type { PrivateSelectionOptions } from "./privateSelection.js";
import { seededPrivateKey } from "./random.js";
import { meanInterval } from "./statistics.js";

/** `SettlementDraw.MIN_SELECTION_WINDOW`, seconds. */
const WINDOW = 60;
const PPM = 1_000_000;

/**
 * z per grid rate, one-sided: Φ(−5) = 2.9·10⁻⁷, so over the 2·`grid` one-sided checks the interval for p* misses
 * with probability at most 2 · 40 · 2.9·10⁻⁷ ≈ 2.3·10⁻⁵ (normal approximation of each rate's mean margin: a
 * nominal figure, which the skew of a few hundred settlements' margins can exceed at the grid's ends).
 */
export const THRESHOLD_Z = 5;

export interface OnChainPrivateOptions extends Omit<PrivateSelectionOptions, "pValues" | "vrf"> {
  /** The rate the task runs at through the contracts; default min(1, 2·p*). Rates below it are read off the same draws. */
  rate?: number | undefined;
  /** Rates (evenly spaced in (0, rate]) at which the margin is evaluated for the threshold. @default 40 */
  grid?: number | undefined;
  /** Settlements put through the contracts together (bought, settled, selected and closed at once). @default 16 */
  batch?: number | undefined;
  /**
   * What the cheater's own selected nodes do in the window: stay silent, or seat last (after every honest seat is in,
   * which they see on chain) and report truthfully, as the built system allows. @default "silent"
   */
  colluders?: Exclude<Colluders, "copy-when-all-ours"> | undefined;
}

export interface OnChainGridPoint {
  p: number;
  /** Settlements a diligent honest node checks at `p` (at the run rate: what the contract seated). */
  caught: number;
  mean: number;
  low: number;
  high: number;
}

export interface OnChainPrivateResult {
  options: OnChainPrivateOptions;
  rate: number;
  eligible: number;
  colluding: number;
  colluders: Exclude<Colluders, "copy-when-all-ours">;
  /** p* with q = pN/n over this network's n, m and lazy count (silent colluders), and under the public draw of N. */
  privateThreshold: number;
  /** p* with last-mover colluders (at least `privateThreshold`). */
  privateThresholdLastMover: number;
  publicThreshold: number;
  /** Where the measured mean margin turns positive, and the interval of rates it cannot be excluded from. */
  measured: { p: number | undefined; low: number; high: number | undefined };
  /** The p* of `colluders` (`privateThreshold` or `privateThresholdLastMover`) lies in `measured`'s interval. */
  within: boolean;
  /** Where the measured mean margin turns positive for each colluder behaviour, read off the same draws. */
  crossings: { silent: number | undefined; lastMover: number | undefined };
  /** Seats a colluder took last, after the honest seats (last-mover colluders only). */
  lastMoverSeats: number;
  /** At `rate`, through the contracts: the settlements a diligent honest node sat on, against the formula. */
  caught: { count: number; expected: number };
  /** Settlements whose window closed with nobody seated, and those that fell back to public attesters. */
  noAttester: number;
  fallbacks: number;
  /** Settlements where the contract's seats differ from the nodes' own VRF outputs (should be 0). */
  disagreements: number;
  /** The margin at `rate` per settlement: measured (its interval, z = THRESHOLD_Z) against the formula. */
  margin: { measured: number; low: number; high: number; expected: number };
  grid: OnChainGridPoint[];
}

/** The contract's threshold at rate `p` (whole ppm) over `eligible` candidates: p·N/n. */
function thresholdAt(p: number, attesters: number, eligible: number) {
  const ppm = BigInt(Math.round(p * PPM));
  return { numerator: ppm * BigInt(attesters), denominator: BigInt(PPM) * BigInt(eligible) };
}

/** Each candidate's role relative to the server: the cheater's, lazy, or diligent honest. */
type Role = "ours" | "lazy" | "diligent";

interface SettlementDraws {
  betas: Hex[];
  roles: Role[];
  /** Through the contracts at the run rate: a diligent honest node sat (seated itself, or drawn in the fallback). */
  caught: boolean;
}

/** One settlement's honest-minus-cheating margin (`expectedRewards`' terms for one outcome). */
function marginOf(
  o: OnChainPrivateOptions,
  cheat: { unchecked: number; colluding: number },
  selected: { ours: number; all: number },
  caught: boolean,
  colluders: Exclude<Colluders, "copy-when-all-ours">,
): number {
  const share = selected.all > 0 ? (selected.ours * o.reward) / selected.all : 0;
  const honest = o.reward - o.cost + share;
  if (caught) return honest - ((colluders === "last-mover" ? share : 0) - o.cost - o.collateral);
  return honest - (colluders === "last-mover" && selected.ours > 0 ? cheat.colluding : cheat.unchecked);
}

function countAt(d: SettlementDraws, p: number, o: OnChainPrivateOptions, eligible: number) {
  const threshold = thresholdAt(p, o.attesters, eligible);
  let ours = 0;
  let all = 0;
  let diligent = 0;
  d.betas.forEach((beta, i) => {
    if (!isSelected(beta, threshold)) return;
    all++;
    if (d.roles[i] === "ours") ours++;
    if (d.roles[i] === "diligent") diligent++;
  });
  return { ours, all, diligent };
}

/**
 * `atoma econ simulate --private-selection --through-contracts`: a deployment with `privateSelection` on, every
 * node's VRF key registered, a task at rate `rate` with N attesters; each stack is bought, drawn, settled by its
 * server (the cheater: it and the next m nodes are its own, the next `lazy` copy), and put through its selection
 * window, every candidate evaluating its VRF on the window's seed and the selected honest ones (diligent and lazy)
 * seating themselves with `selfSelect` and their proofs; the cheater's selected stay silent, or (`colluders`
 * "last-mover") seat after every honest seat is in. The window closes on chain; a fallback to public attesters is drawn as it happens. Detection at `rate` is what the contract seated;
 * the margin at each lower grid rate is read off the same VRF outputs (selection is monotone in the threshold).
 */
export async function runPrivateSelectionOnChain(o: OnChainPrivateOptions): Promise<OnChainPrivateResult> {
  const eligible = o.nodes - 1;
  const colluding = cheaterCount(o) - 1;
  if (o.lazy < 0 || colluding + o.lazy + o.attesters > eligible)
    throw new SimulationOptionsError(
      `--lazy leaves fewer than N diligent honest nodes among the ${eligible} eligible`,
    );
  const cheatUnchecked = o.reward - o.cost + o.cost * o.saving * o.cheatShare;
  const colluders = o.colluders ?? "silent";
  const game = {
    reward: o.reward,
    cost: o.cost,
    collateral: o.collateral,
    adversary: o.adversary,
    attesters: o.attesters,
    cheatUnchecked,
  };
  const set = { eligible, colluding, lazy: o.lazy };
  const comparison = compareSelection(game, set);
  const rate =
    Math.round(Math.min(o.rate ?? 2 * comparison.privateThreshold, 1, eligible / o.attesters) * PPM) / PPM;
  if (!(rate > 0)) throw new SimulationOptionsError("--rate must be a positive rate");
  const grid = o.grid ?? 40;

  const network = await startDevnet({
    parameters: { task: { minReplicationPpm: 1 } },
    privateSelection: { window: WINDOW, cap: 32 },
  });
  const draws: SettlementDraws[] = [];
  let lastMoverSeats = 0;
  let noAttester = 0;
  let fallbacks = 0;
  let disagreements = 0;
  try {
    const { advance, account } = network;
    const owner = await account();
    const { modelId } = await network.registerModel({ name: "atoma-tiny", owner: owner.ctx });
    const members: { node: DevNode; key: Hex }[] = [];
    for (let i = 0; i < o.nodes; i++) {
      const node = await network.addNode();
      const key = seededPrivateKey(o.seed, `vrf-chain-node-${i}`);
      await registerVrfKey(node.operator, { nodeId: node.nodeId, secretKey: key });
      members.push({ node, key });
    }
    const taskId = await network.addTask({
      modelId,
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: Math.round(rate * PPM),
      attesters: o.attesters,
      sampleSize: 1,
      nodes: members.map((m) => m.node),
    });
    await network.nextEpoch();
    // One buyer per slot of a batch: a batch's stacks are bought, settled, opened, selected and closed together,
    // each account sending in turn (the sender lock) and different accounts at once; the clock moves once a batch.
    const batch = Math.max(1, Math.min(o.batch ?? 16, o.settlements));
    const users: Awaited<ReturnType<typeof account>>[] = [];
    for (let i = 0; i < batch; i++) users.push(await account(parseEther("10000000")));
    const settle = async (s: number) => {
      const user = users[s % batch]!;
      const request = await requestStack(user.ctx, {
        taskId,
        units: 1_000n,
        maxPricePerMillion: DEV_PRICE_PER_MILLION,
        duration: 86_400n,
      });
      const drawn = await drawNode(user.ctx, request);
      if (drawn.outcome !== "drawn")
        throw new Error(`stack ${request.stackId}: no node drawn (${drawn.outcome})`);
      const serverIndex = members.findIndex((m) => m.node.nodeId === drawn.nodeId);
      const server = members[serverIndex];
      if (!server) throw new Error(`unknown node ${drawn.nodeId}`);
      const settled = await submitSettlement(
        server.node.signer,
        {
          stackId: request.stackId,
          root: keccak256(stringToBytes(`atoma-simulate:${o.seed}:root:${s}`)),
          units: 100n,
          requestCount: 1n,
          transcriptId: keccak256(stringToBytes(`atoma-simulate:${o.seed}:transcript:${s}`)),
        },
        { draw: false },
      );
      const candidates = "candidates" in settled ? settled.candidates : [];
      if (candidates.length !== eligible)
        throw new Error(`stack ${request.stackId}: ${candidates.length} candidates, expected ${eligible}`);
      return { s, user, stackId: request.stackId, serverIndex, candidates };
    };
    type Settled = Awaited<ReturnType<typeof settle>>;
    const selectAll = async ({ s, user, stackId, serverIndex, candidates }: Settled) => {
      const opened = await drawAttesters(user.ctx, { stackId, candidates });
      if (opened.outcome !== "selectionOpened") throw new Error(`no selection window: ${opened.outcome}`);
      const betas: Hex[] = [];
      const roles: Role[] = [];
      const predicted: bigint[] = [];
      const seats: Promise<unknown>[] = [];
      const lastMovers: (() => Promise<unknown>)[] = [];
      for (const nodeId of candidates) {
        const index = members.findIndex((m) => m.node.nodeId === nodeId);
        const member = members[index]!;
        // Counted after the server, cyclically: the next m are the cheater's, then `lazy` copiers.
        const offset = (index - serverIndex - 1 + o.nodes) % o.nodes;
        const role: Role = offset < colluding ? "ours" : offset < colluding + o.lazy ? "lazy" : "diligent";
        const beta = vrfEvaluate(member.key, opened.seed);
        betas.push(beta);
        roles.push(role);
        // The proof (a second VRF evaluation) only for a node its output selects; the cheater's stay silent, or
        // (last movers) seat once every honest seat is in.
        if (!isSelected(beta, opened) || (role === "ours" && colluders === "silent")) continue;
        const evaluated = evaluateSelection(member.key, opened);
        if (!evaluated.selected) throw new Error(`node ${nodeId}: its proof disagrees with its output`);
        predicted.push(nodeId);
        const seat = () =>
          selfSelect(member.node.signer, {
            stackId,
            nodeId,
            proof: evaluated,
            commitment: keccak256(stringToBytes(`atoma-simulate:${o.seed}:commitment:${s}:${nodeId}`)),
            candidates,
          });
        if (role === "ours") lastMovers.push(seat);
        else seats.push(seat());
      }
      await Promise.all(seats);
      lastMoverSeats += lastMovers.length;
      await Promise.all(lastMovers.map((seat) => seat()));
      return { user, stackId, candidates, betas, roles, predicted };
    };
    type Selected = Awaited<ReturnType<typeof selectAll>>;
    const close = async ({ user, stackId, candidates, predicted }: Selected) => {
      const seated = (await getAttesterSelection(user.ctx, stackId)).nodeIds;
      const closed = await drawAttesters(user.ctx, { stackId, candidates });
      if (seated.length === 0) noAttester++;
      if (seated.length !== predicted.length || predicted.some((id) => !seated.includes(id))) disagreements++;
      return { seated, fellBack: closed.outcome === "fallback" };
    };
    for (let from = 0; from < o.settlements; from += batch) {
      const slots = Array.from({ length: Math.min(batch, o.settlements - from) }, (_, i) => from + i);
      const settled = await Promise.all(slots.map(settle));
      // Every seed hashes the block after its settlement's: mined before any window can open.
      await advance(0);
      const selected = await Promise.all(settled.map(selectAll));
      await advance(WINDOW + 1);
      const closed = await Promise.all(selected.map(close));
      if (closed.some((c) => c.fellBack)) {
        // Fewer than N seated where the settlement must be checked: public attesters join, from a later block.
        await advance(1);
        await advance(1);
      }
      for (const [i, sel] of selected.entries()) {
        let attesters: readonly bigint[] = closed[i]!.seated;
        if (closed[i]!.fellBack) {
          fallbacks++;
          await drawAttesters(sel.user.ctx, { stackId: sel.stackId, candidates: sel.candidates });
          attesters = await network.deployment.contracts.settlementManager.read.attesterIdsOf([sel.stackId]);
        }
        const caught = attesters.some((id) => sel.roles[sel.candidates.indexOf(id)] === "diligent");
        draws.push({ betas: sel.betas, roles: sel.roles, caught });
      }
    }
  } finally {
    await network.stop();
  }

  const { cheatColluding } = validateGame(game);
  const cheat = { unchecked: cheatUnchecked, colluding: cheatColluding };
  const gridOf = (behaviour: Exclude<Colluders, "copy-when-all-ours">) => {
    const points: OnChainGridPoint[] = [];
    for (let k = 1; k <= grid; k++) {
      const p = (rate * k) / grid;
      let sum = 0;
      let squares = 0;
      let caughtHere = 0;
      for (const d of draws) {
        const at = countAt(d, p, o, eligible);
        // At the run rate, detection is what the contract seated; below it, what the same outputs select.
        const caught = k === grid ? d.caught : at.diligent > 0;
        if (caught) caughtHere++;
        const m = marginOf(o, cheat, at, caught, behaviour);
        sum += m;
        squares += m * m;
      }
      const { mean, low, high } = meanInterval(sum, squares, draws.length, THRESHOLD_Z);
      points.push({ p, caught: caughtHere, mean, low, high });
    }
    return points;
  };
  const crossingOf = (points: readonly OnChainGridPoint[]) => {
    const crossing = points.findIndex((pt, i) => pt.mean >= 0 && points.slice(i).every((q) => q.mean >= 0));
    if (crossing === 0) return points[0]!.p;
    if (crossing < 0) return undefined;
    const a = points[crossing - 1]!;
    const b = points[crossing]!;
    return a.p + ((b.p - a.p) * -a.mean) / (b.mean - a.mean);
  };
  const points = gridOf(colluders);
  const measuredP = crossingOf(points);
  // Rates where the margin is surely negative lie below p*, surely positive above it.
  const below = points.filter((pt) => pt.high < 0 && (measuredP === undefined || pt.p <= measuredP));
  const above = points.filter((pt) => pt.low > 0 && measuredP !== undefined && pt.p >= measuredP);
  const low = below.length > 0 ? below[below.length - 1]!.p : 0;
  const high = above.length > 0 ? above[0]!.p : undefined;
  const last = points[points.length - 1]!;
  const expectedMargin = expectedRewards(game, privateDrawOutcomes(rate, o.attesters, set), colluders);
  const caughtCount = draws.filter((d) => d.caught).length;
  const diligent = eligible - colluding - o.lazy;
  const q = (rate * o.attesters) / eligible;
  const threshold =
    colluders === "silent" ? comparison.privateThreshold : comparison.privateThresholdLastMover;
  return {
    options: o,
    rate,
    eligible,
    colluding,
    colluders,
    privateThreshold: comparison.privateThreshold,
    privateThresholdLastMover: comparison.privateThresholdLastMover,
    publicThreshold: comparison.publicThreshold,
    measured: { p: measuredP, low, high },
    within: threshold >= low && high !== undefined && threshold <= high,
    crossings: { silent: crossingOf(gridOf("silent")), lastMover: crossingOf(gridOf("last-mover")) },
    lastMoverSeats,
    caught: { count: caughtCount, expected: (1 - (1 - Math.min(q, 1)) ** diligent) * draws.length },
    noAttester,
    fallbacks,
    disagreements,
    margin: {
      measured: last.mean,
      low: last.low,
      high: last.high,
      expected: expectedMargin.honest - expectedMargin.cheater,
    },
    grid: points,
  };
}
