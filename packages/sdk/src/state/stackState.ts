import type { Hex } from "viem";
import type { KeptReceipt, PendingRequest, SignedHash, UnreadLeaf } from "../StackClient.js";

/** A challenge the adopted-leaf audit opened, kept as soon as its transaction was mined. */
export interface KeptChallenge {
  leafIndex: bigint;
  challengeId: bigint;
  /** Upheld in the transaction that opened it (the leaf was past the settled count). */
  upheld: boolean;
  answerDeadline: bigint;
  /** Resolved since (upheld at its deadline, or answered by the node). */
  resolved?: true | undefined;
}

/**
 * A challenge the audit is about to send (second review of issue 13, I): recorded under the store's lock before
 * the transaction, so that another process auditing the stack from the same store sees it and sends none. `leaf`
 * is the leaf's hash; `at` when it was claimed (ms since the epoch): a claim whose process died before the challenge
 * was mined is taken again after a while (the chain is read first: a challenge that was sent is not sent again).
 */
export interface ChallengeClaim {
  leaf: string;
  at: number;
  /** Who claimed it (one `KeptStacks` each, at random): only that claimant refreshes it (review LOW-6). */
  by?: string | undefined;
}

/**
 * An adopted leaf the node proved neither way (`unproven`): on how many audit runs, since when (ms since the epoch).
 */
export interface UnprovenLeaf {
  leafIndex: bigint;
  runs: number;
  since: number;
}

/**
 * What a client keeps of one stack across restarts (MED-1 of issue 13's last review): every receipt the node signed
 * (adopted ones, another client's leaf, included), with the unit bound of those refused; the requests pending; the
 * hashes of every request signed past the last leaf held (refused and forgotten ones too: a leaf shown for one is
 * this owner's own, never adopted); the leaf reads that failed; and the audit's challenges.
 */
export interface StackState {
  receipts: { receipt: KeptReceipt; refusedMaxUnits?: bigint | undefined }[];
  pending: PendingRequest[];
  signed: SignedHash[];
  unread: UnreadLeaf[];
  challenges: KeptChallenge[];
  /** Adopted leaves the audit found unproven, run after run. */
  unproven: UnprovenLeaf[];
  /** Challenges being sent now (claimed, not yet kept in `challenges`). */
  claims?: ChallengeClaim[] | undefined;
  /** The audit found nothing left to do (the challenge window over, every challenge resolved). */
  audited?: true | undefined;
}

export const emptyStackState = (): StackState => ({
  receipts: [],
  pending: [],
  signed: [],
  unread: [],
  challenges: [],
  unproven: [],
});

/** Where an owner's stacks are: the chain (its id and its genesis block's hash), its StackManager and the owner. */
export interface StackPlace {
  chainId: number;
  /**
   * Block 0's hash: two chains of one id and one deployment (a dev chain started again, whose contracts land at the
   * same addresses) hold different stacks under the same ids, and one's state must never be read for the other's.
   */
  genesis: string;
  stackManager: string;
  owner: string;
}

export const placeKey = (p: StackPlace) =>
  `${p.chainId}:${p.genesis.toLowerCase()}:${p.stackManager.toLowerCase()}:${p.owner.toLowerCase()}`;

/** The key of one stack's state: the chain, the StackManager, the owner and the stack. */
export function stackStateKey(place: StackPlace, stackId: bigint): string {
  return `atoma-stack:${placeKey(place)}:${stackId}`;
}

/** The key of the list of an owner's stacks holding adopted receipts whose audit is not over. */
export function adoptedStacksKey(place: StackPlace): string {
  return `atoma-adopted-stacks:${placeKey(place)}`;
}

/**
 * The keys of releases before the genesis hash was part of them. On a local dev chain (id 31337) they are never read:
 * a chain started again there has the same id and addresses, so what they hold may be an earlier chain's. Elsewhere
 * a chain's id names one chain, and what they hold is read while the new key holds nothing.
 */
