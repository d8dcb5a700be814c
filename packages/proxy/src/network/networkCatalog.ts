import { getNode, getSubscription, getTask, modelIdOf, NodeStatus } from "@atoma/chain";
import { taskRegistryAbi } from "@atoma/contracts";
import { type Logger, silentLogger } from "@atoma/core";
import { readJsonCapped } from "@atoma/sdk";
import type { Address, Hex } from "viem";
import type { CatalogModel, CatalogNode, CatalogTask } from "./catalog.js";
import { nodeUrlRefusal } from "./nodeUrlPolicy.js";

/** A node may list many names; a few suffice, and a hostile one must not fill memory. */
const MAX_NAMES_PER_NODE = 100;

/** The most bytes of a node's `/v1/models` read: 100 names of 256 characters fit many times over. */
export const MAX_MODEL_LIST_BYTES = 256 * 1024;

type ReadContext = Parameters<typeof getTask>[0] & Parameters<typeof getNode>[0];

export interface NetworkCatalogOptions {
  /** Names of models to serve even when no node lists them (their on-chain id is H(name)). @default [] */
  modelNames?: readonly string[] | undefined;
  /** How long the gateway waits for a node's `/v1/models`. @default 2000 */
  nodeTimeoutMs?: number | undefined;
  /**
   * Whether nodes at loopback or private addresses are served (a dev network, tests); non-http(s) URLs are never.
   * @default false
   */
  allowPrivateNodeUrls?: boolean | undefined;
  fetch?: typeof fetch | undefined;
  logger?: Logger | undefined;
}

/** Model names whose H(name) is remembered at most. */
const MAX_NAMES_REMEMBERED = 1_000;

/**
 * What the chain says the network serves: every active task grouped by model, with the active nodes subscribed
 * to each. Model names come from the nodes' own `GET /v1/models` (the chain keeps only H(name)). Read in full
 * by `refresh()`, which the gateway calls on a timer: a client's request never triggers chain reads.
 */
export class NetworkCatalog {
  readonly #ctx: ReadContext;
  readonly #options: NetworkCatalogOptions;
  readonly #logger: Logger;
  #byId = new Map<Hex, CatalogModel>();
  readonly #names = new Map<Hex, string>();
  readonly #firstSeen = new Map<Hex, number>();
  /** H(name) of names asked for lately. */
  readonly #idsByName = new Map<string, Hex>();

