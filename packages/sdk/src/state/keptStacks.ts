import type { SignedHash, StackClient, StackClientOptions } from "../StackClient.js";
import {
  adoptedStacksKey,
  decodeStackIds,
  decodeStackState,
  encodeStackIds,
  encodeStackState,
  type KeptChallenge,
  legacyStateKeys,
  type StackPlace,
  type StackState,
  stackStateKey,
  withChallenge,
  withClaims,
  withClaimsRefreshed,
  withoutClaim,
  withPending,
  withReceipt,
  withSigned,
  withUnread,
} from "./stackState.js";
import { type StateStore, type StateUpdates, stateUpdates } from "./stateStore.js";

type Kept = Pick<
  StackClientOptions,
  | "receipts"
  | "refused"
  | "pending"
  | "signedEarlier"
  | "unreadLeaves"
  | "onReceipt"
  | "onPending"
  | "onSigned"
  | "onUnreadLeaf"
>;

/**
 * One owner's stacks in a `StateStore` (MED-1): what a `StackClient` starts from (`load`, `clientOptions`) and what
 * it writes as it goes, each write done before the client relies on it (an adopted receipt before the next nonce is
 * signed, a request's hash before it is sent); and the list of stacks with adopted receipts whose audit is not over
 * (`adoptedStacks`), which the audit reads after a restart.
 */
export class KeptStacks {
  /** Names this instance's challenge claims (`withClaims`), so that it refreshes its own only. */
  readonly #claimant = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  readonly #updates: StateUpdates;
  constructor(
    readonly store: StateStore,
    readonly place: StackPlace,
  ) {
    this.#updates = stateUpdates(store);
  }

  #key(stackId: bigint): string {
    return stackStateKey(this.place, stackId);
  }

  async load(stackId: bigint): Promise<StackState> {
    return decodeStackState((await this.store.get(this.#key(stackId))) ?? (await this.#legacy(stackId)));
  }

  async update(stackId: bigint, change: (state: StackState) => StackState): Promise<StackState> {
    // Never written again under its old key: read once, outside the new key's lock.
    const legacy = await this.#legacy(stackId);
    return this.#updates.update(this.#key(stackId), (text) => {
      const state = change(decodeStackState(text ?? legacy));
      return { text: encodeStackState(state), value: state };
    });
  }

  /** What a release before the genesis hash kept for the stack, where it may be read (`legacyStateKeys`). */
  async #legacy(stackId: bigint): Promise<string | undefined> {
    const keys = legacyStateKeys(this.place);
    return keys ? await this.store.get(keys.stack(stackId)) : undefined;
  }

  /**
   * A client's options from the stack's kept `state`, and the callbacks that keep what it learns (`client()` is the
   * client built with them, read when its pending requests change). `also` is the caller's own `onReceipt`.
   */
  clientOptions(
    stackId: bigint,
    state: StackState,
    client: () => StackClient | undefined,
    also?: StackClientOptions["onReceipt"],
  ): Kept {
    const known = () => client()?.signedHashes ?? [];
    return {
      receipts: state.receipts.map((r) => r.receipt),
      refused: state.receipts.flatMap((r) =>
        r.refusedMaxUnits === undefined
          ? []
          : [{ signature: r.receipt.signature, maxUnits: r.refusedMaxUnits }],
      ),
      pending: state.pending,
      signedEarlier: state.signed,
      unreadLeaves: state.unread,
      onReceipt: async (receipt, verdict) => {
        await this.update(stackId, (s) =>
          withReceipt(s, receipt, verdict.accepted ? undefined : verdict.maxUnits),
        );
        if (receipt.adopted) await this.#listAdopted(stackId, true);
        await also?.(receipt, verdict);
      },
      onPending: async (pending) => {
        const hashes: SignedHash[] = [...known()];
        await this.update(stackId, (s) => withPending(s, pending, hashes));
      },
      onSigned: async (signed) => {
        await this.update(stackId, (s) => withSigned(s, signed));
      },
      onUnreadLeaf: async (leaf) => {
        await this.update(stackId, (s) => withUnread(s, leaf));
      },
    };
  }

  /** The stacks with adopted receipts whose audit is not over. */
  async adoptedStacks(): Promise<bigint[]> {
    return decodeStackIds((await this.store.get(this.#listKey())) ?? (await this.#legacyList()));
  }

  async #legacyList(): Promise<string | undefined> {
    const keys = legacyStateKeys(this.place);
    return keys ? await this.store.get(keys.adopted) : undefined;
  }

  /** A challenge the audit opened (or resolved), kept as soon as its transaction was mined. */
  async keepChallenge(stackId: bigint, challenge: KeptChallenge): Promise<void> {
    await this.update(stackId, (s) => withChallenge(s, challenge));
  }

  /**
   * Claims the challenges of `leaves` (their hashes) under the store's lock (`withClaims`): those this caller
   * sends; the others another process of the owner claimed (second review of issue 13, I).
   */
  async claimChallenges(stackId: bigint, leaves: readonly string[]): Promise<string[]> {
    let claimed: string[] = [];
    await this.update(stackId, (s) => {
      const next = withClaims(s, leaves, Date.now(), this.#claimant);
      claimed = next.claimed;
      return next.state;
    });
    return claimed;
  }

  /**
   * Stamps this instance's claims of `leaves` again (`withClaimsRefreshed`, review LOW-6), while their challenges are
   * being sent: those still held (a lapsed one another process took since is not to be sent).
   */
  async refreshClaims(stackId: bigint, leaves: readonly string[]): Promise<string[]> {
    let held: string[] = [];
    await this.update(stackId, (s) => {
      const next = withClaimsRefreshed(s, leaves, Date.now(), this.#claimant);
      held = next.held;
      return next.state;
    });
    return held;
  }

  /** Lets go of a claim (`claimChallenges`): its challenge is kept, or was not sent. */
  async releaseClaim(stackId: bigint, leaf: string): Promise<void> {
    await this.update(stackId, (s) => withoutClaim(s, leaf));
  }

  /** The audit of the stack is over: off the list. */
  async audited(stackId: bigint): Promise<void> {
    await this.update(stackId, (s) => ({ ...s, audited: true }));
    await this.#listAdopted(stackId, false);
  }

  #listKey(): string {
    return adoptedStacksKey(this.place);
  }

  async #listAdopted(stackId: bigint, on: boolean): Promise<void> {
    const legacy = await this.#legacyList();
    return this.#updates.update(this.#listKey(), (text) => {
      const ids = decodeStackIds(text ?? legacy).filter((id) => id !== stackId);
      return { text: encodeStackIds(on ? [...ids, stackId] : ids), value: undefined };
    });
  }
}
