import type { Hex } from "viem";
import { big, type ChainEvent, named } from "./chainEvent.js";

/**
 * Why the AttestationRegistry lets a node serve a confidential task or not (its `standing(taskId, modelId, nodeId)`),
 * in the contract's enum order: Ok, None, Expired, Measurement, Dev, Gpu.
 */
const STANDINGS = ["ok", "none", "expired", "measurement", "dev", "gpu"] as const;

export type StandingName = (typeof STANDINGS)[number];

/** A node's standing on one of the confidential tasks it subscribes to. */
export interface TaskStanding {
  taskId: bigint;
  /** undefined: a value the explorer does not know (a newer registry), shown as such. */
  standing: StandingName | undefined;
  /** The registry's raw value. */
  value: number;
  /** The node's subscription is no longer active (it is leaving, or a peer dropped it): it takes no new work there. */
  leaving?: boolean | undefined;
}

/** The standings the feed read for a node, and how many of its confidential tasks it left unread (the cap). */
export interface NodeStandings {
  tasks: readonly TaskStanding[];
  more: number;
}

/** At most this many confidential tasks' standings are read per node on each refresh: the rest are counted. */
export const STANDINGS_SHOWN = 4;

/** SecurityLevel.Confidential in the TaskRegistry. */
const CONFIDENTIAL = 3;

const LABELS: Record<StandingName, string> = {
  ok: "ok",
  none: "not attested",
  expired: "attestation expired",
  measurement: "measurement not allowed",
  dev: "dev evidence not allowed",
  gpu: "GPU evidence required",
};

export function standingOf(value: number): StandingName | undefined {
  return STANDINGS[value];
}

/**
 * "ok", or what the registry holds against the node for the task ("measurement not allowed", …); a subscription that
 * is no longer active says so first, whatever the registry would say of the node now.
 */
export function standingLabel(standing: TaskStanding): string {
  const held =
    standing.standing === undefined ? `unknown standing (${standing.value})` : LABELS[standing.standing];
  return standing.leaving ? `leaving, takes no new work (registry: ${held})` : held;
}

/** Whether the page shows the standing as the node taking the task's work now. */
export const takesWork = (standing: TaskStanding): boolean => standing.standing === "ok" && !standing.leaving;

/** Each confidential (level-3) task created so far, with its model: read from the TaskRegistry's events. */
export function confidentialTasks(events: readonly ChainEvent[]): Map<bigint, Hex> {
  const tasks = new Map<bigint, Hex>();
  for (const event of named(events, "TaskCreated"))
    if (Number(event.args.securityLevel) === CONFIDENTIAL)
      tasks.set(big(event, "taskId"), event.args.modelId as Hex);
  return tasks;
}

/**
 * Which of a node's tasks (`tasksOf`) to read the standing of: its confidential ones, the first `cap`, and how many
 * more it has.
 */
export function standingTasks(
  nodeTasks: readonly bigint[],
  confidential: ReadonlyMap<bigint, Hex>,
  cap = STANDINGS_SHOWN,
): { read: { taskId: bigint; modelId: Hex }[]; more: number } {
  const all = nodeTasks.flatMap((taskId) => {
    const modelId = confidential.get(taskId);
    return modelId === undefined ? [] : [{ taskId, modelId }];
  });
  return { read: all.slice(0, cap), more: Math.max(0, all.length - cap) };
}
