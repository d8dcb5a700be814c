import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type AtomaAnswer,
  AttestationRefusedError,
  type AttestationVerdict,
  attestationLine,
  createAtomaClient,
  type Network,
  verdictLine,
} from "@atoma/sdk";
import { fileStateStore } from "@atoma/sdk/node";
import type { LocalAccount } from "viem";
import { printAuditReports } from "./chatAudit.js";
import { receiptsDir } from "./receiptStore.js";

export interface ConfidentialChatFlags {
  units: bigint;
  maxPrice: bigint;
  duration: bigint;
  save?: string | undefined;
  json?: boolean | undefined;
}

/** Printed on stderr when the answer shown so far is dropped and the new one printed from its start. */
export const RESTART_LINE =
  "atoma: the answer restarted (the node sent a new one): the text above is void, the new answer follows";

const MARK = { pass: "ok  ", fail: "FAIL", skipped: "skip", not_reached: "--  " } as const;

/** The attestation's label and each of its checks, for stderr. */
function attestationText(verdict: AttestationVerdict): string {
  const lines = [`attestation ${attestationLine(verdict)}`];
  for (const check of verdict.checks)
    lines.push(
      `  ${MARK[check.status]} ${check.name}${check.reason ? `: ${check.reason}` : ""}${check.code ? ` (${check.code})` : ""}`,
    );
  return `${lines.join("\n")}\n`;
}

const json = (value: unknown) =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));

/**
 * `atoma chat --confidential`: the SDK's confidential client picks a node of the model's level-3 task (buying or
 * reusing a stack), attests it (evidence for a fresh nonce, the chain's record and allow-list), seals the prompt to
 * its key and opens the streamed answer. Prints the answer to stdout, the attestation's checks (its kind labelled,
 * dev evidence "insecure, development") and the verdict to stderr; exit 1 when either fails.
 */
export async function confidentialChat(
  network: Network,
  account: LocalAccount,
  body: Record<string, unknown>,
  flags: ConfidentialChatFlags,
): Promise<void> {
  const client = createAtomaClient({
    network,
    account,
    // Each stack's receipts, pending requests and signed hashes outlive the run; the adopted-leaf audit runs with
    // the call, on every stack kept there with a leaf adopted from another client of the owner.
    stateStore: fileStateStore(join(receiptsDir(undefined), "state")),
    onAdoptedAudit: (reports, error) => {
      printAuditReports(reports);
      if (error !== undefined)
        process.stderr.write(
          `warning: the audit of adopted leaves failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
    },
    confidential: true,
    preferences: { maxPricePerMillion: flags.maxPrice },
    stack: { units: flags.units, duration: flags.duration },
  });
  let answer: AtomaAnswer;
  try {
    answer = await client.chatStream(
      body,
      (chunk) => {
        const content = (chunk.choices as { delta?: { content?: unknown } }[] | undefined)?.[0]?.delta
          ?.content;
        if (typeof content === "string" && !flags.json) process.stdout.write(content);
      },
      // What was printed is void (a resend, a failover or a request sealed again brought another answer): said on
      // stderr, and the new answer printed from its start on a line of its own, never spliced onto the old one.
      () => {
        if (!flags.json) process.stdout.write("\n");
        process.stderr.write(`${RESTART_LINE}\n`);
      },
    );
  } catch (error) {
    if (error instanceof AttestationRefusedError) process.stderr.write(attestationText(error.verdict));
    throw error;
  }
  if (!flags.json) process.stdout.write("\n");
  if (answer.attestation) process.stderr.write(attestationText(answer.attestation));
  // What `atoma verify` takes: the sealed answer the node signed (its hashes are over the sealed bytes).
  if (flags.save !== undefined)
    writeFileSync(resolve(flags.save), `${JSON.stringify(answer.sealed, null, 2)}\n`);
  if (answer.verdict) process.stderr.write(`verdict ${verdictLine(answer.verdict)}\n`);
  if (flags.json)
    process.stdout.write(
      `${json({ answer: answer.response, sealed: answer.sealed, attestation: answer.attestation, verdict: answer.verdict })}\n`,
    );
  if (!answer.verdict?.ok || !answer.attestation?.ok) process.exitCode = 1;
}
