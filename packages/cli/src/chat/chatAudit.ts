import type { ChainContext } from "@atoma/chain";
import { auditAdoptedStacks, MAX_CHALLENGES_PER_RUN, type StackAuditReport } from "@atoma/sdk";
import { receiptsAuditBook } from "./auditStore.js";
import type { StackHome } from "./receiptStore.js";

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * `atoma chat`'s adopted-leaf audit, run at the start of every run with no one asking (issue 13's last review): each
 * stack of the receipts directory holding a leaf adopted from another client of the owner is audited once its node
 * settled it (`auditAdoptedStacks`), each challenge kept in the stack's audit file as it is mined, each one past its
 * answer deadline resolved. What it did goes to stderr; a failure is a warning, never the chat's.
 */
export async function auditAdoptedOnRun(
  ctx: ChainContext,
  dir: string,
  home: StackHome,
  fromBlock: bigint,
): Promise<StackAuditReport[]> {
  let reports: StackAuditReport[];
  try {
    reports = await auditAdoptedStacks(ctx, receiptsAuditBook(dir, home), { fromBlock });
  } catch (error) {
    process.stderr.write(`warning: the audit of adopted leaves failed: ${messageOf(error)}\n`);
    return [];
  }
  printAuditReports(reports);
  return reports;
}

/** What adopted-leaf audits did, a line each on stderr. */
export function printAuditReports(reports: readonly StackAuditReport[]): void {
  for (const report of reports) {
    const stack = `stack ${report.stackId}`;
    for (const c of report.opened)
      process.stderr.write(
        `audit: ${stack}'s settlement challenged with adopted leaf ${c.leafIndex} (challenge ${c.challengeId}, ${c.upheld ? "upheld at once" : `the node may answer until ${c.answerDeadline}`}): ${c.reason}\n`,
      );
    for (const r of report.resolved)
      process.stderr.write(
        `audit: ${stack}'s challenge ${r.challengeId} ${r.upheld ? `upheld: the node slashed ${r.slashed} wei of collateral` : "dismissed: the node proved the leaf"}\n`,
      );
    for (const u of report.unproven)
      process.stderr.write(
        `audit: ${stack}'s node gave no valid proof of adopted leaf ${u.receipt.fields.leafIndex} either way (${u.reason}): no bond taken; looked at again on the next run\n`,
      );
    for (const u of report.persistentlyUnproven)
      process.stderr.write(
        `audit: ${stack}'s node has given no valid proof of adopted leaf ${u.leafIndex} on ${u.runs} runs since ${new Date(u.since).toISOString()}: it keeps the evidence from you; raise it before the challenge window ends\n`,
      );
    for (const r of report.rejected ?? [])
      process.stderr.write(
        `warning: ${stack}'s kept files hold an adopted receipt that is not evidence (${r.reason}): left out of the audit; the files were changed by something other than atoma\n`,
      );
    if (report.deferred?.length)
      process.stderr.write(
        `audit: ${stack}: ${report.deferred.length} more adopted leaf challenge(s) left for the next run (at most ${MAX_CHALLENGES_PER_RUN} a run, two leaves at one index together)\n`,
      );
    for (const u of report.unresolved ?? [])
      process.stderr.write(
        `warning: ${stack}'s challenge ${u.challengeId} could not be resolved (${messageOf(u.error)}): tried again on the next run\n`,
      );
    if (report.error !== undefined)
      process.stderr.write(`warning: the audit of ${stack} failed: ${messageOf(report.error)}\n`);
  }
}
