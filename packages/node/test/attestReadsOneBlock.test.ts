import { getAttesters, getSettlement } from "@atoma/chain";
import type { PublicClient } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttestationEnv } from "../src/attestation/attestationEnv.js";
import { stepAttest } from "../src/attestation/attestDuty.js";
import { listOpenDuties } from "../src/attestation/duties.js";
import { TranscriptCache } from "../src/attestation/transcriptCache.js";
import { sharedVrfKeyKeeper } from "../src/attestation/vrfKey.js";
import { dutyEnvOf } from "../src/duties/dutyEnv.js";
import type { NodeSeat } from "../src/service/nodeSeat.js";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { serveAndSettle } from "./harness/servingNode.js";
import { StrategyBoard } from "./harness/strategies.js";

const Phase = { Commit: 1 } as const;

/**
 * The attester step reads the settlement and its attesters to decide what a pending duty needs. Read at two different
 * blocks (a load-balanced RPC whose replicas stand at different heights), the settlement can show the draw made while
 * the attesters' list is still the one before it: the step took the node for one the draw did not name and failed the
 * duty the listener had just opened for it (review LOW). The replica here is the real anvil, answering the reads it
 * is given at "latest" from the block before the settlement's draw: deterministic, not a timing.
 */
describe("an attester step reads the settlement and its attesters at one block", () => {
  let net: AttestNetwork;
  const board = new StrategyBoard();

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 5,
      sampleSize: 1,
      attesters: 2,
      strategyOf: (id) => board.strategyFor(id),
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  /**
   * The node's seat, on a replica that answers `lagged` reads made at "latest" from block `behind` (reads pinned to a
   * block are answered there).
   */
  const laggingSeat = (seat: NodeSeat, behind: bigint, lagged: (call: string) => boolean): NodeSeat => {
    const client = seat.publicClient as PublicClient;
    const publicClient = new Proxy(client, {
      get(target, property, receiver) {
        if (property === "readContract")
          return (args: Parameters<PublicClient["readContract"]>[0]) =>
            target.readContract(
              args.blockNumber === undefined && args.blockTag === undefined && lagged(args.functionName)
                ? { ...args, blockNumber: behind }
                : args,
            );
        if (property === "getBlock")
          return (args: Parameters<PublicClient["getBlock"]>[0] = {}) =>
            target.getBlock(
              args.blockNumber === undefined && lagged("getBlock") ? { blockNumber: behind } : args,
            );
        return Reflect.get(target, property, receiver);
      },
    });
    return { ...seat, publicClient } as NodeSeat;
  };

  /** An attester of a fresh settlement holding its pending duty (its strategy held back: it does not commit yet). */
  const drawnAttester = async () => {
    board.open = false;
    const before = await net.user.ctx.publicClient.getBlockNumber();
    const served = await serveAndSettle(net, 2, { engine: net.engine });
    const settledAt = (await net.user.ctx.publicClient.getBlockNumber()) as bigint;
    expect((await getSettlement(net.user.ctx, served.stackId)).phase).toBe(Phase.Commit);
    const nodeId = served.attesters.find((id) => id !== served.server.nodeId)!;
    const context = net.byId(nodeId).node.context;
    const duty = await eventually(async () => {
      const open = await listOpenDuties(context.db, { limit: 10_000 });
      return open.find((d) => d.kind === "attest" && d.stackId === served.stackId);
    }, "the listener to open the attester's duty");
    expect(duty.state).toBe("pending");
    expect(duty.eventBlock).toBe(settledAt);
    // The block before the draw: no settlement, no attesters.
    expect(await getAttesters(net.user.ctx, served.stackId, { blockNumber: settledAt - 1n })).toEqual([]);
    return { served, nodeId, context, duty, behind: settledAt - 1n, before };
  };
  const envOf = (context: ReturnType<typeof net.byId>["node"]["context"], seat: NodeSeat, nodeId: bigint) =>
    ({
      ...dutyEnvOf(context, "test"),
      seat,
      strategy: board.strategyFor(nodeId),
      lookbackBlocks: 100_000n,
      transcript: { maxBytes: 1 << 20, timeoutMs: 30_000, cache: new TranscriptCache(1 << 20) },
      taskModels: new Map(),
      vrfKeys: sharedVrfKeyKeeper(seat, context.account, context.logger),
    }) satisfies AttestationEnv;
  const stateOf = async (context: { db: AttestationEnv["db"] }, taskId: bigint) =>
    (
      await context.db
        .selectFrom("attestation_tasks")
        .select("state")
        .where("task_id", "=", taskId)
        .executeTakeFirstOrThrow()
    ).state;

  it("the attesters' list read behind the settlement does not fail the duty the draw just gave", async () => {
    const { nodeId, context, duty, behind } = await drawnAttester();
    // Only the attesters' list comes from the lagging replica: the settlement reads as drawn, the list as before it.
    const seat = laggingSeat(context.seat, behind, (call) => call === "attestersOf");
    await stepAttest(envOf(context, seat, nodeId), duty);
    expect(await stateOf(context, duty.taskId)).toBe("pending");
  }, 300_000);

  it("a step whose every read is behind the event that opened the duty leaves it for a later step", async () => {
    // The whole replica stands before the stack was even settled: the head the step pins its reads to is too.
    const { nodeId, context, duty, before } = await drawnAttester();
    const seat = laggingSeat(context.seat, before, () => true);
    expect((await getSettlement(seat, duty.stackId)).phase).toBe(0);
    await stepAttest(envOf(context, seat, nodeId), duty);
    expect(await stateOf(context, duty.taskId)).toBe("pending");
  }, 300_000);
});
