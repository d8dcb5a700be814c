import { SecurityLevel, submitConsensusRequest } from "@atoma/chain";
import { type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { silentLogger } from "@atoma/core";
import { keccak256, stringToBytes, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consensusEventSources } from "../src/consensus/consensusEvents.js";
import { getDraw } from "../src/consensus/draws.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { IntegerColumnRangeError } from "../src/errors.js";
import { ChainListener } from "../src/listener/chainListener.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

const ECHELON = 2;
const MAX_UINT64 = (1n << 64n) - 1n;
const MAX_INT64 = (1n << 63n) - 1n;
/** One wei per million units: a request with maxUnits = 2^64-1 escrows about 1.8e13 wei, next to nothing. */
const PRICE = 1n;

/**
 * Review M3: `ConsensusRequests` takes any non-zero `uint64 maxUnits`, the node's integer columns hold int64. A
 * requester asks at maxUnits = 2^64-1 (cheap at a low price): the listener must record the request (clamped to
 * 2^63-1, which serves the same) and go on to every later event, on every dialect.
 */
describe("a consensus request with maxUnits = 2^64-1 through the contracts", () => {
  let network: Devnet;
  let nodes: DevNode[];
  let taskId: bigint;
  const requests: { requestId: bigint; maxUnits: bigint }[] = [];

  beforeAll(async () => {
    network = await startDevnet({
      echelons: [{ echelon: ECHELON, fingerprint: keccak256(stringToBytes("max units echelon")) }],
    });
    const { modelId } = await network.registerModel({ name: "atoma-tiny" });
    nodes = [await network.addNode({ echelon: ECHELON }), await network.addNode({ echelon: ECHELON })];
    taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.Consensus });
    for (const node of nodes) await network.subscribe(node, taskId, { pricePerMillion: PRICE });
    await network.nextEpoch();
    // the attack, then an ordinary request the listener must still reach
    for (const maxUnits of [MAX_UINT64, 200n]) {
      const { requestId } = await submitConsensusRequest(network.admin, {
        taskId,
        prompt: stringToHex(`max units ${maxUnits}`),
        n: 1,
        maxUnits,
        maxPricePerMillion: PRICE,
        echelon: ECHELON,
        callbackGas: 0,
      });
      requests.push({ requestId, maxUnits });
    }
  }, 240_000);
  afterAll(() => network?.stop(), 60_000);

  for (const factory of testDatabaseFactories()) {
    describe.skipIf(factory.skip !== undefined)(`on ${factory.name}`, () => {
      let testDb: TestDatabase;
      let state: StateDatabase;
      beforeAll(async () => {
        testDb = factory.make();
        state = await testDb.open();
      });
      afterAll(async () => {
        await state?.close();
        await testDb?.dispose();
      });

      it("records the oversized request clamped to 2^63-1 and handles the later one", {
        timeout: 60_000,
      }, async () => {
        const listener = new ChainListener(
          { db: state.db, client: network.admin.publicClient },
          {
            sources: consensusEventSources(network.deployment.addresses, nodes[0]!.nodeId, silentLogger),
            pollingIntervalMs: 20,
          },
        );
        const head = await network.admin.publicClient.getBlockNumber();
        while ((await listener.poll()) === true) {}
        expect(listener.nextBlock).toBe(head + 1n);
        const [oversized, ordinary] = requests;
        const big = await getDraw(state.db, oversized!.requestId);
        expect(big?.max_units).toBe(MAX_INT64);
        expect(typeof big?.max_units).toBe("bigint");
        expect((await getDraw(state.db, ordinary!.requestId))?.max_units).toBe(200n);
      });

      it.runIf(factory.name === "embedded")(
        "refuses an unclamped write of 2^64-1 to an integer column rather than storing a float",
        async () => {
          const write = state.db
            .insertInto("consensus_draws")
            .values({
              request_id: 999_999n,
              task_id: taskId,
              n: 1,
              prompt: "0x00",
              max_units: MAX_UINT64,
              draw_block: 1n,
              candidates: "",
            })
            .execute();
          await expect(write).rejects.toThrow(IntegerColumnRangeError);
          const update = state.db
            .updateTable("consensus_draws")
            .set({ draw_block: MAX_UINT64 })
            .where("request_id", "=", requests[1]!.requestId)
            .execute();
          await expect(update).rejects.toThrow(IntegerColumnRangeError);
          // uint256 ids in text columns still take any value
          expect(await getDraw(state.db, (1n << 255n) + 1n)).toBeUndefined();
        },
      );
    });
  }
});
