import type { Address, Hex } from "viem";
import { big, bigs, type ChainEvent, named } from "./chainEvent.js";
import type { NodeRecord } from "./chainFeed.js";

export interface TaskInfo {
  id: bigint;
  modelId: Hex;
  securityLevel: number;
  replicationPpm: number;
  attesters: number;
  sampleSize: number;
}

export interface ModelInfo {
  id: Hex;
  owner: Address;
  weightsRoot: Hex;
  uri: string;
  status: number;
  /** Each report's event, named by its transaction and log index (two can share a block and a node: one per round). */
  mismatchReports: { nodeId: bigint; reports: number; block: bigint; tx: Hex; logIndex: number }[];
}

export interface NodeSummary extends NodeRecord {
  /** Price per 1M units by task id (the latest subscription or update). */
  prices: Map<bigint, bigint>;
  models: string[];
  stacksServed: number;
  settlements: number;
  slashes: { amount: bigint; fraud: boolean; block: bigint }[];
}

export interface Totals {
  staked: bigint;
  feesPaid: bigint;
  slashed: bigint;
  burned: bigint;
}

export function tasksOf(events: readonly ChainEvent[]): Map<bigint, TaskInfo> {
  const tasks = new Map<bigint, TaskInfo>();
  for (const e of named(events, "TaskCreated"))
    tasks.set(big(e, "taskId"), {
      id: big(e, "taskId"),
      modelId: e.args.modelId as Hex,
      securityLevel: Number(e.args.securityLevel),
      replicationPpm: Number(e.args.replicationPpm),
      attesters: Number(e.args.attesters),
      sampleSize: Number(e.args.sampleSize),
    });
  return tasks;
}

export function modelsOf(events: readonly ChainEvent[]): ModelInfo[] {
  const models = new Map<string, ModelInfo>();
  for (const e of events) {
    const id = e.args.modelId as Hex | undefined;
    if (e.name === "ModelRegistered" && id)
      models.set(id, {
        id,
        owner: e.args.owner as Address,
        weightsRoot: e.args.weightsRoot as Hex,
        uri: String(e.args.uri ?? ""),
        status: Number(e.args.status),
        mismatchReports: [],
      });
    const model = id ? models.get(id) : undefined;
    if (!model) continue;
    if (e.name === "ModelStatusChanged") model.status = Number(e.args.status);
    if (e.name === "WeightsMismatchReported")
      model.mismatchReports.push({
        nodeId: big(e, "nodeId"),
        reports: Number(e.args.reports),
        block: e.block,
        tx: e.tx,
        logIndex: e.logIndex,
      });
  }
  return [...models.values()];
}

const modelName = (model: ModelInfo | undefined, id: Hex) => (model?.uri ? model.uri : `${id.slice(0, 10)}…`);

export function nodeSummaries(events: readonly ChainEvent[], nodes: readonly NodeRecord[]): NodeSummary[] {
  const tasks = tasksOf(events);
  const models = new Map(modelsOf(events).map((m) => [m.id as string, m]));
  return nodes.map((node) => {
    const mine = (e: ChainEvent) => big(e, "nodeId") === node.id;
    const prices = new Map<bigint, bigint>();
    for (const e of named(events, "Subscribed", "SubscriptionUpdated").filter(mine))
      prices.set(big(e, "taskId"), big(e, "pricePerMillion"));
    for (const e of named(events, "Unsubscribed").filter(mine)) prices.delete(big(e, "taskId"));
    const modelIds = new Set(
      [...prices.keys()].flatMap((t) => (tasks.get(t) ? [tasks.get(t)!.modelId] : [])),
    );
    return {
      ...node,
      prices,
      models: [...modelIds].map((id) => modelName(models.get(id), id)),
      stacksServed: named(events, "StackBought").filter(mine).length,
      settlements: named(events, "SettlementSubmitted").filter(mine).length,
      slashes: named(events, "NodeSlashed")
        .filter(mine)
        .map((e) => ({ amount: big(e, "amount"), fraud: e.args.fraud === true, block: e.block })),
    };
  });
}

const sum = (values: bigint[]) => values.reduce((a, b) => a + b, 0n);

export function totalsOf(events: readonly ChainEvent[], nodes: readonly NodeRecord[]): Totals {
  return {
    staked: sum(nodes.map((n) => n.collateral)),
    // What settled stacks paid their node, model owner and attesters, and the fees credited with an event of their
    // own (consensus requests); slash shares are not fees.
    feesPaid: sum([
      ...named(events, "SettlementFinalized").map((e) => {
        const stackId = big(e, "stackId");
        const sampled = named(events, "AttestersSampled").findLast((s) => big(s, "stackId") === stackId);
        const attesters = BigInt(sampled ? bigs(sampled, "attesters").length : 0);
        return big(e, "nodeAmount") + big(e, "modelAmount") + big(e, "attesterAmountEach") * attesters;
      }),
      ...named(events, "NodeCredited")
        .filter((e) => e.args.fee === true)
        .map((e) => big(e, "amount")),
      ...named(events, "OwnerCredited").map((e) => big(e, "amount")),
    ]),
    slashed: sum(named(events, "NodeSlashed").map((e) => big(e, "amount"))),
    burned: sum([
      ...named(events, "SlashDistributed").map((e) => big(e, "burned")),
      ...named(events, "FeesBurned").map((e) => big(e, "amount")),
    ]),
  };
}

/** Settlements sampled for checking and those that skipped it, disputes opened, and fraud slashes. */
export function detectionRecord(events: readonly ChainEvent[]) {
  const sampled = named(events, "AttestersSampled");
  return {
    settlements: named(events, "SettlementSubmitted").length,
    sampled: sampled.length,
    skipped: named(events, "AttestationSkipped").length,
    requestsChecked: sum(sampled.map((e) => BigInt(bigs(e, "requestIndices").length))),
    disputes: named(events, "SettlementDisputed").length,
    fraudSlashes: named(events, "NodeSlashed").filter((e) => e.args.fraud === true).length,
    timeoutSlashes: named(events, "NodeSlashed").filter((e) => e.args.fraud !== true).length,
    frauds: named(events, "FraudProven").length,
  };
}
