import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getStack, modelIdOf, SecurityLevel, TaskRole } from "@atoma/chain";
import {
  checkedFromBlock,
  createAtomaClient,
  DeploymentBlockError,
  deploymentBlockError,
  highestLevelOnOffer,
  memoryTaskLogStore,
  NodeRequestError,
  parseNetwork,
  ReceiptWithheldError,
  SERVING_ROLES,
  servedTasks,
  servingSecurityLevel,
  TASK_LOG_CONFIRMATIONS,
  type TaskLogStore,
  userContext,
  verifyChainOf,
  WITHHELD_ASIDE_MS,
  type WithheldReceipt,
} from "@atoma/sdk";
import { createPublicClient, custom, type Hex, http } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ask,
  cheapestNodeBehindRelay,
  createSubscribedTask,
  DEV_MNEMONIC,
  devNodeActors,
  fundedFreshBuyer,
  taskLookupContracts,
} from "./devActors.js";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";
import type { Relay } from "./relay.js";

/**
 * Issue 13's open items on a real dev network (atoma dev, three nodes): the non-custodial client facing a node that
 * withholds a receipt, the ready line's deployment block, task roles, and the task-log cache across a reorg.
 */
describe("withheld receipts, deployment block, task roles and the task-log cache (atoma dev, three nodes)", () => {
  let dev: DevNetwork;
  beforeAll(async () => {
    dev = await startDevNetwork(3);
  }, 300_000);
  afterAll(async () => {
    await dev?.stop();
  }, 60_000);

  const reader = () => createPublicClient({ transport: http(dev.ready.rpcUrl) });

  /**
   * The node answers leaf 1 of `stack` (committing it) with a 502, then refuses every resend of it with `refusal`.
   */
  function cutThenRefuse(
    relay: Relay,
    stack: () => string | undefined,
    refusal: { status: number; code: string; type: string },
  ) {
    let cut = false;
    const ours = (path: string, headers: Record<string, string>) =>
      path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stack();
    relay.rewrite = (body, path, headers) =>
      ours(path, headers)
        ? JSON.stringify({
            error: {
              message: cut ? refusal.code : "relay",
              type: refusal.type,
              code: cut ? refusal.code : "relay",
            },
          })
        : body;
    relay.statusOf = (status, path, headers) => {
      if (!ours(path, headers)) return status;
      if (cut) return refusal.status;
      cut = true;
      return 502;
    };
  }

  it("writes the deployment block in the ready line and the network file, with no contract code before it", async () => {
    const block = dev.ready.deploymentBlock;
    expect(Number.isSafeInteger(block) && block! >= 1).toBe(true);
    const onFile = JSON.parse(readFileSync(join(dev.stateDir, "network.json"), "utf8")) as {
      deploymentBlock?: number;
    };
    expect(onFile.deploymentBlock).toBe(block);
    expect(parseNetwork(dev.readyText).deploymentBlock).toBe(block);
    expect(verifyChainOf(parseNetwork(dev.readyText)).fromBlock).toBe(BigInt(block!));
    // Nothing of the deployment is there before it (so no log of it either); it is there at the head.
    const registry = dev.ready.contracts.TaskRegistry as Hex;
    expect(await reader().getCode({ address: registry, blockNumber: BigInt(block! - 1) })).toBeUndefined();
    expect((await reader().getCode({ address: registry }))?.length).toBeGreaterThan(2);
    expect(await deploymentBlockError(reader() as never, registry, BigInt(block!))).toBeUndefined();
  });

  // Review F9: a network file's deploymentBlock past the deployment (a stale deployment.json after an anvil state
  // was copied) hid every task created before it, and the owner's purchases: it is checked and ignored.
  it("ignores a deploymentBlock that is not the TaskRegistry's, and still finds the tasks before it", async () => {
    const network = parseNetwork(dev.readyText);
    const contracts = taskLookupContracts(network);
    const client = createPublicClient({ transport: http(dev.ready.rpcUrl) }) as unknown as Parameters<
      typeof servedTasks
    >[0];
    const head = (await reader().getBlockNumber()) as bigint;
    const late = await deploymentBlockError(client, contracts.TaskRegistry, head);
    expect(late).toBeInstanceOf(DeploymentBlockError);
    expect(late?.code).toBe("network_description_invalid");
    expect(late?.message).toMatch(/code the block before/);
    const right = BigInt(dev.ready.deploymentBlock!);
    // A registry with no code (another chain's address): the block is nobody's deployment.
    const nowhere = await deploymentBlockError(client, "0x000000000000000000000000000000000000dEaD", right);
    expect(nowhere?.message).toMatch(/no code at the head/);
    expect(await checkedFromBlock(client, contracts.TaskRegistry, head)).toBe(0n);
    expect(await checkedFromBlock(client, contracts.TaskRegistry, right)).toBe(right);
    // The tasks created at the deployment are found all the same from the wrong block.
    const fromLate = await servedTasks(client, contracts, dev.ready.model, head);
    expect(fromLate.map((t) => t.taskId)).toEqual(
      (await servedTasks(client, contracts, dev.ready.model, right)).map((t) => t.taskId),
    );
    expect(fromLate.length).toBeGreaterThan(0);
  }, 120_000);

  // The direct client left a stack whose node committed a leaf and then refused its resend with `nonce_reused`
  // jammed: every later call resent it first and failed, until the stack expired. `atoma chat` already coped.
  it("closes the stalled stack, puts the node aside a week, hands over the signed request and asks another node", async () => {
    const account = await fundedFreshBuyer(dev);
    const { cheapest, relay, fetch } = await cheapestNodeBehindRelay(dev);
    const asideCalls: { nodeId: bigint; reason: string; until: Date | undefined }[] = [];
    const withheld: WithheldReceipt[] = [];
    const client = createAtomaClient({
      network: dev.readyText,
      account,
      preferences: { sort: "price" },
      fetch,
      onNodePutAside: (nodeId, reason, until) => asideCalls.push({ nodeId, reason, until }),
      onReceiptWithheld: (w) => withheld.push(w),
    });
    try {
      const first = await client.chat(ask(dev.ready.model, "Hello"));
      expect(first.atoma.node_id).toBe(cheapest.id);
      const stack = first.atoma.stack_id as string;
      cutThenRefuse(relay, () => stack, { status: 409, code: "nonce_reused", type: "conflict_error" });
      // The node commits leaf 1 and the answer is cut: this call fails, its signed request stays pending.
      await expect(client.chat(ask(dev.ready.model, "Second"))).rejects.toThrow();
      // Asked again for it, the node says the nonce is used and gives no receipt: another node answers.
      const before = Date.now();
      const third = await client.chat(ask(dev.ready.model, "Third"));
      expect(third.verdict?.ok).toBe(true);
      expect(third.atoma.node_id).not.toBe(cheapest.id);
      expect(third.atoma.stack_id).not.toBe(stack);
      expect(asideCalls.map((a) => a.nodeId)).toEqual([BigInt(cheapest.id)]);
      expect(asideCalls[0]!.reason).toMatch(/withheld the receipt of the request signed at nonce 1/);
      expect(+asideCalls[0]!.until!).toBeGreaterThanOrEqual(before + WITHHELD_ASIDE_MS);
      expect(+asideCalls[0]!.until!).toBeLessThan(Date.now() + WITHHELD_ASIDE_MS + 1);
      // The signed request of the leaf withheld is handed over: the owner's evidence.
      expect(withheld).toHaveLength(1);
      const [w] = withheld;
      expect(w!.stackId).toBe(BigInt(stack));
      expect(w!.nonce).toBe(1n);
      expect(w!.request?.signed.nonce).toBe(1n);
      expect(w!.request?.signed.json).toContain("Second");
      expect(w!.settleDeadline).toBeGreaterThan(0n);
      // Closed by its owner at once: its escrow comes back once the node settles, not at its expiry.
      const ctx = { publicClient: reader() as never, addresses: parseNetwork(dev.readyText).contracts };
      expect((await getStack(ctx, BigInt(stack))).closedAt).toBeGreaterThan(0n);
      // The client goes on without the node: the next call stays on the new stack.
      const fourth = await client.chat(ask(dev.ready.model, "Fourth"));
      expect(fourth.atoma.stack_id).toBe(third.atoma.stack_id);
      expect(asideCalls).toHaveLength(1);
    } finally {
      await relay.close();
    }
  }, 300_000);

  // Review CLI3-1, in the SDK: a refused resend that proves nothing (a 401 from a node whose clock runs ahead) must
  // neither put the node aside nor close the stack.
  it("neither puts aside nor closes on a resend refused 401, and goes on on the same stack later", async () => {
    const account = await fundedFreshBuyer(dev);
    const { cheapest, relay, fetch } = await cheapestNodeBehindRelay(dev);
    const asideCalls: bigint[] = [];
    const withheld: WithheldReceipt[] = [];
    const client = createAtomaClient({
      network: dev.readyText,
      account,
      preferences: { sort: "price" },
      fetch,
      onNodePutAside: (nodeId) => asideCalls.push(nodeId),
      onReceiptWithheld: (w) => withheld.push(w),
    });
    try {
      const first = await client.chat(ask(dev.ready.model, "Hello"));
      const stack = first.atoma.stack_id as string;
      let skewed = true;
      cutThenRefuse(relay, () => (skewed ? stack : undefined), {
        status: 401,
        code: "invalid_signature",
        type: "authentication_error",
      });
      await expect(client.chat(ask(dev.ready.model, "Second"))).rejects.toBeInstanceOf(NodeRequestError);
      const refused = await client.chat(ask(dev.ready.model, "Third")).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ReceiptWithheldError);
      expect(asideCalls).toEqual([]);
      expect(withheld).toEqual([]);
      const ctx = { publicClient: reader() as never, addresses: parseNetwork(dev.readyText).contracts };
      expect((await getStack(ctx, BigInt(stack))).closedAt).toBe(0n);
      // Its clock right again, the node gives the receipt of the leaf it committed and serves on the same stack.
      skewed = false;
      const later = await client.chat(ask(dev.ready.model, "Fourth"));
      expect(later.atoma.node_id).toBe(cheapest.id);
      expect(later.atoma.stack_id).toBe(stack);
    } finally {
      await relay.close();
    }
  }, 300_000);

  // A task of a role no node serves requests on (created for consensus seats, say), at a higher level and with a
  // node subscribed: it was listed as serving, so every client's default level rose to it.
  it("lists no task of a role no node serves, however high its level", async () => {
    const network = parseNetwork(dev.readyText);
    const chain = verifyChainOf(network);
    const contracts = taskLookupContracts(network);
    expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
    const creator = userContext(network, mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 4 }));
    const seatsOnly = 9;
    expect(SERVING_ROLES).not.toContain(seatsOnly);
    const taskId = await createSubscribedTask(creator, devNodeActors(dev)[0]!, {
      modelId: modelIdOf(dev.ready.model),
      role: seatsOnly,
      securityLevel: SecurityLevel.Consensus,
    });
    // Named, its role counts: the task is live and a node is offered on it (so the default leaving it out is the rule).
    const asSeats = await servedTasks(chain.publicClient, contracts, dev.ready.model, 0n, {
      roles: [seatsOnly],
    });
    expect(asSeats.map((t) => t.taskId)).toEqual([taskId]);
    const served = await servedTasks(chain.publicClient, contracts, dev.ready.model);
    expect(served.map((t) => t.taskId)).not.toContain(taskId);
    expect(await servingSecurityLevel(verifyChainOf(network), dev.ready.model)).toBe(1);
    expect(await highestLevelOnOffer(chain, dev.ready.model)).toBe(1);
  }, 300_000);

  /** A JSON-RPC call to anvil. */
  async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    const answer = await fetch(dev.ready.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    return ((await answer.json()) as { result: T }).result;
  }

  // Review F7: a load-balanced RPC answers `eth_getLogs` for its newest blocks from a backend behind (no logs, no
  // error). The cache kept everything up to the head, so a task created and subscribed there was missed for good.
  it("reads again the blocks under the head that a lagging RPC answered empty, and finds the task there", async () => {
    const network = parseNetwork(dev.readyText);
    const contracts = taskLookupContracts(network);
    const from = BigInt(dev.ready.deploymentBlock ?? 0);
    const creator = userContext(network, mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 5 }));
    const taskId = await createSubscribedTask(creator, devNodeActors(dev)[2]!, {
      modelId: modelIdOf(dev.ready.model),
      role: TaskRole.Chat,
      securityLevel: SecurityLevel.Consensus,
    });
    // The backend lags two blocks, once: the task's creation and its subscription are in the blocks it leaves out.
    let behindFrom: bigint | undefined = ((await reader().getBlockNumber()) as bigint) - 1n;
    const direct = http(dev.ready.rpcUrl)({});
    const lagging = createPublicClient({
      transport: custom({
        async request({ method, params }) {
          const result = await direct.request({ method, params });
          if (method !== "eth_getLogs" || behindFrom === undefined) return result;
          const lagged = behindFrom;
          return (result as { blockNumber: Hex }[]).filter((log) => BigInt(log.blockNumber) < lagged);
        },
      }),
    }) as unknown as Parameters<typeof servedTasks>[0];
    const entries = new Map<string, string>();
    const store: TaskLogStore = {
      get: (key) => entries.get(key),
      set: (key, value) => void entries.set(key, value),
    };
    const missed = await servedTasks(lagging, contracts, dev.ready.model, from, {}, store);
    expect(missed.map((t) => t.taskId)).not.toContain(taskId);
    expect(entries.size).toBe(1);
    // The backend caught up, and the head did not move: the next lookup finds the task all the same.
    behindFrom = undefined;
    const found = await servedTasks(lagging, contracts, dev.ready.model, from, {}, store);
    expect(found.find((t) => t.taskId === taskId)?.securityLevel).toBe(SecurityLevel.Consensus);
    // And so does one after the blocks are old enough to be kept.
    await rpc("anvil_mine", ["0x20"]);
    const later = await servedTasks(lagging, contracts, dev.ready.model, from, {}, store);
    expect(later.find((t) => t.taskId === taskId)?.securityLevel).toBe(SecurityLevel.Consensus);

    // Review F8: the kept entry rewritten (anything of the page's origin can) with the task relabelled level 1: a
    // caller naming level 2 still gets it, at the level `getTask` gives, and a caller naming level 1 does not.
    const [key, text] = [...entries.entries()][0]!;
    const entry = JSON.parse(text) as { created: { taskId: string; securityLevel: number }[] };
    const relabelled = entry.created.find((t) => BigInt(t.taskId) === taskId)!;
    relabelled.securityLevel = SecurityLevel.CrossValidation;
    entries.set(key, JSON.stringify(entry));
    const named = await servedTasks(
      lagging,
      contracts,
      dev.ready.model,
      from,
      {
        securityLevel: SecurityLevel.Consensus,
      },
      store,
    );
    expect(named.map((t) => [t.taskId, t.securityLevel])).toContainEqual([taskId, SecurityLevel.Consensus]);
    const low = await servedTasks(
      lagging,
      contracts,
      dev.ready.model,
      from,
      {
        securityLevel: SecurityLevel.CrossValidation,
      },
      store,
    );
    expect(low.map((t) => t.taskId)).not.toContain(taskId);
    expect(low.every((t) => t.securityLevel === SecurityLevel.CrossValidation)).toBe(true);
  }, 300_000);

  // Last: it rewinds the chain. A cache trusted by block number alone would keep what a reorg replaced: the task
  // logs are read again from the deployment block once the last block kept is no longer the chain's.
  it("keeps the task logs read, reads only the blocks since, and reads all again after a reorg", async () => {
    const network = parseNetwork(dev.readyText);
    const contracts = taskLookupContracts(network);
    const from = BigInt(dev.ready.deploymentBlock ?? 0);
    const getLogs: { fromBlock?: string }[] = [];
    const recording = createPublicClient({
      transport: http(dev.ready.rpcUrl, {
        onFetchRequest: async (request) => {
          const calls = [await request.clone().json()].flat() as { method: string; params: unknown[] }[];
          for (const call of calls)
            if (call.method === "eth_getLogs") getLogs.push(call.params[0] as { fromBlock?: string });
        },
      }),
    }) as unknown as Parameters<typeof servedTasks>[0];
    const entries = new Map<string, string>();
    const store: TaskLogStore = {
      get: (key) => entries.get(key),
      set: (key, value) => void entries.set(key, value),
    };
    const firstRead = await servedTasks(recording, contracts, dev.ready.model, from, {}, store);
    expect(firstRead.map((t) => t.securityLevel)).toContain(1);
    expect(entries.size).toBe(1);
    const kept = JSON.parse([...entries.values()][0]!) as { block: string };
    // Kept only up to the confirmations under the head; the blocks after are read, not kept.
    const headNow = (await reader().getBlockNumber()) as bigint;
    expect(BigInt(kept.block)).toBe(headNow - TASK_LOG_CONFIRMATIONS);
    const starts = (q: { fromBlock?: string }) => BigInt(q.fromBlock ?? "0x0");
    expect(getLogs.every((q) => starts(q) === from || starts(q) === BigInt(kept.block) + 1n)).toBe(true);
    // Nothing new: the head only moved; only the blocks since the kept one are read, and the answer is the same.
    await rpc("anvil_mine", ["0x2"]);
    getLogs.length = 0;
    expect(await servedTasks(recording, contracts, dev.ready.model, from, {}, store)).toEqual(firstRead);
    expect(getLogs.length).toBeGreaterThan(0);
    for (const query of getLogs) expect(starts(query)).toBeGreaterThan(BigInt(kept.block));
    expect(getLogs.some((q) => starts(q) === BigInt(kept.block) + 1n)).toBe(true);

    // A reorg: the chain goes back, a level-2 chat task with a node subscribed lands on the new branch below the
    // block the cache holds, and the new branch grows past it.
    const snapshot = await rpc<string>("evm_snapshot");
    await rpc("anvil_mine", ["0x10"]);
    await servedTasks(recording, contracts, dev.ready.model, from, {}, store);
    const cachedAt = BigInt((JSON.parse([...entries.values()][0]!) as { block: string }).block);
    expect(await rpc<boolean>("evm_revert", [snapshot])).toBe(true);
    const creator = userContext(network, mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 3 }));
    const taskId = await createSubscribedTask(creator, devNodeActors(dev)[1]!, {
      modelId: modelIdOf(dev.ready.model),
      role: TaskRole.Chat,
      securityLevel: SecurityLevel.Consensus,
    });
    const created = (await reader().getBlockNumber()) as bigint;
    expect(created).toBeLessThanOrEqual(cachedAt);
    await rpc("anvil_mine", ["0x20"]);
    getLogs.length = 0;
    const afterReorg = await servedTasks(recording, contracts, dev.ready.model, from, {}, store);
    expect(afterReorg.map((t) => t.taskId)).toContain(taskId);
    expect(afterReorg.find((t) => t.taskId === taskId)?.securityLevel).toBe(SecurityLevel.Consensus);
    expect(getLogs.some((q) => BigInt(q.fromBlock ?? "0x0") === from)).toBe(true);
    // A store for one process is bounded: the oldest entry goes first.
    const small = memoryTaskLogStore(2);
    for (const key of ["a", "b", "c"]) await small.set(key, key);
    expect([await small.get("a"), await small.get("b"), await small.get("c")]).toEqual([undefined, "b", "c"]);
  }, 300_000);
});
