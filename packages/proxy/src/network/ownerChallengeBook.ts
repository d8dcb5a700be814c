import type { GatewayDb } from "../db/openGatewayDatabase.js";
import type { OwnerChallengeState } from "../db/schema.js";
import type { OwnChallenge } from "./ownChallengeLogs.js";

/** An owner challenge, by what it challenges: one per stack, kind and leaf index. */
export interface ChallengeKey {
  kind: "receipt" | "index";
  leafIndex: bigint;
}

/** An open challenge of the gateway's, followed until it is resolved. */
export interface FollowedChallenge extends ChallengeKey {
  challengeId: bigint;
  stackId: bigint;
  nodeId: bigint;
  answerDeadline: bigint;
  /** The block it opened in: its answer is read from there. */
  openedAt: bigint;
}

/** A challenge sent whose id is not known yet (its transaction outlived its wait, or the gateway died). */
export interface SentChallenge extends ChallengeKey {
  stackId: bigint;
  sentBlock: bigint;
}

/** The states that count a challenge as made (not to be sent again). */
const MADE: OwnerChallengeState[] = ["sending", "open", "closed", "refused"];

/** `kind:leafIndex`, as the watcher names a challenge of a stack. */
export const keyOf = (key: ChallengeKey): string => `${key.kind}:${key.leafIndex}`;

/**
 * The owner challenges the gateway's watcher sent, in its database (review rev W-2, W-3): each is written before
 * its transaction goes out, so a restart neither sends it twice nor forgets one left open, however long ago it
 * opened. Gateways sharing a database share a wallet, and so these rows.
 */
export class OwnerChallengeBook {
  readonly #db: GatewayDb;
  readonly #now: () => number;

