import { getStack, modelIdOf, SecurityLevel, TaskRole } from "@atoma/chain";
import { atomaDomain, parseReceipt, signResponse, toReceipt } from "@atoma/core";
import {
  createAtomaClient,
  type DirectClientOptions,
  parseNetwork,
  readContext,
  servingSecurityLevel,
  userContext,
  verifyChainOf,
} from "@atoma/sdk";
import type { Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  ask,
  cheapestFirstClient,
  createSubscribedTask,
  DEV_MNEMONIC,
  devNodeActors,
  fundedFreshBuyer,
} from "./devActors.js";
import { devNetworkFixture } from "./devNetworkFixture.js";
import { refuseStackAsExhausted, signedExhaustedRefusal } from "./forgedExhaustion.js";
import {
  clientNotingPutAside,
  firstChatOnForgedStack,
  type RelayedCheapest,
  refuseStackAsClosed,
  withFreshBuyerBehindRelay,
} from "./freshBuyerBehindRelay.js";
import { settleAtOnce } from "./settleAtOnce.js";
import { setSubscriptions, withSubscriptionsRestored } from "./subscriptionsRestored.js";

/**
 * Review fresh 2, MEDIUM-A and MEDIUM-B, on a real dev network: a node's `stack_closed` after its idle settlement is
 * not held against it, a quick close still is; a `stack_exhausted` backed by a receipt the node signs on the spot
 * against the client's own is a lie.
 */
