import { readCommittee } from "@atoma/chain";
import type { PublicClient } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttestationEnv } from "../src/attestation/attestationEnv.js";
import { stepCommittee } from "../src/attestation/committeeDuty.js";
import { listOpenDuties } from "../src/attestation/duties.js";
import { TranscriptCache } from "../src/attestation/transcriptCache.js";
import { sharedVrfKeyKeeper } from "../src/attestation/vrfKey.js";
import { dutyEnvOf } from "../src/duties/dutyEnv.js";
import type { NodeSeat } from "../src/service/nodeSeat.js";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { drawnCommittee, reveal, serveAndSettle } from "./harness/servingNode.js";
import { StrategyBoard } from "./harness/strategies.js";

const Phase = { Reveal: 2 } as const;

/**
 * The committee step reads the dispute and its committee to decide what a member's duty needs. Read at two different
 * blocks (a load-balanced RPC whose replicas stand at different heights), the dispute can show drawn while the
 * committee is still the empty one before the draw: the step took the member for a node never seated and forgot
 * the duty the draw had just given it (it would then miss the vote and pay the timeout share; review LOW-1). The
 * replica here is the real anvil, answering `committeeOf` at "latest" from the block before the draw.
 */
describe("a committee step reads the dispute and its committee at one block", () => {
  let net: AttestNetwork;
  const board = new StrategyBoard();

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 7,
      sampleSize: 1,
      attesters: 2,
      parameters: { dispute: { committeeSize: 1, minCommittee: 1 } },
      strategyOf: (id) => board.strategyFor(id),
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

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
        return Reflect.get(target, property, receiver);
      },
    });
    return { ...seat, publicClient } as NodeSeat;
  };

  it("the committee read behind the dispute does not forget the seat the draw just gave", async () => {
    const served = await serveAndSettle(net, 2, { engine: net.engine, tamper: () => true });
    await eventually(
      async () =>
        (await net.deployment.contracts.settlementManager.read.getSettlement([served.stackId])).phase ===
        Phase.Reveal
          ? true
          : undefined,
      "the attesters to commit",
    );
    // The members hold back their votes: the duty stays pending while the test steps it.
    board.open = false;
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error(`expected a dispute, got ${revealed.outcome}`);
    const { disputeId } = revealed;
    await net.advance(1);
    const [memberId] = await drawnCommittee(net, disputeId);
    const context = net.byId(memberId!).node.context;
    const duty = await eventually(async () => {
      const open = await listOpenDuties(context.db, { limit: 10_000 });
      return open.find((d) => d.kind === "committee" && d.round === disputeId);
    }, "the listener to open the member's duty");
    // The last block whose committee is still empty: the lagging replica's "latest".
    let behind = (await net.user.ctx.publicClient.getBlockNumber()) as bigint;
    while ((await readCommittee(net.user.ctx, disputeId, { blockNumber: behind })).length > 0) behind -= 1n;
    const seat = laggingSeat(context.seat, behind, (call) => call === "committeeOf");
    expect(await readCommittee(seat, disputeId)).toEqual([]);
    const env = {
      ...dutyEnvOf(context, "test"),
      seat,
      strategy: board.strategyFor(memberId!),
      lookbackBlocks: 100_000n,
      transcript: { maxBytes: 1 << 20, timeoutMs: 30_000, cache: new TranscriptCache(1 << 20) },
      taskModels: new Map(),
      vrfKeys: sharedVrfKeyKeeper(seat, context.account, context.logger),
    } satisfies AttestationEnv;
    await stepCommittee(env, duty);
    const row = await context.db
      .selectFrom("attestation_tasks")
      .select("state")
      .where("task_id", "=", duty.taskId)
      .executeTakeFirst();
    expect(row?.state).toBe("pending");
  }, 300_000);
});
