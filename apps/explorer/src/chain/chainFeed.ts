import { createAtomaPublicClient } from "@atoma/chain";
import { attestationRegistryAbi, nodeRegistryAbi, taskRegistryAbi } from "@atoma/contracts";
import { deploymentBlockError, type Network } from "@atoma/sdk";
import { type AbiEvent, type Address, type Hex, type Log, parseEventLogs } from "viem";
import { type WatchedContract, watchedContracts } from "./abis.js";
import { attestationKindOf, type NodeAttestation } from "./attestationState.js";
import { big, type ChainEvent, named } from "./chainEvent.js";
import { blockHashOf } from "./genesisHash.js";
import { confidentialTasks, type NodeStandings, standingOf, standingTasks } from "./taskStanding.js";

export interface NodeRecord {
  id: bigint;
  operator: Address;
  signer: Address;
  url: string;
  echelon: number;
  status: number;
  reputation: number;
  collateral: bigint;
  obligations: number;
  /** Its AttestationRegistry record (undefined: none, or the network names no registry). */
  attestation: NodeAttestation | undefined;
  /** Its standing on each confidential task it subscribes to (capped), undefined when the network names no registry. */
  standings: NodeStandings | undefined;
}

/** What the pages read: every event so far, the nodes as the chain holds them now, and the head. */
export interface ChainSnapshot {
  block: bigint | undefined;
  /** The head block's timestamp (Unix seconds): the chain's clock, which attestation expiries are read against. */
  time: bigint | undefined;
  /** The genesis block's hash: what tells this chain from another with the same id (a fresh dev chain's stack ids restart at 1). */
  genesisHash: Hex | undefined;
  events: readonly ChainEvent[];
  nodes: readonly NodeRecord[];
  error: string | undefined;
}

const POLL_MS = 500;
/** How soon a failed read is asked again when no new block comes to ask it. */
const RETRY_MS = 1_000;
const SPAN = 5_000n;
/**
 * How many blocks below the cursor each refresh reads again: a lagging backend behind a load balancer answers no
 * logs for blocks above its own head, and the next refresh corrects it (the events kept once each, so none twice).
 */
const TRAILING = 8n;

const eventKey = (event: ChainEvent) => `${event.tx}-${event.logIndex}`;

/**
 * Follows the chain from the network's deployment block (genesis when it names none): each new block's events of the watched contracts are decoded and appended, and
 * the registered nodes re-read, so the pages update without a reload. A dev chain is small enough to read whole.
 * Each read stands alone: the block cursor moves once a span's logs are read (the last few blocks below it are read
 * again at each refresh; a failed node read keeps the last good list; the genesis block is read apart, best-effort),
 * and whatever failed is asked again on a timer too.
 */
