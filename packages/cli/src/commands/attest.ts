import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { getNode, NodeStatus } from "@atoma/chain";
import {
  type AllowedMeasurement,
  type AttestationPolicy,
  type AttestationReport,
  checkAttestation,
  NonceStore,
  parseEvidence,
} from "@atoma/confidential";
import { AtomaError } from "@atoma/core";
import type { Command } from "commander";
import { bigintOption } from "../amountOptions.js";
import { type ChainCheck, chainAttestationChecks } from "../chain/attestationOnChain.js";
import { loadVerifyChain } from "../chain/verifyNetwork.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";

interface AttestFlags {
  network?: string;
  stackManager?: string;
  url?: string;
  devRoot?: string;
  measurements?: string;
  task?: bigint;
  json?: boolean;
  showOnly?: boolean;
  timeout?: string;
  minTcbEvaluation?: string;
  gpuJwks?: string;
}

/** Evidence is a few kilobytes of quote and some collateral: anything far larger is refused unread. */
const MAX_EVIDENCE_BYTES = 2 * 1024 * 1024;

function readText(path: string, what: string): string {
  try {
    return readFileSync(resolve(path), "utf8");
  } catch {
    throw new CliUsageError(`the ${what} ${path} cannot be read`);
  }
}

/** `--measurements <file>`: a JSON array of allow-list entries ({ label?, mrTd, rtmr0..3? }). */
function readAllowList(path: string | undefined): AllowedMeasurement[] {
  if (path === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(readText(path, "allow-list"));
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    throw new CliUsageError(`the allow-list ${path} is not JSON`);
  }
  const hex48 = (v: unknown) => typeof v === "string" && /^0x[0-9a-fA-F]{96}$/.test(v);
  const ok =
    Array.isArray(value) &&
    value.every(
      (entry) =>
        typeof entry === "object" &&
        entry !== null &&
        hex48((entry as { mrTd?: unknown }).mrTd) &&
        ["rtmr0", "rtmr1", "rtmr2", "rtmr3"].every(
          (r) =>
            (entry as Record<string, unknown>)[r] === undefined ||
            hex48((entry as Record<string, unknown>)[r]),
        ),
    );
  if (!ok)
    throw new CliUsageError(
      `the allow-list ${path} must be a JSON array of { mrTd, rtmr0..3? } with 48-byte hex`,
    );
  return value as AllowedMeasurement[];
}

/**
 * `--gpu-jwks <file>`: NVIDIA's published key set (NRAS's JWKS, fetched and pinned by the caller). Given, the node's
 * GPU token is required and checked; without it a token is left unread (the `gpu` check says skip).
 */
