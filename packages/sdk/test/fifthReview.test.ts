import { getStack, modelIdOf, registerModel, SecurityLevel, TaskRole } from "@atoma/chain";
import {
  createAtomaClient,
  exhaustionClaimSettled,
  ModelTasksCrowdedError,
  parseNetwork,
  readContext,
  SecurityLevelUnknownError,
  servedTasks,
  servingSecurityLevel,
  type UnprovenExhaustion,
  userContext,
  verifyChainOf,
} from "@atoma/sdk";
import { createPublicClient, http, keccak256, parseEther, toHex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  ask,
  createSubscribedTask,
  DEV_MNEMONIC,
  devNodeActors,
  fundedFreshBuyer,
  taskLookupContracts,
} from "./devActors.js";
import { devNetworkFixture } from "./devNetworkFixture.js";
import { refuseStackAsExhausted, signedExhaustedRefusal } from "./forgedExhaustion.js";
import {
  clientNotingPutAside,
  firstChatOnForgedStack,
  withFreshBuyerBehindRelay,
} from "./freshBuyerBehindRelay.js";
import { tomaBalance } from "./tomaBalance.js";

/** Polls `read` until it gives a value, for at most `ms` (a condition awaited, not a fixed sleep). */
async function waitFor<T>(what: string, read: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const giveUpAt = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Issue 13's fifth review, on a real dev network (atoma dev, three nodes). */
describe("issue 13's fifth review against a dev network", () => {
  const dev = devNetworkFixture(3);

  // Fifth review: a node called a reused stack exhausted with a total nothing at hand could check; the client bought
  // again while the old stack's escrow waited for its expiry (an hour). Now the owner closes it at once, and the
  // node's settlement is compared with its signed claim.
  it("closes a reused stack a node calls exhausted unproven, and its settlement shows the claim false", async () => {
    await withFreshBuyerBehindRelay(dev, async (actors) => {
      const { account, cheapest, key, fetch } = actors;
      const forged = refuseStackAsExhausted(actors.relay, "1");
      const { first, stack, fields } = await firstChatOnForgedStack(dev, actors, forged);
      expect(first.atoma.node_id).toBe(cheapest.id);
      // The liar signs leaf 0 again with the whole stack billed there, and calls the stack exhausted.
      const fake = { ...fields, units: 99_999n, cumulativeUnits: 99_999n };
      forged.refusal = await signedExhaustedRefusal(dev, cheapest.id, key, fake);
      const closed: UnprovenExhaustion[] = [];
      const { client: restarted, putAside } = clientNotingPutAside(
        dev,
        { account, fetch },
        {
          onUnprovenExhaustion: (claim) => closed.push(claim),
        },
      );
      const answer = await restarted.chat(ask(dev.ready.model, "More"));
      expect(answer.atoma.stack_id).not.toBe(stack);
      expect(putAside).toEqual([]);
      const stackId = BigInt(stack);
      expect(closed).toHaveLength(1);
      expect(closed[0]).toMatchObject({ stackId, nodeId: BigInt(cheapest.id), claimed: 99_999n });
      // Closed by its owner now: the node must settle by the close plus the window, not the expiry an hour away.
      const ctx = readContext(parseNetwork(dev.readyText));
      const onChain = await getStack(ctx, stackId);
      expect(onChain.closedAt).toBeGreaterThan(0n);
      expect(closed[0]!.settleDeadline).toBeLessThan(onChain.expiresAt);
      // The node settles what it served (leaf 0), far below the total it signed in its refusal: the claim is false.
      const check = await waitFor("the node's settlement", () =>
        exhaustionClaimSettled(ctx, stackId, 99_999n),
      );
      // (The relay passed the refused request on, so the node settles leaf 1 too.)
      expect(check).toMatchObject({ stackId, claimed: 99_999n, contradicted: true });
      expect(check.settled).toBeGreaterThanOrEqual(fields.cumulativeUnits);
      expect(check.settled).toBeLessThan(1_000n);
    });
  }, 300_000);

  // Fifth review: the task lookup read every Subscribed / ExitStarted / Unsubscribed / TaskDeactivated log of the
  // whole network from block 0, so anyone's task registrations for any model made every client's lookup grow.
  it("reads only the model's task logs: other models' task spam changes nothing and is never fetched", async () => {
    const network = parseNetwork(dev.readyText);
    const contracts = taskLookupContracts(network);
    const getLogs: { topics?: unknown[] }[] = [];
    const recording = createPublicClient({
      transport: http(dev.ready.rpcUrl, {
        onFetchRequest: async (request) => {
          const calls = [await request.clone().json()].flat() as { method: string; params: unknown[] }[];
          for (const call of calls)
            if (call.method === "eth_getLogs") getLogs.push(call.params[0] as { topics?: unknown[] });
        },
      }),
    }) as unknown as Parameters<typeof servedTasks>[0];
    const before = await servedTasks(recording, contracts, dev.ready.model);
    expect(before.map((t) => t.securityLevel)).toContain(1);
    const spammer = userContext(network, mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 6 }));
    const nodes = devNodeActors(dev);
    // Another model, registered by anyone, and its tasks, each with a node subscribed.
    const spamModel = modelIdOf("spam-model");
    await registerModel(spammer, {
      modelId: spamModel,
      weightsRoot: keccak256(toHex("spam weights")),
      feeBps: 0,
      collateral: parseEther("100"),
      uri: "atoma://models/spam",
    });
    for (let k = 0; k < 12; k++) {
      await createSubscribedTask(spammer, nodes[k % nodes.length]!, {
        modelId: spamModel,
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.None,
      });
    }
    getLogs.length = 0;
    expect(await servedTasks(recording, contracts, dev.ready.model)).toEqual(before);
    // Every log query names the model (TaskCreated's modelId) or its tasks (the taskId topic): none reads them all.
    expect(getLogs.length).toBeGreaterThanOrEqual(5);
    for (const query of getLogs) {
      const filtered = (query.topics ?? []).slice(1).some((topic) => topic !== null);
      expect(filtered, JSON.stringify(query)).toBe(true);
    }
    // From the block the network description names, not block 0.
    // The deployment's block: another block is refused for the registry's (review s5 F9) and read from 0.
    const from = BigInt(dev.ready.deploymentBlock ?? 0);
    expect(from).toBeGreaterThan(0n);
    getLogs.length = 0;
    await servedTasks(recording, contracts, dev.ready.model, from);
    for (const query of getLogs)
      expect(BigInt((query as { fromBlock?: string }).fromBlock ?? "0x0")).toBe(from);
    expect(verifyChainOf(parseNetwork(JSON.stringify({ ...dev.ready, deploymentBlock: 7 }))).fromBlock).toBe(
      7n,
    );
  }, 300_000);

  // Fifth review: 64 live but unservable tasks at the verified level (one subscriber each, too few to verify) filled
  // the window read for it, and the client quietly took level 0. Now it fails, named, and buys nothing.
  it("fails closed when 64 newer unservable tasks crowd the verified level", async () => {
    const network = parseNetwork(dev.readyText);
    const chain = verifyChainOf(network);
    expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
    const griefer = userContext(network, mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 5 }));
    const nodes = devNodeActors(dev);
    for (let k = 0; k < 64; k++) {
      await createSubscribedTask(griefer, nodes[k % nodes.length]!, {
        modelId: modelIdOf(dev.ready.model),
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.CrossValidation,
        replicationPpm: 8_000,
        attesters: 1,
        sampleSize: 4,
      });
    }
    const unknown = await servingSecurityLevel(chain, dev.ready.model).catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(SecurityLevelUnknownError);
    expect((unknown as SecurityLevelUnknownError).cause).toBeInstanceOf(ModelTasksCrowdedError);
    const account = await fundedFreshBuyer(dev);
    const lowered: unknown[] = [];
    const refused = await createAtomaClient({
      network: dev.readyText,
      account,
      onLowerLevel: (...args) => lowered.push(args),
    })
      .chat(ask(dev.ready.model, "Which level?"))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ModelTasksCrowdedError);
    expect((refused as ModelTasksCrowdedError).code).toBe("model_tasks_crowded");
    expect((refused as ModelTasksCrowdedError).level).toBe(1);
    expect(lowered).toEqual([]);
    // Nothing was bought: the buyer's TOMA is untouched.
    expect(await tomaBalance(dev, account.address)).toBe(parseEther("20"));
    // Naming the level goes on: the level-0 task serves.
    const named = await createAtomaClient({
      network: dev.readyText,
      account,
      preferences: { securityLevel: 0 },
    }).chat(ask(dev.ready.model, "Level 0 then"));
    expect(named.verdict?.ok).toBe(true);
  }, 600_000);
});
