import { getNode } from "@atoma/chain";
import { AdoptedAuditInterruptedError, type AdoptedChallenge, challengeAdoptedNotSettled } from "@atoma/sdk";
import type { Command } from "commander";
import { bigintOption } from "../amountOptions.js";
import { loadUserAccount, userContext } from "../chain/userChain.js";
import { auditFile, keepAuditChallenge } from "../chat/auditStore.js";
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
      const file = receiptsFile(
        receiptsDir(flags.receipts),
        await stackHome(ctx.publicClient, network.contracts.StackManager),
        stackId,
      );
      const receipts = loadReceipts(file).filter((r) => r.adopted);
      const node = await getNode(ctx, found.nodeId);
      const fromBlock = network.deploymentBlock === undefined ? undefined : BigInt(network.deploymentBlock);
      const printed = (c: AdoptedChallenge) => ({ ...c, answerDeadlineAt: isoTime(c.answerDeadline) });
      // Each challenge is kept beside the receipts as soon as it is mined: a revert further on loses none of them.
      const keep = (c: AdoptedChallenge) =>
        keepAuditChallenge(file, {
          leafIndex: c.leafIndex,
          challengeId: c.challengeId,
          upheld: c.upheld,
          answerDeadline: c.answerDeadline,
          ...(c.upheld && { resolved: true as const }),
        });
      const audited = await challengeAdoptedNotSettled(ctx, {
        stackId,
        receipts,
        nodeUrl: node.url,
        fromBlock,
        onOpened: keep,
      }).catch((error: unknown) => {
        if (!(error instanceof AdoptedAuditInterruptedError)) throw error;
        // Partial progress: what was opened before the failure, then the failure itself.
        printJson({
          stackId,
          nodeId: found.nodeId,
          adopted: receipts.length,
          challenges: error.opened.map(printed),
          keptIn: auditFile(file),
          failedAtLeaf: error.atLeaf,
        });
        throw error;
      });
      const { opened: challenges, unproven } = audited;
      printJson({
        stackId,
        nodeId: found.nodeId,
        adopted: receipts.length,
        challenges: challenges.map(printed),
        unproven: unproven.map((u) => ({ leafIndex: u.receipt.fields.leafIndex, reason: u.reason })),
      });
      const open = challenges.filter((c) => !c.upheld);
      const networkFlag = flags.network === undefined ? "" : ` --network ${flags.network}`;
      for (const c of open)
        process.stderr.write(
          `node ${found.nodeId} has until ${isoTime(c.answerDeadline)} to prove adopted leaf ${c.leafIndex} under its root (${c.reason}); after that, unless it did: atoma stack resolve-challenge ${c.challengeId}${networkFlag}\n`,
        );
      for (const u of unproven)
        process.stderr.write(
          `node ${found.nodeId} gave no valid proof of adopted leaf ${u.receipt.fields.leafIndex} either way (${u.reason}): no bond taken for it; run this again before the challenge window ends\n`,
        );
    });
}