  constructor(ctx: ReadContext, options: NetworkCatalogOptions = {}) {
    this.#ctx = ctx;
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ module: "catalog" });
    for (const name of options.modelNames ?? []) this.#names.set(modelIdOf(name), name);
  }
  /** Whether nodes at loopback or private addresses are listed (a dev network, tests). */
  get allowsPrivateNodeUrls(): boolean {
    return this.#options.allowPrivateNodeUrls ?? false;
  }

  /** The models with a name, in name order. */
  models(): CatalogModel[] {
    return [...this.#byId.values()].filter((m) => m.name !== "").sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The model clients call `name`, if the network has a task for H(name). */
  model(name: string): CatalogModel | undefined {
    let id = this.#idsByName.get(name);
    if (id === undefined) {
      // Names come from requests: the memo is bounded (full: emptied), a keccak per request saved twice over.
      if (this.#idsByName.size >= MAX_NAMES_REMEMBERED) this.#idsByName.clear();
      id = modelIdOf(name);
      this.#idsByName.set(name, id);
    }
    const model = this.#byId.get(id);
    return model && { ...model, name };
  }

  async refresh(): Promise<void> {
    const taskCount = await this.#ctx.publicClient.readContract({
      address: this.#ctx.addresses.TaskRegistry,
      abi: taskRegistryAbi,
      functionName: "taskCount",
    });
    const nodes = new Map<bigint, Promise<Awaited<ReturnType<typeof getNode>>>>();
    const nodeOf = (nodeId: bigint) => {
      let read = nodes.get(nodeId);
      if (!read) {
        read = getNode(this.#ctx, nodeId);
        nodes.set(nodeId, read);
      }
      return read;
    };
    const tasks = new Map<Hex, CatalogTask[]>();
    for (let taskId = 1n; taskId <= taskCount; taskId++) {
      const task = await getTask(this.#ctx, taskId);
      if (!task.active) continue;
      const modelId = task.modelId.toLowerCase() as Hex;
      const entry: CatalogTask = {
        taskId,
        securityLevel: task.securityLevel,
        nodes: await this.#subscribed(taskId, nodeOf),
      };
      tasks.set(modelId, [...(tasks.get(modelId) ?? []), entry]);
    }
    await this.#learnNames(
      [...tasks.values()].flat().flatMap((task) => task.nodes),
      new Set(tasks.keys()),
    );
    const now = Math.floor(Date.now() / 1000);
    this.#byId = new Map(
      [...tasks].map(([modelId, modelTasks]) => {
        if (!this.#firstSeen.has(modelId)) this.#firstSeen.set(modelId, now);
        const model: CatalogModel = {
          name: this.#names.get(modelId) ?? "",
          modelId,
          tasks: modelTasks,
          firstSeen: this.#firstSeen.get(modelId) ?? now,
        };
        return [modelId, model];
      }),
    );
    this.#logger.debug({ models: this.#byId.size }, "catalog refreshed");
  }

  async #subscribed(
    taskId: bigint,
    nodeOf: (nodeId: bigint) => ReturnType<typeof getNode>,
  ): Promise<CatalogNode[]> {
    const subscribers = await this.#ctx.publicClient.readContract({
      address: this.#ctx.addresses.TaskRegistry,
      abi: taskRegistryAbi,
      functionName: "subscribersOf",
      args: [taskId],
    });
    const found: CatalogNode[] = [];
    for (const nodeId of subscribers) {
      const [subscription, node] = await Promise.all([
        getSubscription(this.#ctx, { taskId, nodeId }),
        nodeOf(nodeId),
      ]);
      if (!subscription.active || node.status !== NodeStatus.Active) continue;
      const refusal = nodeUrlRefusal(node.url, this.#options.allowPrivateNodeUrls ?? false);
      if (refusal) {
        this.#logger.warn(
          { nodeId: String(nodeId), reason: refusal },
          "a node's registered URL is not served",
        );
        continue;
      }
      found.push({
        nodeId,
        url: node.url,
        signer: node.signer as Address,
        pricePerMillion: subscription.pricePerMillion,
        reputation: Number(node.reputation),
      });
    }
    return found;
  }

  /** Asks each node for the names it serves, keeping those whose hash is a model of the chain's tasks. */
  async #learnNames(nodes: CatalogNode[], modelIds: Set<Hex>): Promise<void> {
    const urls = [...new Set(nodes.map((node) => node.url))];
    await Promise.all(
      urls.map(async (url) => {
        for (const name of await this.#listedBy(url)) {
          const modelId = modelIdOf(name).toLowerCase() as Hex;
          if (modelIds.has(modelId)) this.#names.set(modelId, name);
        }
      }),
    );
  }

  async #listedBy(url: string): Promise<string[]> {
    try {
      const answer = await (this.#options.fetch ?? fetch)(new URL("/v1/models", url), {
        signal: AbortSignal.timeout(this.#options.nodeTimeoutMs ?? 2_000),
        redirect: "error",
      });
      if (!answer.ok) return [];
      const body = (await readJsonCapped(answer, MAX_MODEL_LIST_BYTES, "model list")) as {
        data?: { id?: unknown }[];
      };
      return (Array.isArray(body?.data) ? body.data : [])
        .map((entry) => entry?.id)
        .filter((id): id is string => typeof id === "string" && id.length > 0 && id.length <= 256)
        .slice(0, MAX_NAMES_PER_NODE);
    } catch (error) {
      this.#logger.debug({ url, err: error }, "a node's model list could not be read");
      return [];
    }
  }
}
