import { readdirSync } from "node:fs";
import { basename } from "node:path";
import {
  type AdoptedAuditBook,
  decodeStackState,
  encodeStackState,
  type KeptChallenge,
  type StackState,
  withClaims,
  withoutClaim,
} from "@atoma/sdk";
import { withFileLockSync, writeFileDurably } from "@atoma/sdk/node";
import { loadReceipts, receiptsFile, type StackHome } from "./receiptStore.js";
import { readStoreFile } from "./storeFile.js";

/**
 * Where the adopted-leaf audit of a stack keeps its challenges, beside the stack's receipts: the SDK's stack state
 * (`encodeStackState`, the shape its `StateStore` keeps) with only `challenges` and `audited` filled. Each challenge
 * is written as soon as its transaction is mined (review LOW: a revert further on loses none).
 */
export function auditFile(receiptsFile: string): string {
  return receiptsFile.replace(/\.json$/, ".audit.json");
}

/** The audit `file` keeps: empty when there is no file; `ChatStoreUnreadableError` when it does not read. */
function loadAudit(file: string): StackState {
  return (
    readStoreFile(file, "audit", (json) => decodeStackState(JSON.stringify(json))) ??
    decodeStackState(undefined)
  );
}

/**
 * Changes the audit file under its write lock, written durably (review of issue 13, MEDIUM-1: two processes auditing
 * one stack, or `atoma chat` beside `atoma stack audit-adopted`, each keep what they change).
 */
function updateAudit(file: string, change: (state: StackState) => StackState): void {
  withFileLockSync(file, () => writeFileDurably(file, `${encodeStackState(change(loadAudit(file)))}\n`));
}

/** Keeps (or updates, once resolved) one challenge of the stack whose receipts are in `receiptsFile`. */
export function keepAuditChallenge(receiptsFile: string, challenge: KeptChallenge): void {
  updateAudit(auditFile(receiptsFile), (state) => ({
    ...state,
    challenges: [...state.challenges.filter((c) => c.challengeId !== challenge.challengeId), challenge],
  }));
}

/** The stack ids with a receipts file in `dir` for the chain and StackManager of `home`. */
function stacksIn(dir: string, home: StackHome): bigint[] {
  const prefix = basename(receiptsFile(dir, home, 0n)).replace(/0\.json$/, "");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const id = name.startsWith(prefix)
      ? /^(\d{1,78})\.json$/.exec(name.slice(prefix.length))?.[1]
      : undefined;
    return id === undefined ? [] : [BigInt(id)];
  });
}

/**
 * The audit's book over `atoma chat`'s receipts directory: every stack of this chain whose receipts hold an adopted
 * leaf and whose audit is not over; its challenges kept in the stack's audit file.
 */
export function receiptsAuditBook(dir: string, home: StackHome): AdoptedAuditBook {
  const fileOf = (stackId: bigint) => receiptsFile(dir, home, stackId);
  return {
    // A stack whose files do not read (torn, edited) stays listed: its audit fails alone, its report naming the
    // file, and the other stacks' audits go on (review of issue 13, MEDIUM-1).
    stacks: async () =>
      stacksIn(dir, home).filter((stackId) => {
        try {
          return (
            loadReceipts(fileOf(stackId)).some((r) => r.adopted) &&
            loadAudit(auditFile(fileOf(stackId))).audited !== true
          );
        } catch {
          return true;
        }
      }),
    adopted: async (stackId) => loadReceipts(fileOf(stackId)),
    challenges: async (stackId) => loadAudit(auditFile(fileOf(stackId))).challenges,
    keepChallenge: async (stackId, challenge) => keepAuditChallenge(fileOf(stackId), challenge),
    unproven: async (stackId) => loadAudit(auditFile(fileOf(stackId))).unproven,
    keepUnproven: async (stackId, leaves) => {
      updateAudit(auditFile(fileOf(stackId)), (state) => ({ ...state, unproven: [...leaves] }));
    },
    // The challenge of a leaf claimed under the audit file's lock before it is sent: a second process auditing
    // the stack (`atoma chat` beside `atoma stack audit-adopted`) sees the claim and sends none (second review, I).
    claimChallenges: async (stackId, leaves) => {
      let claimed: string[] = [];
      updateAudit(auditFile(fileOf(stackId)), (state) => {
        const next = withClaims(state, leaves, Date.now());
        claimed = next.claimed;
        return next.state;
      });
      return claimed;
    },
    releaseClaim: async (stackId, leaf) => {
      updateAudit(auditFile(fileOf(stackId)), (state) => withoutClaim(state, leaf));
    },
    audited: async (stackId) => {
      updateAudit(auditFile(fileOf(stackId)), (state) => ({ ...state, audited: true }));
    },
  };
}