export function legacyStateKeys(
  place: StackPlace,
): { stack(stackId: bigint): string; adopted: string } | undefined {
  if (place.chainId === DEV_CHAIN_ID) return undefined;
  const where = `${place.chainId}:${place.stackManager.toLowerCase()}:${place.owner.toLowerCase()}`;
  return { stack: (stackId) => `atoma-stack:${where}:${stackId}`, adopted: `atoma-adopted-stacks:${where}` };
}

const DEV_CHAIN_ID = 31_337;

const big = (_: string, value: unknown) => (typeof value === "bigint" ? `${value}n` : value);
const unbig = (_: string, value: unknown) =>
  typeof value === "string" && /^\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value;

/** The state as text: bigints as `<decimal>n` strings. */
export function encodeStackState(state: StackState): string {
  return JSON.stringify(state, big);
}

/**
 * The state read back; an entry that is not what `encodeStackState` wrote throws (the owner's evidence is never
 * dropped silently: the caller sees the store is damaged).
 */
export function decodeStackState(text: string | undefined): StackState {
  if (text === undefined) return emptyStackState();
  const raw = JSON.parse(text, unbig) as Partial<StackState>;
  if (typeof raw !== "object" || raw === null || !Array.isArray(raw.receipts))
    throw new TypeError("the stack state entry is not what the SDK writes");
  return {
    receipts: raw.receipts,
    pending: raw.pending ?? [],
    signed: raw.signed ?? [],
    unread: raw.unread ?? [],
    challenges: raw.challenges ?? [],
    unproven: raw.unproven ?? [],
    ...(Array.isArray(raw.claims) && raw.claims.length > 0 && { claims: raw.claims }),
    ...(raw.audited === true && { audited: true as const }),
  };
}

/** The owner's stacks with adopted receipts not audited to the end, as kept under `adoptedStacksKey`. */
export function decodeStackIds(text: string | undefined): bigint[] {
  if (text === undefined) return [];
  const raw = JSON.parse(text) as unknown;
  if (!Array.isArray(raw) || raw.some((id) => typeof id !== "string" || !/^\d{1,78}$/.test(id)))
    throw new TypeError("the adopted stacks entry is not what the SDK writes");
  return raw.map((id: string) => BigInt(id));
}

export const encodeStackIds = (ids: readonly bigint[]) => JSON.stringify(ids.map(String));

/** The highest leaf a receipt held (not one kept only as evidence) stands at; -1 when none. */
const lastLeaf = (state: StackState) =>
  state.receipts.reduce(
    (last, { receipt }) =>
      !receipt.shown && receipt.fields.leafIndex > last ? receipt.fields.leafIndex : last,
    -1n,
  );

const sameHash = (a: Hex, b: Hex) => a.toLowerCase() === b.toLowerCase();

/** Adds a receipt (once, by signature); a refused one keeps the unit bound signed at its leaf. */
export function withReceipt(state: StackState, receipt: KeptReceipt, refusedMaxUnits?: bigint): StackState {
  if (state.receipts.some((r) => r.receipt.signature === receipt.signature)) return state;
  const receipts = [
    ...state.receipts,
    { receipt, ...(refusedMaxUnits !== undefined && { refusedMaxUnits }) },
  ];
  return pruned({ ...state, receipts });
}

/** Adds a request hash signed (once), before its request is sent. */
export function withSigned(state: StackState, signed: SignedHash): StackState {
  if (state.signed.some((s) => s.nonce === signed.nonce && sameHash(s.reqHash, signed.reqHash))) return state;
  return { ...state, signed: [...state.signed, signed] };
}

/**
 * The requests pending as one client sees them (`pending`, of the hashes it knows: `known`), merged with those another
 * client of the owner kept under the same key: another's entry stays until a receipt stands at its leaf; one this
 * client knows and holds no longer (answered, refused, adopted past) goes.
 */
export function withPending(
  state: StackState,
  pending: readonly PendingRequest[],
  known: readonly SignedHash[],
): StackState {
  const mine = (p: PendingRequest) =>
    known.some((k) => k.nonce === p.signed.nonce && sameHash(k.reqHash, p.signed.reqHash)) ||
    pending.some((q) => q.signed.nonce === p.signed.nonce && sameHash(q.signed.reqHash, p.signed.reqHash));
  const others = state.pending.filter((p) => !mine(p));
  return pruned({ ...state, pending: [...pending, ...others] });
}