  constructor(db: GatewayDb, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** No challenge kept yet (a database from before they were kept, or a wallet that never challenged). */
  async isEmpty(): Promise<boolean> {
    const row = await this.#db.selectFrom("owner_challenges").select("stack_id").limit(1).executeTakeFirst();
    return row === undefined;
  }

  /** The challenges of the stack made (sent, open, resolved or refused for good), as `kind:leafIndex`. */
  async madeOn(stackId: bigint): Promise<Set<string>> {
    const rows = await this.#db
      .selectFrom("owner_challenges")
      .select(["kind", "leaf_index"])
      .where("stack_id", "=", stackId)
      .where("state", "in", MADE)
      .execute();
    return new Set(rows.map((row) => keyOf({ kind: row.kind, leafIndex: row.leaf_index })));
  }

  /**
   * Before their transaction goes out: claims each as `sending` from block `sentBlock` (a failed one again), and
   * says which this caller won (review rev3 W3-1). One claim per challenge, atomically: gateways sharing the database
   * each run the watcher, and a receipt challenge sent twice opens a second bond on the leaf (the chain refuses a
   * leaf only once proven). Only the challenges returned may be sent; the others are another's, or made already.
   */
  async sending<K extends ChallengeKey>(
    stack: { stackId: bigint; nodeId: bigint },
    keys: readonly K[],
    sentBlock: bigint,
  ): Promise<K[]> {
    if (keys.length === 0) return [];
    const at = this.#now();
    const won = await this.#db
      .insertInto("owner_challenges")
      .values(
        keys.map((key) => ({
          stack_id: stack.stackId,
          kind: key.kind,
          leaf_index: key.leafIndex,
          node_id: stack.nodeId,
          state: "sending" as const,
          sent_block: sentBlock,
          updated_at_ms: at,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(["stack_id", "kind", "leaf_index"])
          // The block it was first sent at is kept: a transaction of an earlier send may still land.
          .doUpdateSet({ state: "sending", updated_at_ms: at })
          .where("owner_challenges.state", "=", "failed"),
      )
      .returning(["kind", "leaf_index"])
      .execute();
    const claimed = new Set(won.map((row) => keyOf({ kind: row.kind, leafIndex: row.leaf_index })));
    return keys.filter((key) => claimed.has(keyOf(key)));
  }

  /** The chain refused their transaction (nothing of it was made): they are sent again at a later pass. */
  async failed(stackId: bigint, keys: readonly ChallengeKey[]): Promise<void> {
    for (const key of keys) await this.#set(stackId, key, "failed", ["sending"]);
  }

  /**
   * The chain refused one for good. `made`: as already made (its id is looked for in the logs from the block it
   * was last sent at, or from `sentBlock` when no row had it); else refused (never sent again).
   */
  async refused(
    stack: { stackId: bigint; nodeId: bigint },
    key: ChallengeKey,
    made: boolean,
    sentBlock: bigint,
  ): Promise<void> {
    const at = this.#now();
    const state: OwnerChallengeState = made ? "sending" : "refused";
    await this.#db
      .insertInto("owner_challenges")
      .values({
        stack_id: stack.stackId,
        kind: key.kind,
        leaf_index: key.leafIndex,
        node_id: stack.nodeId,
        state,
        sent_block: sentBlock,
        updated_at_ms: at,
      })
      .onConflict((oc) =>
        oc
          .columns(["stack_id", "kind", "leaf_index"])
          .doUpdateSet({ state, updated_at_ms: at })
          .where("owner_challenges.state", "in", ["sending", "failed"]),
      )
      .execute();
  }

  /** Refused for good, unless its id was found meanwhile (it is then followed). */
  async refusedIfUnknown(stackId: bigint, key: ChallengeKey): Promise<void> {
    await this.#set(stackId, key, "refused", ["sending", "failed"]);
  }

  /** Made, its id known (from its transaction or the logs): followed while open, else closed. */
  async made(challenge: OwnChallenge): Promise<void> {
    const at = this.#now();
    const state: OwnerChallengeState = challenge.open ? "open" : "closed";
    const fields = {
      state,
      challenge_id: challenge.challengeId,
      answer_deadline: challenge.answerDeadline,
      opened_at: challenge.openedAt,
      updated_at_ms: at,
    };
    await this.#db
      .insertInto("owner_challenges")
      .values({
        stack_id: challenge.stackId,
        kind: challenge.kind,
        leaf_index: challenge.leafIndex,
        node_id: challenge.nodeId,
        sent_block: challenge.openedAt,
        ...fields,
      })
      .onConflict((oc) =>
        oc
          .columns(["stack_id", "kind", "leaf_index"])
          .doUpdateSet(fields)
          .where("owner_challenges.state", "in", ["sending", "failed", "refused"]),
      )
      .execute();
  }

  /** Every challenge still open, whatever its stack's age (review rev W-3). */
  async open(): Promise<FollowedChallenge[]> {
    const rows = await this.#db
      .selectFrom("owner_challenges")
      .selectAll()
      .where("state", "=", "open")
      .orderBy("answer_deadline")
      .execute();
    return rows.map((row) => ({
      challengeId: row.challenge_id ?? 0n,
      stackId: row.stack_id,
      nodeId: row.node_id,
      kind: row.kind,
      leafIndex: row.leaf_index,
      answerDeadline: row.answer_deadline ?? 0n,
      openedAt: row.opened_at ?? row.sent_block,
    }));
  }

  /** Challenges sent whose id is not known yet. */
  async unknown(): Promise<SentChallenge[]> {
    const rows = await this.#db
      .selectFrom("owner_challenges")
      .select(["stack_id", "kind", "leaf_index", "sent_block"])
      .where("state", "=", "sending")
      .orderBy("sent_block")
      .execute();
    return rows.map((row) => ({
      stackId: row.stack_id,
      kind: row.kind,
      leafIndex: row.leaf_index,
      sentBlock: row.sent_block,
    }));
  }

  /** The challenge was resolved. */
  async closed(challengeId: bigint): Promise<void> {
    await this.#db
      .updateTable("owner_challenges")
      .set({ state: "closed", updated_at_ms: this.#now() })
      .where("challenge_id", "=", challengeId)
      .execute();
  }

  async #set(
    stackId: bigint,
    key: ChallengeKey,
    state: OwnerChallengeState,
    from: OwnerChallengeState[],
  ): Promise<void> {
    await this.#db
      .updateTable("owner_challenges")
      .set({ state, updated_at_ms: this.#now() })
      .where("stack_id", "=", stackId)
      .where("kind", "=", key.kind)
      .where("leaf_index", "=", key.leafIndex)
      .where("state", "in", from)
      .execute();
  }
}
