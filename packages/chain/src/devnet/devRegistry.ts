import type { Hash } from "@atoma/core";
import { type Hex, keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import type { ChainContext, TxInfo } from "../actions/context.js";
import { type CreateTaskParams, createTask, TaskRole } from "../actions/createTask.js";
import { registerModel } from "../actions/registerModel.js";
import { type RegisterNodeResult, registerNode } from "../actions/registerNode.js";
import { subscribe } from "../actions/subscribe.js";
import type { EchelonApproval } from "../deploy.js";
import { modelIdOf } from "../modelId.js";
import type { DevAccount, DevFunding } from "./devFunding.js";
import type { DevnetBase } from "./devnetBase.js";

/** The echelon dev nodes register in unless told otherwise, approved at deployment unless told otherwise. */
export const DEV_ECHELON: EchelonApproval = {
  echelon: 1,
  fingerprint: keccak256(stringToBytes("dev echelon 1")),
};
/** TOMA per million units a dev subscription asks unless told otherwise. */
export const DEV_PRICE_PER_MILLION = parseEther("2");
/** Units a dev subscription accepts in unsettled stacks unless told otherwise: no limit in practice. */
export const DEV_CAPACITY = 10n ** 12n;
/** TOMA a dev node stakes unless told otherwise. */
export const DEV_NODE_COLLATERAL = parseEther("1000");

export interface DevModelOptions {
  /** The model's name: its id is `modelIdOf(name)`. */
  name: string;
  /** Registers it. @default a fresh funded account */
  owner?: ChainContext | undefined;
  /** @default keccak256("weights") */
  weightsRoot?: Hash | undefined;
  /** @default 500 */
  feeBps?: number | undefined;
  /** @default 100 TOMA */
  collateral?: bigint | undefined;
  /** @default atoma://models/<name> */
  uri?: string | undefined;
}

export interface DevModel {
  modelId: Hex;
  owner: ChainContext;
  registration: TxInfo;
}

export interface DevNodeOptions {
  /** @default DEV_ECHELON's */
  echelon?: number | undefined;
  /** @default 1,000 TOMA */
  collateral?: bigint | undefined;
  /** @default http://127.0.0.1:8080 */
  url?: string | undefined;
  /** Stakes and registers the node. @default a fresh account funded with `operatorToma` */
  operator?: DevAccount | undefined;
  /** TOMA a fresh operator is funded with. @default 100,000 TOMA */
  operatorToma?: bigint | undefined;
  /** The node signs with the operator's key rather than a fresh key of its own. */
  signsAsOperator?: boolean | undefined;
}

/** A registered node: its operator, and the signing key its software runs with (both as action contexts). */
export interface DevNode {
  nodeId: bigint;
  operator: ChainContext;
  signer: ChainContext;
  signerAccount: LocalAccount;
  /** The signing key (what the node's key file holds). */
  signerKey: Hex;
  registration: RegisterNodeResult;
}

export interface DevSubscription {
  /** @default 2 TOMA */
  pricePerMillion?: bigint | undefined;
  /** @default 10^12 */
  capacity?: bigint | undefined;
  /** @default the registry's minimum */
  collateral?: bigint | undefined;
}

export type DevTaskParams = Omit<CreateTaskParams, "role"> & {
  /** @default TaskRole.Chat */
  role?: number | undefined;
  /** Nodes subscribed to the task at the dev price and capacity. */
  nodes?: readonly Pick<DevNode, "nodeId" | "signer">[] | undefined;
};

export interface DevRegistry {
  registerModel(options: DevModelOptions): Promise<DevModel>;
  /** Registers a node with stake (eligible for work from the next epoch). */
  addNode(options?: DevNodeOptions): Promise<DevNode>;
  /** Subscribes a node (sending from its signing key) to a task. */
  subscribe(
    node: Pick<DevNode, "nodeId" | "signer">,
    taskId: bigint,
    options?: DevSubscription,
  ): Promise<TxInfo>;
  /** The admin creates a task; `params.nodes` subscribe to it. */
  addTask(params: DevTaskParams): Promise<bigint>;
}

export function devRegistry(base: DevnetBase, funding: DevFunding): DevRegistry {
  const devSubscribe: DevRegistry["subscribe"] = (node, taskId, options = {}) =>
    subscribe(node.signer, {
      taskId,
      nodeId: node.nodeId,
      pricePerMillion: options.pricePerMillion ?? DEV_PRICE_PER_MILLION,
      capacity: options.capacity ?? DEV_CAPACITY,
      collateral: options.collateral,
    });
  return {
    subscribe: devSubscribe,
    async registerModel(options) {
      const owner = options.owner ?? (await funding.account()).ctx;
      const modelId = modelIdOf(options.name);
      const registration = await registerModel(owner, {
        modelId,
        weightsRoot: options.weightsRoot ?? keccak256(stringToBytes("weights")),
        feeBps: options.feeBps ?? 500,
        collateral: options.collateral ?? parseEther("100"),
        uri: options.uri ?? `atoma://models/${options.name}`,
      });
      return { modelId, owner, registration };
    },
    async addNode(options = {}) {
      const operator = options.operator ?? (await funding.account(options.operatorToma));
      const signer = options.signsAsOperator ? operator : await funding.account(0n);
      const registration = await registerNode(operator.ctx, {
        signer: signer.account,
        url: options.url ?? "http://127.0.0.1:8080",
        echelon: options.echelon ?? DEV_ECHELON.echelon,
        collateral: options.collateral ?? DEV_NODE_COLLATERAL,
      });
      return {
        nodeId: registration.nodeId,
        operator: operator.ctx,
        signer: signer.ctx,
        signerAccount: signer.account,
        signerKey: signer.privateKey,
        registration,
      };
    },
    async addTask({ nodes = [], role = TaskRole.Chat, ...params }) {
      const { taskId } = await createTask(base.admin, { ...params, role });
      for (const node of nodes) await devSubscribe(node, taskId);
      return taskId;
    },
  };
}