export class ChainFeed {
  readonly publicClient;
  readonly network: Network;
  #snapshot: ChainSnapshot = {
    block: undefined,
    time: undefined,
    genesisHash: undefined,
    events: [],
    nodes: [],
    error: undefined,
  };
  readonly #listeners = new Set<() => void>();
  readonly #contractOf = new Map<string, WatchedContract>();
  /** The first block not read yet: the network's deployment block at first (none of the contracts logged before it). Never lowered. */
  #next: bigint;
  /** The first block the logs are read from: the trailing re-read never goes below it. */
  #first: bigint;
  /** The events kept, by transaction hash and log index: a span read twice adds none of them again. */
  readonly #kept = new Set<string>();
  /** Whether the deployment block has been checked to be the TaskRegistry's. */
  #fromChecked = false;
  /** What stays shown above the pages while the chain reads well: a network file's deployment block ignored. */
  #warning: string | undefined;
  #busy = false;
  #again = false;
  #readingGenesis = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #genesisRetry: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #stop: (() => void) | undefined;

  constructor(network: Network) {
    this.network = network;
    this.#next = BigInt(network.deploymentBlock ?? 0);
    this.#first = this.#next;
    this.publicClient = createAtomaPublicClient({ ...network, pollingInterval: POLL_MS });
    for (const name of Object.keys(watchedContracts) as WatchedContract[]) {
      const address = network.contracts[name];
      if (address) this.#contractOf.set(address.toLowerCase(), name);
    }
  }

  start(): void {
    this.#stopped = false;
    this.#stop = this.publicClient.watchBlockNumber({
      emitOnBegin: true,
      poll: true,
      pollingInterval: POLL_MS,
      onBlockNumber: () => void this.#refresh(),
      onError: (error) => this.#set({ error: this.#failure(error) }),
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    clearTimeout(this.#genesisRetry);
    this.#genesisRetry = undefined;
    this.#stop?.();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  snapshot = (): ChainSnapshot => this.#snapshot;

  #set(patch: Partial<ChainSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...patch };
    for (const listener of this.#listeners) listener();
  }

  #failure(error: unknown): string {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return `cannot read the chain at ${this.network.rpcUrl}: ${why}`;
  }

  /** Asks again after a failed read, though no new block comes to ask it (one timer at a time). */
  #retryLater(): void {
    if (this.#stopped || this.#retry !== undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#refresh();
    }, RETRY_MS);
  }

  async #refresh(): Promise<void> {
    if (this.#stopped) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    try {
      do {
        this.#again = false;
        // What the reads found, shown at once (one render a block), whatever failed among them.
        const found: Partial<ChainSnapshot> = {};
        const failure = await this.#readNewBlocks(found).catch((error: unknown) => error ?? "failed");
        this.#set({ ...found, error: failure === undefined ? this.#warning : this.#failure(failure) });
        if (failure !== undefined) this.#retryLater();
      } while (this.#again);
    } finally {
      this.#busy = false;
    }
  }

  /** Reads what is new into `found`; answers the first read that failed (undefined: all read). */
  async #readNewBlocks(found: Partial<ChainSnapshot>): Promise<unknown> {
    if (!this.#fromChecked) {
      // A deployment block that is not the TaskRegistry's would hide the logs before it: read from 0 then (F9).
      const wrong = await deploymentBlockError(
        this.publicClient,
        this.network.contracts.TaskRegistry,
        this.#next,
      );
      if (wrong !== undefined) {
        this.#warning = wrong.message;
        this.#next = 0n;
        this.#first = 0n;
      }
      this.#fromChecked = true;
    }
    void this.#readGenesis();
    const head = await this.publicClient.getBlockNumber({ cacheTime: 0 });
    let failure: unknown;
    try {
      await this.#readLogs(head, found);
      // A head read that went backwards (a lagging backend) reads nothing and moves nothing back.
      if (this.#snapshot.block === undefined || head > this.#snapshot.block) {
        const block = await this.publicClient.getBlock({ blockNumber: head });
        found.block = head;
        found.time = block.timestamp;
      }
    } catch (error) {
      failure = error;
    }
    try {
      found.nodes = await this.#readNodes(found.events ?? this.#snapshot.events);
    } catch (error) {
      failure ??= error; // the last good list stays shown
    }
    return failure;
  }

  /**
   * Each span's events, kept as soon as its logs are read: the cursor moves past it then, only forward. The last
   * `TRAILING` blocks read are read again, so an empty answer from a lagging backend loses nothing for good.
   */
  async #readLogs(head: bigint, found: Partial<ChainSnapshot>): Promise<void> {
    const start = this.#next - TRAILING > this.#first ? this.#next - TRAILING : this.#first;
    // In spans an RPC node accepts: a long chain is read a piece at a time.
    for (let from = start; from <= head; from += SPAN) {
      const toBlock = from + SPAN - 1n < head ? from + SPAN - 1n : head;
      const logs = await this.publicClient.getLogs({
        address: [...this.#contractOf.keys()] as Address[],
        fromBlock: from,
        toBlock,
      });
      const fresh = this.#decode(logs).filter((event) => !this.#kept.has(eventKey(event)));
      for (const event of fresh) this.#kept.add(eventKey(event));
      if (toBlock + 1n > this.#next) this.#next = toBlock + 1n;
      if (fresh.length > 0) found.events = [...(found.events ?? this.#snapshot.events), ...fresh];
    }
  }

  /**
   * The genesis block's hash, read apart from the spans and best-effort (an RPC node that cannot serve block 0
   * holds nothing else back): asked at each refresh, and on a timer (an idle chain brings no refresh), until a real
   * hash comes.
   */
  async #readGenesis(): Promise<void> {
    if (this.#snapshot.genesisHash !== undefined || this.#readingGenesis) return;
    this.#readingGenesis = true;
    let genesisHash: Hex | undefined;
    try {
      genesisHash = blockHashOf((await this.publicClient.getBlock({ blockNumber: 0n })).hash);
    } catch {
      // Not shown: the answer files wait for it, and it is asked again.
    } finally {
      this.#readingGenesis = false;
    }
    if (this.#stopped) return;
    if (genesisHash !== undefined) this.#set({ genesisHash });
    else this.#readGenesisLater();
  }

  /** Asks for the genesis block again, though no new block comes to ask it (one timer at a time). */
  #readGenesisLater(): void {
    if (this.#genesisRetry !== undefined) return;
    this.#genesisRetry = setTimeout(() => {
      this.#genesisRetry = undefined;
      void this.#readGenesis();
    }, RETRY_MS);
  }

  #decode(logs: Log[]): ChainEvent[] {
    const out: ChainEvent[] = [];
    for (const log of logs) {
      const contract = this.#contractOf.get(log.address.toLowerCase());
      if (!contract) continue;
      const [decoded] = parseEventLogs({
        abi: watchedContracts[contract] as readonly AbiEvent[],
        logs: [log],
        strict: false,
      });
      if (!decoded || decoded.eventName === undefined) continue;
      out.push({
        contract,
        name: decoded.eventName,
        args: (decoded.args ?? {}) as Record<string, unknown>,
        block: log.blockNumber ?? 0n,
        tx: log.transactionHash ?? "0x",
        logIndex: log.logIndex ?? 0,
        address: log.address,
      });
    }
    return out;
  }

  async #readNodes(events: readonly ChainEvent[]): Promise<NodeRecord[]> {
    const ids = named(events, "NodeRegistered").map((event) => big(event, "nodeId"));
    const address = this.network.contracts.NodeRegistry;
    const confidential = confidentialTasks(events);
    return Promise.all(
      ids.map(async (id) => {
        const node = await this.publicClient.readContract({
          address,
          abi: nodeRegistryAbi,
          functionName: "getNode",
          args: [id],
        });
        return {
          id,
          operator: node.operator,
          signer: node.signer,
          url: node.url,
          echelon: Number(node.echelon),
          status: Number(node.status),
          reputation: Number(node.reputation),
          collateral: node.collateral,
          obligations: Number(node.obligations),
          attestation: await this.#readAttestation(id),
          standings: await this.#readStandings(id, confidential),
        };
      }),
    );
  }

  /**
   * The registry's `standing` for each confidential task the node subscribes to now (`tasksOf`), read again on each
   * new block like the rest: a governance change (a measurement or the dev kind withdrawn, GPU evidence required) is
   * a transaction, so it shows with the block that holds it.
   */
  async #readStandings(
    nodeId: bigint,
    confidential: ReadonlyMap<bigint, Hex>,
  ): Promise<NodeStandings | undefined> {
    const registry = this.network.contracts.AttestationRegistry;
    if (!registry) return undefined;
    if (confidential.size === 0) return { tasks: [], more: 0 };
    const nodeTasks = await this.publicClient.readContract({
      address: this.network.contracts.TaskRegistry,
      abi: taskRegistryAbi,
      functionName: "tasksOf",
      args: [nodeId],
    });
    const { read, more } = standingTasks(nodeTasks, confidential);
    const tasks = await Promise.all(
      read.map(async ({ taskId, modelId }) => {
        const [value, subscription] = await Promise.all([
          this.publicClient.readContract({
            address: registry,
            abi: attestationRegistryAbi,
            functionName: "standing",
            args: [taskId, modelId, nodeId],
          }),
          this.publicClient.readContract({
            address: this.network.contracts.TaskRegistry,
            abi: taskRegistryAbi,
            functionName: "getSubscription",
            args: [taskId, nodeId],
          }),
        ]);
        return {
          taskId,
          standing: standingOf(Number(value)),
          value: Number(value),
          leaving: !subscription.active,
        };
      }),
    );
    return { tasks, more };
  }

  async #readAttestation(nodeId: bigint): Promise<NodeAttestation | undefined> {
    const address = this.network.contracts.AttestationRegistry;
    if (!address) return undefined;
    const record = await this.publicClient.readContract({
      address,
      abi: attestationRegistryAbi,
      functionName: "attestationOf",
      args: [nodeId],
    });
    const kind = attestationKindOf(Number(record.kind));
    if (kind === undefined) return undefined;
    return {
      kind,
      measurement: record.measurement,
      encryptionKey: record.encryptionKey,
      evidenceHash: record.evidenceHash,
      epoch: record.epoch,
      expiresAt: record.expiresAt,
    };
  }
}
