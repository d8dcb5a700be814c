import type { ChainContext } from "@atoma/chain/portable";
import { ClientArgumentError } from "../errors.js";
import type { KeptStacks } from "../state/keptStacks.js";
import { type AdoptedAuditBook, auditAdoptedStacks } from "../verify/adoptedAuditRun.js";
import type { DirectClientOptions } from "./atomaClient.js";

const DEFAULT_EVERY_MS = 60_000;

/** The audit's book over the SDK's own store (`KeptStacks`). */
export function keptStacksBook(kept: KeptStacks): AdoptedAuditBook {
  return {
    stacks: () => kept.adoptedStacks(),
    adopted: async (stackId) => (await kept.load(stackId)).receipts.map((r) => r.receipt),
    challenges: async (stackId) => (await kept.load(stackId)).challenges,
    keepChallenge: (stackId, challenge) => kept.keepChallenge(stackId, challenge),
    audited: (stackId) => kept.audited(stackId),
    unproven: async (stackId) => (await kept.load(stackId)).unproven,
    keepUnproven: async (stackId, leaves) => {
      await kept.update(stackId, (s) => ({ ...s, unproven: [...leaves] }));
    },
    claimChallenges: (stackId, leaves) => kept.claimChallenges(stackId, leaves),
    refreshClaims: (stackId, leaves) => kept.refreshClaims(stackId, leaves),
    releaseClaim: (stackId, leaf) => kept.releaseClaim(stackId, leaf),
  };
}

/**
 * Direct mode's adopted-leaf audit with no one calling it: `touched` (each call the client makes) starts a run in
 * the background at most once per `everyMs`, and `watchMs` runs one on a timer until `signal` aborts; never two at
 * once. Each run's reports (or its failure) go to `onAdoptedAudit`; a run never fails a call.
 */
export function adoptedAuditor(
  context: () => Promise<{ ctx: ChainContext; kept: KeptStacks; fromBlock: bigint }>,
  options: Pick<DirectClientOptions, "adoptedAudit" | "onAdoptedAudit">,
  fetcher: typeof fetch,
): { touched: () => void } {
  const settings = options.adoptedAudit;
  if (settings === false) return { touched: () => undefined };
  checkAuditSettings(settings);
  const everyMs = settings?.everyMs ?? DEFAULT_EVERY_MS;
  let running: Promise<void> | undefined;
  let lastAt = Number.NEGATIVE_INFINITY;
  const run = () => {
    if (running || settings?.signal?.aborted) return;
    lastAt = Date.now();
    running = (async () => {
      try {
        const { ctx, kept, fromBlock } = await context();
        // Nothing adopted: nothing read from the chain.
        if ((await kept.adoptedStacks()).length === 0) return;
        const reports = await auditAdoptedStacks(ctx, keptStacksBook(kept), {
          fetch: fetcher,
          fromBlock,
          escalation: settings?.unprovenEscalation,
        });
        options.onAdoptedAudit?.(reports);
      } catch (error) {
        options.onAdoptedAudit?.([], error);
      } finally {
        running = undefined;
      }
    })();
  };
  if (settings?.watchMs !== undefined) {
    const timer = setInterval(run, settings.watchMs);
    // A watcher alone never keeps a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    settings.signal?.addEventListener("abort", () => clearInterval(timer), { once: true });
  }
  return {
    touched: () => {
      if (Date.now() - lastAt >= everyMs) run();
    },
  };
}

/** The audit's settings, checked before anything is signed or sent (`ClientArgumentError`). */
function checkAuditSettings(settings: DirectClientOptions["adoptedAudit"]): void {
  if (settings === undefined) return;
  if (typeof settings !== "object" || settings === null)
    throw new ClientArgumentError("adoptedAudit takes false or { everyMs, watchMs, signal }");
  const { everyMs, watchMs } = settings;
  if (everyMs !== undefined && !(Number.isSafeInteger(everyMs) && everyMs >= 0))
    throw new ClientArgumentError("adoptedAudit.everyMs must be a whole number of milliseconds, at least 0");
  if (watchMs !== undefined && !(Number.isSafeInteger(watchMs) && watchMs >= 100))
    throw new ClientArgumentError(
      "adoptedAudit.watchMs must be a whole number of milliseconds, at least 100",
    );
}