/** A leaf read's failures (`failures: 0`: read since, forgotten). */
export function withUnread(state: StackState, leaf: UnreadLeaf): StackState {
  const unread = state.unread.filter((u) => u.nonce !== leaf.nonce);
  return { ...state, unread: leaf.failures > 0 ? [...unread, leaf] : unread };
}

/** A challenge opened (kept once its transaction is mined), or the same one resolved since. */
export function withChallenge(state: StackState, challenge: KeptChallenge): StackState {
  const challenges = state.challenges.filter((c) => c.challengeId !== challenge.challengeId);
  return { ...state, challenges: [...challenges, challenge] };
}

/** Pending requests and hashes at or below the last leaf held: no leaf there is adopted or resent any more. */
function pruned(state: StackState): StackState {
  const last = lastLeaf(state);
  return {
    ...state,
    pending: state.pending.filter((p) => p.signed.nonce > last),
    signed: state.signed.filter((s) => s.nonce > last),
  };
}

/**
 * How long a claim stands for a process that may still be sending it, unless refreshed (`withClaimsRefreshed`, done
 * while the audit runs): longer than a challenge takes to be mined.
 */
export const CLAIM_STANDS_MS = 5 * 60_000;

/**
 * How far in the future a claim may be stamped and still stand (review LOW-6): clocks of hosts sharing the store
 * differ a little; one stamped further ahead (a skewed clock) would otherwise stand that much longer than
 * `CLAIM_STANDS_MS`, past the challenge window if its process died.
 */
export const CLAIM_SKEW_MS = 30_000;

const stands = (claim: ChallengeClaim, now: number) =>
  now - claim.at < CLAIM_STANDS_MS && claim.at - now <= CLAIM_SKEW_MS;

/**
 * Claims the challenges of `leaves` (their hashes) at once, in one update of the state: `claimed` those no other
 * process (or client) claimed less than `CLAIM_STANDS_MS` ago (nor stamped more than `CLAIM_SKEW_MS` ahead). Claimed
 * together, two processes never split one stack's challenges between them (each would then send from the owner's
 * account at once). `by` names the claimant, for `withClaimsRefreshed`.
 */
export function withClaims(
  state: StackState,
  leaves: readonly string[],
  now: number,
  by?: string,
): { state: StackState; claimed: string[] } {
  const standing = (state.claims ?? []).filter((c) => stands(c, now));
  const taken = new Set(standing.map((c) => c.leaf));
  const claimed = [...new Set(leaves.map((l) => l.toLowerCase()))].filter((l) => !taken.has(l));
  if (claimed.length === 0) return { state, claimed };
  return {
    state: {
      ...state,
      claims: [...standing, ...claimed.map((leaf) => ({ leaf, at: now, ...(by && { by }) }))],
    },
    claimed,
  };
}

/**
 * `by`'s standing claims of `leaves` stamped `now` again (review LOW-6: a run longer than `CLAIM_STANDS_MS` keeps
 * them); `held` those still `by`'s. A claim that lapsed and was taken by another claimant is not: not to be sent.
 */
export function withClaimsRefreshed(
  state: StackState,
  leaves: readonly string[],
  now: number,
  by: string,
): { state: StackState; held: string[] } {
  const wanted = new Set(leaves.map((l) => l.toLowerCase()));
  const held: string[] = [];
  const claims = (state.claims ?? []).map((c) => {
    if (!wanted.has(c.leaf) || c.by !== by || !stands(c, now)) return c;
    held.push(c.leaf);
    return { ...c, at: now };
  });
  return { state: held.length === 0 ? state : { ...state, claims }, held };
}

/** The claim of `leaf` let go (its challenge kept, or not sent after all). */
export function withoutClaim(state: StackState, leaf: string): StackState {
  const claims = (state.claims ?? []).filter((c) => c.leaf !== leaf.toLowerCase());
  const { claims: _, ...rest } = state;
  return claims.length === 0 ? rest : { ...rest, claims };
}
