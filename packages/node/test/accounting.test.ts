import { leafHash } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { freezeForSettlement } from "../src/accounting/freezeForSettlement.js";
import { releaseDanglingReservations } from "../src/accounting/releaseDanglingReservations.js";
import {
  findLeafByNonce,
  getStack,
  insertStack,
  listLeaves,
  recordSettleDeadline,
} from "../src/accounting/stacks.js";
import type { Reservation } from "../src/accounting/types.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import {
  DatabaseError,
  NonceOutOfOrderError,
  NonceReusedError,
  RequestInFlightError,
  ReservationNotFoundError,
  StackBusyError,
  StackClosedError,
  StackExhaustedError,
  StackExpiredError,
  StackNotServedError,
  UnitsExceedReservationError,
  UnknownStackError,
} from "../src/errors.js";
import { createNodeMetrics } from "../src/metrics/nodeMetrics.js";
import { addStack, leafFor, NODE_ID, OTHER_NODE_ID, OWNER } from "./helpers/stacks.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

/** The accounting compliance suite: the same assertions on every database dialect. */
for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(`accounting on ${factory.name}`, () => {
    let testDb: TestDatabase;
    let state: StateDatabase;
    let accounting: Accounting;

    beforeAll(async () => {
      testDb = factory.make();
      state = await testDb.open();
      accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
    });
    afterAll(async () => {
      await state?.close();
      await testDb?.dispose();
    });

    it("refuses a second opener of the same database while it is open", async () => {
      await expect(testDb.open()).rejects.toThrow(DatabaseError);
    });

    it("records stacks with uint256 ids and prices, once", async () => {
      const big = (1n << 255n) + 12345n;
      const stack = await addStack(state.db, {
        stackId: big,
        pricePerMillion: big - 1n,
        unitsBought: 2n ** 62n,
      });
      expect(await insertStack(state.db, stack)).toBe(false);
      expect(await getStack(state.db, big)).toEqual({
        ...stack,
        unitsReserved: 0n,
        unitsUsed: 0n,
        leafCount: 0n,
        state: "active",
      });
      expect((await getStack(state.db, big))?.owner).toBe(OWNER);
      expect(await getStack(state.db, big + 1n)).toBeUndefined();
    });

    it("reserves, then commits a leaf with the next index, the request's nonce and the running total", async () => {
      const { stackId } = await addStack(state.db);
      const first = await accounting.reserve({ stackId, units: 100n, nonce: 0n, deadline: 10n });
      expect((await getStack(state.db, stackId))?.unitsReserved).toBe(100n);
      const leaf0 = await accounting.commit(first, leafFor(0, 60n));
      const fields = {
        leafIndex: 0n,
        nonce: 0n,
        reqHash: leafFor(0, 60n).reqHash,
        respHash: leafFor(0, 60n).respHash,
        units: 60n,
        cumulativeUnits: 60n,
      };
      expect(leaf0).toEqual({ stackId, ...fields, seed: 0n, leafHash: leafHash(fields) });
      const second = await accounting.reserve({ stackId, units: 50n, nonce: 1n });
      const leaf1 = await accounting.commit(second, leafFor(1, 50n));
      expect([leaf1.leafIndex, leaf1.nonce, leaf1.cumulativeUnits]).toEqual([1n, 1n, 110n]);
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 0n,
        unitsUsed: 110n,
        leafCount: 2n,
      });
      const leaves = await listLeaves(state.db, stackId);
      expect(leaves.map((leaf) => leaf.leafIndex)).toEqual([0n, 1n]);
      expect(leaves[0]?.request).toEqual(leafFor(0, 60n).request);
      expect(leaves[1]).toMatchObject({ ...leaf1, nonce: 1n, request: leafFor(1, 50n).request });
    });

    it("records any JSON a leaf holds — NUL, control characters, unpaired surrogates — and reads it back exactly", async () => {
      const { stackId } = await addStack(state.db);
      const odd = 'a\u0000b\u0001c\ud800d\udc00e\u2028f😀\\"';
      const request = { body: { messages: [{ role: "user", content: odd }], [odd]: [odd, -0, 1e21] } };
      const response = { choices: [{ message: { content: odd } }], usage: { prompt_tokens: 1 } };
      const held = await accounting.reserve({ stackId, units: 10n, nonce: 0n });
      await accounting.commit(held, { ...leafFor(0, 5n), request, response });
      const [leaf] = await listLeaves(state.db, stackId);
      expect(leaf?.request).toEqual(JSON.parse(JSON.stringify(request)));
      expect((leaf!.request as typeof request).body.messages[0]!.content).toBe(odd);
      expect((leaf!.response as typeof response).choices[0]!.message.content).toBe(odd);
      expect((await findLeafByNonce(state.db, stackId, 0n))?.response).toEqual(response);
    });

    it("refuses unknown, foreign, expired, closed and exhausted stacks, holding nothing", async () => {
      await expect(accounting.reserve({ stackId: 999_999n, units: 1n, nonce: 0n })).rejects.toThrow(
        UnknownStackError,
      );
      const foreign = await addStack(state.db, { servingNodeId: OTHER_NODE_ID });
      await expect(accounting.reserve({ stackId: foreign.stackId, units: 1n, nonce: 0n })).rejects.toThrow(
        StackNotServedError,
      );
      const expired = await addStack(state.db, { expiresAt: BigInt(Math.floor(Date.now() / 1000) - 1) });
      await expect(accounting.reserve({ stackId: expired.stackId, units: 1n, nonce: 0n })).rejects.toThrow(
        StackExpiredError,
      );

      const small = await addStack(state.db, { unitsBought: 100n });
      await accounting.commit(await accounting.reserve({ stackId: small.stackId, units: 70n, nonce: 0n }), {
        ...leafFor(0, 70n),
      });
      const exhausted = await accounting
        .reserve({ stackId: small.stackId, units: 31n, nonce: 1n })
        .catch((e) => e);
      expect(exhausted).toBeInstanceOf(StackExhaustedError);
      expect((exhausted as StackExhaustedError).available).toBe(30n);
      // the refused request held nothing, and its nonce is still the next one
      expect((await getStack(state.db, small.stackId))?.unitsReserved).toBe(0n);
      await accounting.release(await accounting.reserve({ stackId: small.stackId, units: 30n, nonce: 1n }));

      const closed = await addStack(state.db);
      await freezeForSettlement(state.db, closed.stackId);
      await expect(accounting.reserve({ stackId: closed.stackId, units: 1n, nonce: 0n })).rejects.toThrow(
        StackClosedError,
      );
      await expect(accounting.reserve({ stackId: small.stackId, units: 0n, nonce: 1n })).rejects.toThrow(
        /units must be/,
      );
    });

    it("bills a signed request once: a used nonce is refused, on that stack only", async () => {
      const a = await addStack(state.db);
      const b = await addStack(state.db);
      await accounting.commit(
        await accounting.reserve({ stackId: a.stackId, units: 1n, nonce: 0n }),
        leafFor(0, 1n),
      );
      // A copy of request 0 (same nonce) cannot become another leaf.
      await expect(accounting.reserve({ stackId: a.stackId, units: 1n, nonce: 0n })).rejects.toThrow(
        NonceReusedError,
      );
      await accounting.reserve({ stackId: b.stackId, units: 1n, nonce: 0n });
      expect(await getStack(state.db, a.stackId)).toMatchObject({ unitsReserved: 0n, leafCount: 1n });
    });

    it("takes the owner's k-th request as leaf k only: any other nonce is refused with the one expected", async () => {
      const { stackId } = await addStack(state.db);
      const ahead = await accounting.reserve({ stackId, units: 1n, nonce: 1n }).catch((e) => e);
      expect(ahead).toBeInstanceOf(NonceOutOfOrderError);
      expect((ahead as NonceOutOfOrderError).next).toBe(0n);
      await expect(accounting.reserve({ stackId, units: 1n, nonce: 2n ** 200n })).rejects.toThrow(
        NonceOutOfOrderError,
      );
      await accounting.commit(await accounting.reserve({ stackId, units: 1n, nonce: 0n }), leafFor(0, 1n));
      const leaf = await accounting.commit(
        await accounting.reserve({ stackId, units: 1n, nonce: 1n }),
        leafFor(1, 1n),
      );
      expect([leaf.leafIndex, leaf.nonce]).toEqual([1n, 1n]);
      expect((await getStack(state.db, stackId))?.unitsReserved).toBe(0n);
    });

    it("records nonces of unit-free messages with their own replay rule", async () => {
      const { stackId } = await addStack(state.db);
      await accounting.useNonce({ stackId, nonce: 1n, deadline: 99n });
      await expect(accounting.useNonce({ stackId, nonce: 1n })).rejects.toThrow(NonceReusedError);
      await expect(accounting.useNonce({ stackId: 999_997n, nonce: 1n })).rejects.toThrow(UnknownStackError);
      const foreign = await addStack(state.db, { servingNodeId: OTHER_NODE_ID });
      await expect(accounting.useNonce({ stackId: foreign.stackId, nonce: 1n })).rejects.toThrow(
        StackNotServedError,
      );
    });

    it("keeps each nonce's leaf and response, so a resent request is answered without a second charge", async () => {
      const { stackId } = await addStack(state.db);
      const response = {
        object: "chat.completion",
        choices: [{ index: 0, text: "hi", finish_reason: "stop" }],
      };
      const leaf = await accounting.commit(await accounting.reserve({ stackId, units: 9n, nonce: 0n }), {
        ...leafFor(0, 9n),
        response,
      });
      const found = await findLeafByNonce(state.db, stackId, 0n);
      expect(found).toEqual({ ...leaf, nonce: 0n, request: leafFor(0, 9n).request, response });
      expect(await findLeafByNonce(state.db, stackId, 1n)).toBeUndefined();
      await accounting.commit(await accounting.reserve({ stackId, units: 1n, nonce: 1n }), leafFor(1, 1n));
      expect((await listLeaves(state.db, stackId))[1]).toMatchObject({ nonce: 1n, response: null });
    });

    it("releases once, a released reservation cannot commit, and its nonce is free again", async () => {
      const { stackId } = await addStack(state.db);
      const reservation = await accounting.reserve({ stackId, units: 10n, nonce: 0n });
      expect(await accounting.release(reservation)).toBe(true);
      expect(await accounting.release(reservation)).toBe(false);
      await expect(accounting.commit(reservation, leafFor(0, 1n))).rejects.toThrow(ReservationNotFoundError);
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 0n,
        unitsUsed: 0n,
        leafCount: 0n,
      });
      // The request failed before it was answered: the owner's next request takes nonce 0.
      const again = await accounting.commit(
        await accounting.reserve({ stackId, units: 1n, nonce: 0n }),
        leafFor(0, 1n),
      );
      expect(again.leafIndex).toBe(0n);
    });

    it("answers a reservation the database lost on an active stack as retryable, not as a closed stack", async () => {
      const { stackId } = await addStack(state.db);
      const reservation = await accounting.reserve({ stackId, units: 10n, nonce: 0n });
      // What a PostgreSQL crash does to a reservation committed without waiting for its flush: both rows rewound.
      await state.db.deleteFrom("reservations").where("reservation_id", "=", reservation.id).execute();
      await state.db
        .updateTable("stacks")
        .set({ units_reserved: 0n })
        .where("stack_id", "=", stackId)
        .execute();
      await expect(accounting.commit(reservation, leafFor(0, 1n))).rejects.toMatchObject({
        code: "reservation_lost",
      });
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 0n,
        unitsUsed: 0n,
        leafCount: 0n,
      });
      await accounting.release(reservation);
      const again = await accounting.commit(
        await accounting.reserve({ stackId, units: 1n, nonce: 0n }),
        leafFor(0, 1n),
      );
      expect(again.leafIndex).toBe(0n);
    });

    it("lets usage outgrow its reservation only within the stack, keeping the reservation when it cannot", async () => {
      const { stackId } = await addStack(state.db, { unitsBought: 100n });
      const a = await accounting.reserve({ stackId, units: 10n, nonce: 0n });
      expect((await accounting.commit(a, leafFor(0, 30n))).cumulativeUnits).toBe(30n);
      const b = await accounting.reserve({ stackId, units: 10n, nonce: 1n });
      await expect(accounting.commit(b, leafFor(1, 71n))).rejects.toThrow(UnitsExceedReservationError);
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 10n,
        unitsUsed: 30n,
        leafCount: 1n,
      });
      await accounting.commit(b, leafFor(1, 70n));
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 0n,
        unitsUsed: 100n,
        leafCount: 2n,
      });
    });

    it("commits a leaf only where the stack is as its reservation left it, changing nothing otherwise", async () => {
      const { stackId } = await addStack(state.db, { unitsBought: 100n });
      await accounting.commit(await accounting.reserve({ stackId, units: 10n, nonce: 0n }), leafFor(0, 7n));
      const held = await accounting.reserve({ stackId, units: 10n, nonce: 1n });
      expect(held.unitsUsedBefore).toBe(7n);
      // A reservation that claims another running total or another nonce cannot sign a leaf that disagrees
      // with the stack: the leaf's index and running total are fixed before the one-statement commit.
      for (const forged of [
        { ...held, unitsUsedBefore: 0n },
        { ...held, nonce: 2n },
      ])
        await expect(accounting.commit(forged, leafFor(1, 3n))).rejects.toThrow(ReservationNotFoundError);
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 10n,
        unitsUsed: 7n,
        leafCount: 1n,
      });
      expect(await listLeaves(state.db, stackId)).toHaveLength(1);
      const leaf = await accounting.commit(held, leafFor(1, 3n));
      expect([leaf.leafIndex, leaf.cumulativeUnits]).toEqual([1n, 10n]);
      expect((await listLeaves(state.db, stackId))[1]?.leafHash).toBe(leaf.leafHash);
    });

    it("serves one request at a time under many parallel attempts, and numbers leaves without gaps", async () => {
      const { stackId } = await addStack(state.db, { unitsBought: 200n });
      const attempts = await Promise.allSettled(
        Array.from({ length: 20 }, () => accounting.reserve({ stackId, units: 10n, nonce: 0n })),
      );
      const held = attempts.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
      const refused = attempts.flatMap((a) => (a.status === "rejected" ? [a.reason] : []));
      expect(held).toHaveLength(1);
      expect(refused.every((error) => error instanceof RequestInFlightError)).toBe(true);
      await accounting.commit(held[0]!, leafFor(0, 1n));
      for (let k = 1; ; k++) {
        const next = await accounting.reserve({ stackId, units: 10n, nonce: BigInt(k) }).catch((e) => e);
        if (next instanceof StackExhaustedError) break;
        await accounting.commit(next as Reservation, leafFor(k, BigInt(1 + (k % 10))));
      }
      const leaves = await listLeaves(state.db, stackId);
      expect(leaves.map((leaf) => leaf.leafIndex)).toEqual(leaves.map((_, k) => BigInt(k)));
      let total = 0n;
      for (const leaf of leaves) {
        total += leaf.units;
        expect([leaf.nonce, leaf.cumulativeUnits]).toEqual([leaf.leafIndex, total]);
      }
      expect(await getStack(state.db, stackId)).toMatchObject({ unitsReserved: 0n, unitsUsed: total });
      expect(total).toBeGreaterThan(190n);
    });

    it("freezes a stack for settlement only when nothing is in flight, idempotently", async () => {
      const { stackId } = await addStack(state.db);
      await accounting.commit(await accounting.reserve({ stackId, units: 5n, nonce: 0n }), leafFor(0, 5n));
      const inFlight = await accounting.reserve({ stackId, units: 5n, nonce: 1n });
      await expect(freezeForSettlement(state.db, stackId)).rejects.toThrow(StackBusyError);
      // closed to new requests at once, while the one in flight may still finish
      await expect(accounting.reserve({ stackId, units: 1n, nonce: 2n })).rejects.toThrow(StackClosedError);
      await accounting.commit(inFlight, leafFor(1, 4n));
      const snapshot = await freezeForSettlement(state.db, stackId);
      expect(snapshot.unitsClaimed).toBe(9n);
      expect(snapshot.leaves.map((leaf) => leaf.units)).toEqual([5n, 4n]);
      expect(snapshot.stack.state).toBe("settling");
      expect(await freezeForSettlement(state.db, stackId)).toEqual(snapshot);
      await expect(freezeForSettlement(state.db, 999_998n)).rejects.toThrow(UnknownStackError);
    });

    it("near the settlement deadline, freezes with what is committed: a request held open cannot stop it", async () => {
      const { stackId } = await addStack(state.db);
      await accounting.commit(await accounting.reserve({ stackId, units: 5n, nonce: 0n }), leafFor(0, 5n));
      // An owner's request that never finishes (a stream it never reads, say), then the owner closes the stack.
      const heldOpen = await accounting.reserve({ stackId, units: 50n, nonce: 1n });
      const deadline = BigInt(Math.floor(Date.now() / 1000)) + 600n;
      await recordSettleDeadline(state.db, stackId, deadline);
      await expect(
        freezeForSettlement(state.db, stackId, { nowSeconds: deadline - 120n, marginSeconds: 60n }),
      ).rejects.toThrow(StackBusyError);
      const snapshot = await freezeForSettlement(state.db, stackId, {
        nowSeconds: deadline - 59n,
        marginSeconds: 60n,
      });
      expect(snapshot.leaves.map((leaf) => leaf.units)).toEqual([5n]);
      expect(snapshot.unitsClaimed).toBe(5n);
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 0n,
        unitsUsed: 5n,
        leafCount: 1n,
      });
      // The given-up request can neither be recorded (no free leaf past the snapshot) nor released twice.
      await expect(accounting.commit(heldOpen, leafFor(1, 40n))).rejects.toThrow(ReservationNotFoundError);
      expect(await accounting.release(heldOpen)).toBe(false);
      expect(await freezeForSettlement(state.db, stackId)).toEqual(snapshot);
    });

    it("without a recorded close, takes expiry plus the least settlement window as the deadline", async () => {
      const expiresAt = BigInt(Math.floor(Date.now() / 1000)) + 3_600n;
      const { stackId } = await addStack(state.db, { expiresAt });
      await accounting.reserve({ stackId, units: 5n, nonce: 0n });
      await expect(freezeForSettlement(state.db, stackId, { nowSeconds: expiresAt - 1n })).rejects.toThrow(
        StackBusyError,
      );
      const snapshot = await freezeForSettlement(state.db, stackId, { nowSeconds: expiresAt });
      expect(snapshot.unitsClaimed).toBe(0n);
      expect((await getStack(state.db, stackId))?.unitsReserved).toBe(0n);
    });

    it("keeps everything across a restart and releases what requests in flight held", async () => {
      const { stackId } = await addStack(state.db, { unitsBought: 100n });
      await accounting.commit(await accounting.reserve({ stackId, units: 20n, nonce: 0n }), leafFor(0, 15n));
      await accounting.reserve({ stackId, units: 40n, nonce: 1n });
      await state.close();

      state = await testDb.open();
      accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
      expect(await getStack(state.db, stackId)).toMatchObject({ unitsReserved: 40n, unitsUsed: 15n });
      const released = await releaseDanglingReservations(state.db);
      expect(released.reservations).toBeGreaterThanOrEqual(1);
      expect(await getStack(state.db, stackId)).toMatchObject({
        unitsReserved: 0n,
        unitsUsed: 15n,
        leafCount: 1n,
      });
      // the dead request was never answered: its nonce is the next one again
      await expect(accounting.reserve({ stackId, units: 1n, nonce: 0n })).rejects.toThrow(NonceReusedError);
      const next = await accounting.commit(
        await accounting.reserve({ stackId, units: 85n, nonce: 1n }),
        leafFor(1, 85n),
      );
      expect([next.leafIndex, next.cumulativeUnits]).toEqual([1n, 100n]);
      await expect(accounting.reserve({ stackId, units: 1n, nonce: 2n })).rejects.toThrow(
        StackExhaustedError,
      );
    });

    it("keeps the units-reserved and units-used metrics", async () => {
      const metrics = createNodeMetrics({ processMetrics: false });
      const measured = new Accounting({ db: state.db, metrics }, { nodeId: NODE_ID });
      const { stackId } = await addStack(state.db);
      const a: Reservation = await measured.reserve({ stackId, units: 30n, nonce: 0n });
      expect((await metrics.unitsReserved.get()).values[0]?.value).toBe(30);
      await measured.commit(a, leafFor(0, 25n));
      const b = await measured.reserve({ stackId, units: 20n, nonce: 1n });
      expect((await metrics.unitsReserved.get()).values[0]?.value).toBe(20);
      await measured.release(b);
      expect((await metrics.unitsReserved.get()).values[0]?.value).toBe(0);
      expect((await metrics.unitsUsed.get()).values[0]?.value).toBe(25);
    });
  });

  if (factory.skip !== undefined) it.skip(factory.skip, () => {});
}
