import { type AdoptedChallenge, auditAdoptedStacks } from "@atoma/sdk";
import type { Command } from "commander";
import { bigintOption } from "../amountOptions.js";
import { loadUserAccount, userContext } from "../chain/userChain.js";
import { auditFile, receiptsAuditBook } from "../chat/auditStore.js";
import { printAuditReports } from "../chat/chatAudit.js";
import { loadReceipts, receiptsDir, receiptsFile, stackHome } from "../chat/receiptStore.js";
import { printJson } from "../nodeConfigFile.js";
import { challengeableSettlement, challengeNetwork, isoTime, networkOption } from "./stackChallenge.js";

/**
 * `atoma stack audit-adopted <id>` (review H1 of the leaf adoption): once the stack is settled, every receipt
 * `atoma chat` adopted (another client's leaf, shown on `nonce_reused`) that the node proves under no settled root
 * is raised as a settlement challenge. Two clients of one owner each shown the other's leaf at one nonce leave one
 * of the two leaves unsettled: its node-signed receipt convicts the node once the answer deadline passes.
 */
export function registerStackAuditAdopted(stack: Command): void {
  stack
    .command("audit-adopted <id>")
    .description(
      "as its owner, once a stack is settled, challenge its settlement with every leaf atoma chat adopted that the settled root does not hold (a bond each: yours again, and the node slashed, when it cannot prove the leaf)",
    )
    .addOption(networkOption())
    .option("--key-file <file>", "the stack owner's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .option("--receipts <dir>", "where atoma chat kept the receipts (or ATOMA_RECEIPTS; ~/.atoma/receipts)")
    .action(async (id: string, flags: { network?: string; keyFile?: string; receipts?: string }) => {
      const stackId = bigintOption("stack id", 1n)(id);
      const network = challengeNetwork(flags.network);
      const account = loadUserAccount(flags.keyFile);
      const ctx = userContext(network, account);
      const { found } = await challengeableSettlement(ctx, account.address, stackId);
      const dir = receiptsDir(flags.receipts);
      const home = await stackHome(ctx.publicClient, network.contracts.StackManager);
      const file = receiptsFile(dir, home, stackId);
      const adopted = loadReceipts(file).filter((r) => r.adopted).length;
      const fromBlock = network.deploymentBlock === undefined ? undefined : BigInt(network.deploymentBlock);
      // The same audit `atoma chat` runs on its own, on this stack alone: each leaf's challenge claimed in the audit
      // file before it is sent (another process auditing the stack at once sends none for it), at most
      // MAX_CHALLENGES_PER_RUN bonds a run after checking they can be paid, kept receipts checked again first, and
      // challenges past their answer deadline resolved. Each challenge is kept as soon as it is mined.
      const book = { ...receiptsAuditBook(dir, home), stacks: async () => [stackId] };
      const [report] = await auditAdoptedStacks(ctx, book, { fromBlock });
      const printed = (c: AdoptedChallenge) => ({ ...c, answerDeadlineAt: isoTime(c.answerDeadline) });
      printJson({
        stackId,
        nodeId: found.nodeId,
        adopted,
        state: report!.state,
        challenges: report!.opened.map(printed),
        resolved: report!.resolved,
        unproven: report!.unproven.map((u) => ({ leafIndex: u.receipt.fields.leafIndex, reason: u.reason })),
        deferred: (report!.deferred ?? []).map((u) => ({ leafIndex: u.receipt.fields.leafIndex })),
        rejected: (report!.rejected ?? []).map((r) => ({ reason: r.reason })),
        keptIn: auditFile(file),
      });
      printAuditReports([report!]);
      const networkFlag = flags.network === undefined ? "" : ` --network ${flags.network}`;
      for (const c of report!.opened.filter((c) => !c.upheld))
        process.stderr.write(
          `node ${found.nodeId} has until ${isoTime(c.answerDeadline)} to prove adopted leaf ${c.leafIndex} under its root (${c.reason}); after that, unless it did: atoma stack resolve-challenge ${c.challengeId}${networkFlag} (or run this again)\n`,
        );
      if (report!.error !== undefined) throw report!.error;
    });
}