describe("spent claims against a dev network (atoma dev, three nodes)", () => {
  const dev = devNetworkFixture(3);

  /** A cheapest-first client of the buyer, through the relay, on a network whose idle bound is `idleSeconds`. */
  const idleBoundClient = (
    idleSeconds: number,
    { account, fetch }: RelayedCheapest,
    onNodePutAside: DirectClientOptions["onNodePutAside"],
  ) =>
    createAtomaClient({
      network: JSON.stringify({ ...dev.ready, idleSeconds }),
      account,
      preferences: { sort: "price" },
      fetch,
      onNodePutAside,
    });

  it("does not put aside a node that settles a stack left idle past the network's idle bound", async () => {
    await withFreshBuyerBehindRelay(dev, async (actors) => {
      const { cheapest, key, relay } = actors;
      const closing = refuseStackAsClosed(relay);
      const putAside: string[] = [];
      // A network whose idle bound is 2 seconds (the default is the node's 1800).
      const client = idleBoundClient(2, actors, (_nodeId, reason) => putAside.push(reason));
      const first = await client.chat(ask(dev.ready.model, "Hello"));
      expect(first.atoma.node_id).toBe(cheapest.id);
      // Quiet past the bound: the honest node settles the idle stack and refuses it as closed.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await settleAtOnce(dev.readyText, key, BigInt(first.atoma.stack_id as string));
      closing.stack = first.atoma.stack_id as string;
      const next = await client.chat(ask(dev.ready.model, "Back again"));
      expect(putAside).toEqual([]);
      expect(next.atoma.stack_id).not.toBe(first.atoma.stack_id);
      expect(next.atoma.node_id).toBe(cheapest.id);
    });
  }, 180_000);

  it("still puts aside a node that settles a stack the client used within the idle bound", async () => {
    await withFreshBuyerBehindRelay(dev, async (actors) => {
      const { cheapest, key, relay } = actors;
      const closing = refuseStackAsClosed(relay);
      const putAside: bigint[] = [];
      const client = idleBoundClient(600, actors, (nodeId) => putAside.push(nodeId));
      const first = await client.chat(ask(dev.ready.model, "Hello"));
      expect(first.atoma.node_id).toBe(cheapest.id);
      await settleAtOnce(dev.readyText, key, BigInt(first.atoma.stack_id as string));
      closing.stack = first.atoma.stack_id as string;
      const next = await client.chat(ask(dev.ready.model, "Hello again"));
      expect(putAside).toEqual([BigInt(cheapest.id)]);
      expect(next.atoma.node_id).not.toBe(cheapest.id);
    });
  }, 180_000);

  it("puts aside a node that backs stack_exhausted with a second signature on the client's last leaf", async () => {
    await withFreshBuyerBehindRelay(dev, async ({ account, cheapest, key, relay, fetch }) => {
      const forged = refuseStackAsExhausted(relay);
      const putAside: { nodeId: bigint; reason: string }[] = [];
      const client = cheapestFirstClient(dev, {
        account,
        fetch,
        onNodePutAside: (nodeId, reason) => putAside.push({ nodeId, reason }),
      });
      const first = await client.chat(ask(dev.ready.model, "Hello"));
      expect(first.atoma.node_id).toBe(cheapest.id);
      // The node signs leaf 0 again on the spot, nearly the whole stack billed there, and calls the stack spent.
      const { fields } = parseReceipt(first.atoma);
      expect(fields.leafIndex).toBe(0n);
      const fake = { ...fields, units: 99_999n, cumulativeUnits: 99_999n };
      forged.refusal = await signedExhaustedRefusal(dev, cheapest.id, key, fake);
      forged.stack = first.atoma.stack_id as string;
      const answer = await client.chat(ask(dev.ready.model, "More"));
      expect(putAside.map((p) => p.nodeId)).toEqual([BigInt(cheapest.id)]);
      expect(putAside[0]?.reason).toMatch(/signed leaf 0 twice/);
      expect(answer.atoma.node_id).not.toBe(cheapest.id);
    });
  }, 180_000);

  it("puts aside a node that backs stack_exhausted with a receipt for a leaf past the stack's last", async () => {
    await withFreshBuyerBehindRelay(dev, async ({ account, cheapest, key, relay, fetch }) => {
      const forged = refuseStackAsExhausted(relay);
      const { client, putAside } = clientNotingPutAside(dev, { account, fetch });
      const first = await client.chat(ask(dev.ready.model, "Hello"));
      // A leaf 1 that continues leaf 0's running total, the stack's units all but spent: self-consistent, but the
      // owner never signed a request for leaf 1 (the refused request carries nonce 1).
      const { fields } = parseReceipt(first.atoma);
      const units = 99_999n - fields.cumulativeUnits;
      const fake = { ...fields, leafIndex: 1n, nonce: 1n, units, cumulativeUnits: 99_999n };
      forged.refusal = await signedExhaustedRefusal(dev, cheapest.id, key, fake);
      forged.stack = first.atoma.stack_id as string;
      const answer = await client.chat(ask(dev.ready.model, "More"));
      expect(putAside).toHaveLength(1);
      expect(putAside[0]).toMatch(/not the last leaf 0 below the refused request/);
      expect(answer.atoma.node_id).not.toBe(cheapest.id);
    });
  }, 180_000);

  // Review final 13, MEDIUM-1: a receipt the client refused (its running total inflated to the whole stack) shown
  // again as the signed last leaf of a stack_exhausted refusal proves nothing: the node lies, nothing is bought on it.
  it("puts aside a node that backs stack_exhausted with a receipt the client refused", async () => {
    await withFreshBuyerBehindRelay(dev, async ({ account, cheapest, key, relay, fetch }) => {
      const domain = atomaDomain(dev.ready.chainId, dev.ready.contracts.StackManager as Hex);
      let stack: string | undefined;
      let inflated: unknown;
      let exhausted = false;
      const ours = (path: string, headers: Record<string, string>) =>
        path.startsWith("/v1/chat") && stack !== undefined && headers["x-atoma-stack"] === stack;
      relay.rewrite = async (body, path, headers) => {
        if (!ours(path, headers)) return body;
        if (exhausted)
          return JSON.stringify({
            error: { message: "stack exhausted", type: "insufficient_quota", code: "stack_exhausted" },
            atoma: inflated,
          });
        // The node serves leaf 1 but signs a running total of nearly the whole stack.
        const answer = JSON.parse(body) as { atoma: unknown };
        const { fields } = parseReceipt(answer.atoma);
        const fake = {
          ...fields,
          units: 99_999n - fields.cumulativeUnits + fields.units,
          cumulativeUnits: 99_999n,
        };
        inflated = toReceipt(BigInt(cheapest.id), fake, await signResponse(key, domain, fake));
        return JSON.stringify({ ...answer, atoma: inflated });
      };
      relay.statusOf = (status, path, headers) => (exhausted && ours(path, headers) ? 402 : status);
      const { client, putAside } = clientNotingPutAside(dev, { account, fetch });
      const first = await client.chat(ask(dev.ready.model, "Hello"));
      expect(first.atoma.node_id).toBe(cheapest.id);
      stack = first.atoma.stack_id as string;
      await expect(client.chat(ask(dev.ready.model, "More"))).rejects.toThrow();
      expect(inflated).toBeDefined();
      exhausted = true;
      const answer = await client.chat(ask(dev.ready.model, "Again"));
      // Issue 13: the refused receipt put the node aside already, so its stack is never asked again.
      expect(putAside).toHaveLength(1);
      expect(putAside[0]).toMatch(/its receipt is refused/);
      expect(answer.atoma.node_id).not.toBe(cheapest.id);
    });
  }, 180_000);

  // Review sdk M-4: a client reusing a stack with no receipts at hand (every restart) follows the nonce the node names,
  // then believed any running total the node signed for the leaf below it, and the signed total was thrown away.
  // Review s13 MEDIUM-1: nothing at hand tells a lie from an honest node whose stack is used up, so the node is not
  // put aside; the stack is left and the signed total kept for the owner's index challenge.
  it("on a reused stack, keeps a stack_exhausted total nothing at hand backs and leaves the stack, the node not blamed", async () => {
    await withFreshBuyerBehindRelay(dev, async (actors) => {
      const { account, cheapest, key, relay, fetch } = actors;
      // The request at nonce 1 (the one the node named) on the reused stack is refused as exhausted, with a receipt
      // the node signs on the spot for leaf 0: the whole stack billed there.
      const forged = refuseStackAsExhausted(relay, "1");
      const { first, stack, fields } = await firstChatOnForgedStack(dev, actors, forged);
      expect(first.atoma.node_id).toBe(cheapest.id);
      const fake = { ...fields, units: 99_999n, cumulativeUnits: 99_999n };
      forged.refusal = await signedExhaustedRefusal(dev, cheapest.id, key, fake);
      // A restart: a new client of the same owner, no receipts at hand, reuses the stack.
      const kept: { shown: boolean; accepted: boolean; total: bigint }[] = [];
      const { client: restarted, putAside } = clientNotingPutAside(
        dev,
        { account, fetch },
        {
          onReceipt: (receipt, verdict) =>
            kept.push({
              shown: receipt.shown === true,
              accepted: verdict.accepted,
              total: receipt.fields.cumulativeUnits,
            }),
        },
      );
      const answer = await restarted.chat(ask(dev.ready.model, "More"));
      expect(putAside).toEqual([]);
      expect(kept).toContainEqual({ shown: true, accepted: false, total: 99_999n });
      expect(answer.atoma.stack_id).not.toBe(stack);
    });
  }, 180_000);

  // Review R4-4 (griefer): on a reused stack the node refuses as exhausted while the total it signs in the refusal
  // leaves room for the request; the client left the stack open and never used it again, the escrow locked until
  // expiry. The node's own signature contradicts it: put aside, and the stack closed at once.
  it("on a reused stack, closes the stack and puts aside a node whose own exhausted total leaves room", async () => {
    await withFreshBuyerBehindRelay(dev, async (actors) => {
      const { account, cheapest, key, relay, fetch } = actors;
      const forged = refuseStackAsExhausted(relay, "1");
      const { stack, fields } = await firstChatOnForgedStack(dev, actors, forged);
      // Its real last leaf, signed again: the stack still holds nearly all its units.
      forged.refusal = await signedExhaustedRefusal(dev, cheapest.id, key, fields);
      const { client: restarted, putAside } = clientNotingPutAside(dev, { account, fetch });
      const answer = await restarted.chat(ask(dev.ready.model, "More"));
      expect(answer.atoma.stack_id).not.toBe(stack);
      expect(putAside).toHaveLength(1);
      expect(putAside[0]).toMatch(/the running total it signed in its refusal, \d+, leaves \d+ of \d+ units/);
      const ctx = readContext(parseNetwork(dev.readyText));
      expect((await getStack(ctx, BigInt(stack))).closedAt).toBeGreaterThan(0n);
    });
  }, 180_000);

  // Review fresh 2, LOW-F: subscribers at a price no client pays raised every client's default level.
  it("takes the default level from the nodes that could serve the client, not from any price", async () => {
    const account = await fundedFreshBuyer(dev);
    const network = parseNetwork(dev.readyText);
    const chain = verifyChainOf(network);
    const taskId = BigInt(dev.ready.tasks.chat);
    const nodes = devNodeActors(dev);
    const absurd = 10n ** 24n;
    await withSubscriptionsRestored(nodes, taskId, async (before) => {
      // Every node of the verified task asks a price far above any client's cap (the default cap is 10 TOMA/M).
      await setSubscriptions(nodes, taskId, (k) => ({
        pricePerMillion: absurd,
        capacity: before[k]!.capacity,
      }));
      expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
      expect(await servingSecurityLevel(chain, dev.ready.model, { maxPricePerMillion: absurd - 1n })).toBe(0);
      // Issue 13: the client takes the level it can be served at, and says so.
      const lowered: unknown[] = [];
      const answer = await createAtomaClient({
        network: dev.readyText,
        account,
        onLowerLevel: (...args) => lowered.push(args),
      }).chat(ask(dev.ready.model, "Which level?"));
      expect(lowered).toEqual([[dev.ready.model, 0, 1]]);
      const stack = await getStack(readContext(network), BigInt(answer.atoma.stack_id as string));
      expect(stack.taskId).toBe(BigInt(dev.ready.tasks.chatUnverified));
      // At their own price, but with capacity for no stack a client buys: they do not raise its level either.
      await setSubscriptions(nodes, taskId, (k) => ({
        pricePerMillion: before[k]!.pricePerMillion,
        capacity: 1n,
      }));
      expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
      expect(await servingSecurityLevel(chain, dev.ready.model, { units: 100_000n })).toBe(0);
    });
  }, 180_000);
  // Review final 13, MEDIUM-2: tasks are free and a Subscribed log stays, so 64 newer served level-0 tasks filled the
  // window read for the level and pushed the verified task out: the default silently fell to level 0.
  it("keeps the verified level the default when 64 newer level-0 tasks are subscribed", async () => {
    const network = parseNetwork(dev.readyText);
    const chain = verifyChainOf(network);
    const spammer = userContext(network, mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 7 }));
    const nodes = devNodeActors(dev);
    expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
    for (let k = 0; k < 64; k++) {
      await createSubscribedTask(spammer, nodes[k % nodes.length]!, {
        modelId: modelIdOf(dev.ready.model),
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.None,
      });
    }
    expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
  }, 300_000);
});
