import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  getModel,
  getTask,
  ModelStatus,
  modelIdOf,
  SecurityLevel,
  setAllowedMeasurement,
} from "@atoma/chain";
import type { Devnet } from "@atoma/chain/devnet";
import { type Hash, measurementHash } from "@atoma/core";
import { type ModelFile, weightsRoot } from "@atoma/engine";
import type { Hex } from "viem";
import { DEV_MEASUREMENTS } from "./devAttestation.js";

export interface ServedModel {
  /** The id clients send in `model` (its on-chain id is H(id)). */
  id: string;
  path: string;
  weightsRoot: Hash;
  /**
   * Task ids: `chat` cross-validated (security level 1), `chatUnverified` (level 0), `confidential` (level 3:
   * requests sealed to an attested node; the dev nodes' measurement is allowed for it, the dev kind network-wide).
   */
  tasks: { chat: bigint; chatUnverified: bigint; confidential: bigint };
}

const TASKS_FILE = "tasks.json";

/**
 * Makes sure the chain has the model file registered under its id with its weights root (owner: the deployer) and
 * its three chat tasks; on a kept chain the tasks saved in `stateDir` are reused.
 */
export async function ensureServedModel(
  network: Devnet,
  stateDir: string | undefined,
  file: ModelFile,
): Promise<ServedModel> {
  const root = await weightsRoot(file.path);
  const modelId = modelIdOf(file.id);
  if ((await getModel(network.admin, modelId)).status === ModelStatus.None)
    await network.registerModel({ name: file.id, owner: network.admin, weightsRoot: root });
  const tasks = (await savedTasks(network, stateDir, modelId)) ?? (await createTasks(network, modelId));
  if (stateDir !== undefined)
    writeFileSync(
      join(stateDir, TASKS_FILE),
      `${JSON.stringify(Object.fromEntries(Object.entries(tasks).map(([name, id]) => [name, id.toString()])))}\n`,
    );
  return { id: file.id, path: file.path, weightsRoot: root, tasks };
}

async function createTasks(network: Devnet, modelId: Hex): Promise<ServedModel["tasks"]> {
  const chat = await network.addTask({
    modelId,
    securityLevel: SecurityLevel.CrossValidation,
    replicationPpm: 8_000,
    attesters: 1,
    sampleSize: 4,
  });
  const chatUnverified = await network.addTask({ modelId, securityLevel: SecurityLevel.None });
  const confidential = await network.addTask({ modelId, securityLevel: SecurityLevel.Confidential });
  await setAllowedMeasurement(network.admin, {
    taskId: confidential,
    measurement: measurementHash("dev", DEV_MEASUREMENTS),
    allowed: true,
  });
  return { chat, chatUnverified, confidential };
}

/** The tasks a kept chain already has for the model, when the saved ids still name tasks of it. */
async function savedTasks(
  network: Devnet,
  stateDir: string | undefined,
  modelId: Hex,
): Promise<ServedModel["tasks"] | undefined> {
  if (stateDir === undefined || !existsSync(join(stateDir, TASKS_FILE))) return undefined;
  const saved = JSON.parse(readFileSync(join(stateDir, TASKS_FILE), "utf8")) as Record<string, string>;
  if (saved.chat === undefined || saved.chatUnverified === undefined || saved.confidential === undefined)
    return undefined;
  const tasks = {
    chat: BigInt(saved.chat),
    chatUnverified: BigInt(saved.chatUnverified),
    confidential: BigInt(saved.confidential),
  };
  for (const taskId of Object.values(tasks)) {
    const task = await getTask(network.admin, taskId);
    if (task.modelId.toLowerCase() !== modelId.toLowerCase() || !task.active) return undefined;
  }
  return tasks;
}