function readGpuKeys(path: string): NonNullable<AttestationPolicy["gpu"]> {
  let value: unknown;
  try {
    value = JSON.parse(readText(path, "GPU key set"));
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    throw new CliUsageError(`the GPU key set ${path} is not JSON`);
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new CliUsageError(`the GPU key set ${path} must be a JWKS: { keys: [at least one key] }`);
  return { jwks: value as NonNullable<AttestationPolicy["gpu"]>["jwks"], required: true };
}

/** Fetches the node's evidence for `nonce`; a failure is one line naming what went wrong. */
async function fetchEvidence(url: string, nonce: string, timeoutMs: number): Promise<unknown> {
  const target = new URL(`/v1/attestation?nonce=${nonce}`, url);
  const giveUpAt = Date.now() + timeoutMs;
  let res: Response;
  for (;;) {
    try {
      res = await fetch(target, { signal: AbortSignal.timeout(Math.max(1, giveUpAt - Date.now())) });
    } catch (error) {
      throw new Error(
        `the node at ${url} did not answer (${error instanceof Error ? error.message : "failed"})`,
      );
    }
    // A node out of fresh quotes for the moment says when to come back: wait once it is within the timeout.
    const waitMs = res.status === 429 ? retryAfterMs(res.headers.get("retry-after")) : undefined;
    if (waitMs === undefined || Date.now() + waitMs >= giveUpAt) break;
    await res.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  const text = await res.text();
  if (text.length > MAX_EVIDENCE_BYTES)
    throw new Error(`the node's answer is larger than ${MAX_EVIDENCE_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`the node answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const code = (body as { error?: { code?: unknown } }).error?.code;
    throw new Error(`the node answered ${res.status}${typeof code === "string" ? ` ${code}` : ""}`);
  }
  return (body as { evidence?: unknown }).evidence;
}

const MARK = { passed: "ok  ", failed: "FAIL", skipped: "skip", "not reached": "--  " } as const;

function reportText(
  head: Record<string, string>,
  report: AttestationReport | undefined,
  chain: ChainCheck[],
  ok: boolean,
  fetchError?: string,
  showOnly = false,
): string {
  const lines = Object.entries(head).map(([k, v]) => `${k.padEnd(12)} ${v}`);
  if (fetchError !== undefined) {
    lines.push(`${MARK.failed} fetch: ${fetchError}`);
    return `${lines.join("\n")}\n`;
  }
  if (!report) return `${lines.join("\n")}\n`;
  lines.push(
    `${"kind".padEnd(12)} ${report.label}${report.insecure ? " (proves nothing about hardware)" : ""}`,
  );
  lines.push(`${MARK.passed} fetch: evidence for a fresh nonce`);
  for (const check of report.checks)
    lines.push(
      `${MARK[check.status]} ${check.name}${check.detail ? `: ${check.detail}` : ""}${check.code ? ` (${check.code})` : ""}`,
    );
  for (const check of chain)
    lines.push(
      `${MARK[check.status]} chain ${check.name}: ${check.detail}${check.code ? ` (${check.code})` : ""}`,
    );
  if (report.measurements) {
    lines.push("measurements");
    for (const [name, value] of Object.entries(report.measurements))
      lines.push(`  ${name.padEnd(6)} ${value}`);
  }
  if (report.reason)
    lines.push(`${MARK.failed} ${report.reason} (give --measurements, or --show-only to only read them)`);
  // `--show-only` checks no allow-list and no chain record: what it read is shown, never called verified.
  if (showOnly && ok)
    lines.push("measurements shown, NOT verified (--show-only: no allow-list, no chain check)");
  else lines.push(ok ? "attestation verified" : "attestation NOT verified");
  return `${lines.join("\n")}\n`;
}

/**
 * Every check of the evidence passed, and every check against the chain's record and allow-lists (none run with
 * `--show-only`).
 */
const verified = (report: AttestationReport | undefined, chain: ChainCheck[], showOnly: boolean) =>
  report?.ok === true &&
  (showOnly || (chain.length > 0 && chain.every((check) => check.status === "passed")));

/**
 * `atoma attest <node id>`: looks the node up in the registry (its signer and URL), fetches its evidence for a
 * fresh nonce, and prints each check (quote, measurements, binding of signer + key + nonce, GPU token, nonce), then
 * the chain's: the node's AttestationRegistry record (current, same key, same measurement) and that measurement on
 * the allow-list of each confidential task it serves (or `--task`), the allow-list `--measurements` adds to.
 * Exits 1 when a check fails (`--show-only`: only reads the evidence, the chain unchecked). Development evidence is
 * refused unless `--dev-root` names the dev authority's root,
 * and is labelled "insecure, development" even then.
 */
export function registerAttest(program: Command): void {
  program
    .command("attest <node>")
    .description(
      "fetch a confidential node's attestation for a fresh nonce and print each check (quote, measurements, key binding, GPU, nonce); exits 1 when one fails",
    )
    .option(
      "--network <network>",
      "a network file, atoma dev's `ready {json}` line, or an RPC URL with --stack-manager (or ATOMA_NETWORK)",
    )
    .option(
      "--stack-manager <address>",
      "the StackManager, when --network is an RPC URL (or ATOMA_STACK_MANAGER)",
    )
    .option(
      "--url <url>",
      "ask this URL instead of the one the registry holds (the signer still comes from the chain)",
    )
    .option("--dev-root <pem>", "accept development evidence certified by this root certificate (insecure)")
    .option(
      "--measurements <file>",
      "a local allow-list too: JSON array of { label?, mrTd, rtmr0..3? } (the chain's is always checked)",
    )
    .option(
      "--task <id>",
      "check the chain's allow-list of this task (default: every active confidential task the node serves)",
      bigintOption("--task", 1n),
    )
    .option(
      "--show-only",
      "without --measurements: print the measurements and exit 0 (they are shown, not approved); else exit 1",
    )
    .option(
      "--min-tcb-evaluation <n>",
      "refuse TCB info from an earlier Intel TCB evaluation (tcbEvaluationDataNumber) than n: attestation_tcb_evaluation_outdated",
    )
    .option(
      "--gpu-jwks <file>",
      "NVIDIA's attestation service key set (JWKS): the node's GPU token is then required and verified (gpu_evidence_missing without one)",
    )
    .option("--timeout <ms>", "how long the node has to answer", "10000")
    .option("--json", "print the report as one JSON object")
    .action(async (id: string, flags: AttestFlags) => {
      const nodeId = bigintOption("node id", 1n)(id);
      const timeoutMs = Number(flags.timeout);
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
        throw new CliUsageError("--timeout must be a positive number of milliseconds");
      const minTcb = flags.minTcbEvaluation === undefined ? undefined : Number(flags.minTcbEvaluation);
      if (minTcb !== undefined && (!Number.isSafeInteger(minTcb) || minTcb < 1))
        throw new CliUsageError("--min-tcb-evaluation must be a positive whole number");
      const policy: AttestationPolicy = {
        measurements: readAllowList(flags.measurements),
        ...(minTcb !== undefined ? { minTcbEvaluationDataNumber: minTcb } : {}),
        ...(flags.gpuJwks !== undefined ? { gpu: readGpuKeys(flags.gpuJwks) } : {}),
        ...(flags.devRoot ? { dev: { rootCertificatePem: readText(flags.devRoot, "dev root") } } : {}),
      };
      const chain = await loadVerifyChain(flags.network, flags.stackManager);
      const found = await getNode(chain, nodeId);
      if (found.status === NodeStatus.None) throw new CliUsageError(`there is no node ${nodeId}`);
      const url = flags.url ?? found.url;
      if (!/^https?:\/\//.test(url))
        throw new CliUsageError(`node ${nodeId} has no http(s) URL (${url || "none"})`);
      const nonces = new NonceStore();
      const nonce = nonces.issue();
      const head = { node: String(nodeId), url, signer: found.signer, nonce };
      let report: AttestationReport | undefined;
      let chainChecks: ChainCheck[] = [];
      let fetchError: string | undefined;
      try {
        const evidence = parseEvidence(await fetchEvidence(url, nonce, timeoutMs));
        // The chain's allow-list is always checked (below): a local one is optional.
        report = await checkAttestation(
          evidence,
          policy,
          { signingAddress: found.signer, freshness: { kind: "nonce", nonce }, nonces },
          { showOnly: flags.showOnly === true || policy.measurements.length === 0 },
        );
        if (report.ok && !flags.showOnly)
          chainChecks = await chainAttestationChecks(
            chain,
            nodeId,
            {
              kind: evidence.kind,
              encryptionPublicKey: evidence.encryptionPublicKey,
              measurements: report.measurements,
            },
            flags.task,
          );
      } catch (error) {
        fetchError =
          error instanceof AtomaError ? `${error.shortMessage} (${error.code})` : (error as Error).message;
      }
      const ok = verified(report, chainChecks, flags.showOnly === true);
      if (flags.json)
        printJson({ ...head, ...(fetchError ? { fetchError } : {}), ...report, ok, chain: chainChecks });
      else
        process.stdout.write(reportText(head, report, chainChecks, ok, fetchError, flags.showOnly === true));
      if (!ok) process.exitCode = 1;
    });
}

/** `Retry-After` in whole seconds as milliseconds (at most a minute), or undefined when absent or not a number. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d{1,2}$/.test(header.trim())) return undefined;
  return Math.max(1, Number(header.trim())) * 1_000;
}
