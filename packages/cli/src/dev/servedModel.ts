import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createTask,
  getModel,
  getTask,
  ModelStatus,
  modelIdOf,
  registerModel,
  SecurityLevel,
  TaskRole,
} from "@atoma/chain";
import type { Hash } from "@atoma/core";
import { ensureTinyModel, weightsRoot } from "@atoma/engine";
import { type Hex, parseEther } from "viem";
import type { DevChain } from "./devChain.js";

export interface ServedModel {
  /** The id clients send in `model` (its on-chain id is H(id)). */
  id: string;
  path: string;
  weightsRoot: Hash;
  /** Task ids: `chat` cross-validated (security level 1), `chatUnverified` (level 0). */
  tasks: { chat: bigint; chatUnverified: bigint };
}

const TASKS_FILE = "tasks.json";

/**
 * Writes the tiny model (or reuses the cached file) and makes sure the chain has it registered with its weights
 * root (owner: the deployer) and its two chat tasks; on a kept chain the tasks saved in `stateDir` are reused.
 */
export async function ensureServedModel(chain: DevChain, stateDir: string | undefined): Promise<ServedModel> {
  const tiny = ensureTinyModel();
  const root = await weightsRoot(tiny.path);
  const modelId = modelIdOf(tiny.id);
  if ((await getModel(chain.admin, modelId)).status === ModelStatus.None) {
    await registerModel(chain.admin, {
      modelId,
      weightsRoot: root,
      feeBps: 500,
      collateral: parseEther("100"),
      uri: `atoma://models/${tiny.id}`,
    });
  }
  const tasks = (await savedTasks(chain, stateDir, modelId)) ?? (await createTasks(chain, modelId));
  if (stateDir !== undefined)
    writeFileSync(
      join(stateDir, TASKS_FILE),
      `${JSON.stringify({ chat: tasks.chat.toString(), chatUnverified: tasks.chatUnverified.toString() })}\n`,
    );
  return { id: tiny.id, path: tiny.path, weightsRoot: root, tasks };
}

async function createTasks(chain: DevChain, modelId: Hex): Promise<ServedModel["tasks"]> {
  const chat = await createTask(chain.admin, {
    modelId,
    role: TaskRole.Chat,
    securityLevel: SecurityLevel.CrossValidation,
    replicationPpm: 8_000,
    attesters: 1,
    sampleSize: 4,
  });
  const unverified = await createTask(chain.admin, {
    modelId,
    role: TaskRole.Chat,
    securityLevel: SecurityLevel.None,
  });
  return { chat: chat.taskId, chatUnverified: unverified.taskId };
}

/** The tasks a kept chain already has for the model, when the saved ids still name tasks of it. */
async function savedTasks(
  chain: DevChain,
  stateDir: string | undefined,
  modelId: Hex,
): Promise<ServedModel["tasks"] | undefined> {
  if (stateDir === undefined || !existsSync(join(stateDir, TASKS_FILE))) return undefined;
  const saved = JSON.parse(readFileSync(join(stateDir, TASKS_FILE), "utf8")) as Record<string, string>;
  if (saved.chat === undefined || saved.chatUnverified === undefined) return undefined;
  const tasks = { chat: BigInt(saved.chat), chatUnverified: BigInt(saved.chatUnverified) };
  for (const taskId of Object.values(tasks)) {
    const task = await getTask(chain.admin, taskId);
    if (task.modelId.toLowerCase() !== modelId.toLowerCase() || !task.active) return undefined;
  }
  return tasks;
}
