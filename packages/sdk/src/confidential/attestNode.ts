import { type AttestationRecord, attestationStanding, getAttestation } from "@atoma/chain/portable";
import { AtomaError, measurementHash } from "@atoma/core";
import type { Address } from "viem";
import { readJsonCapped } from "../readBodyCapped.js";
import type { AttestationCheck, AttestationCheckName, AttestationVerdict } from "./attestationVerdict.js";
import type { GpuPolicy } from "./confidentialOptions.js";
import type { ConfidentialModule } from "./loadConfidential.js";

/** Evidence is a few KiB of quote and some collateral: anything far larger is refused unread. */
const MAX_EVIDENCE_BYTES = 2 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;

/** The node to attest, as the chain names it, and the stack's task whose allow-list its measurement must be on. */
export interface AttestTarget {
  nodeId: bigint;
  /** The node's registered URL. */
  url: string;
  /** The node's registered signer: the evidence must bind it. */
  signer: Address;
  taskId: bigint;
}

export interface AttestComponents {
  confidential: ConfidentialModule;
  /** The chain's AttestationRegistry and TaskRegistry. */
  chain: Parameters<typeof getAttestation>[0] & Parameters<typeof attestationStanding>[0];
  fetch: typeof fetch;
  /** Issues each fresh nonce and spends it once. */
  nonces: InstanceType<ConfidentialModule["NonceStore"]>;
}

export interface AttestPolicy {
  devRootCertificatePem?: string | undefined;
  allowedTcbStatuses?: readonly string[] | undefined;
  /** NVIDIA's key set to check GPU evidence with; a node that sends none is refused unless `required` is false. */
  gpu?: GpuPolicy | undefined;
}

const ORDER: AttestationCheckName[] = [
  "evidence",
  "quote",
  "binding",
  "gpu",
  "nonce",
  "record",
  "record_key",
  "measurement",
];

/** A failed check; `transient` when it says nothing against the node (it or the chain did not answer in time). */
class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

const failureOf = (error: unknown): { code: string; reason: string } =>
  error instanceof Refused
    ? { code: error.code, reason: error.message }
    : error instanceof AtomaError
      ? { code: error.code, reason: error.shortMessage }
      : { code: "internal_error", reason: error instanceof Error ? error.message : String(error) };

/** Statuses of a node that is busy or down for now (timeout, rate limit, server error): retried later, not refused. */
const isTransientStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** The longest `retry-after` a rate-limited attestation is waited for, once. */
const MAX_RETRY_AFTER_S = 5;

/**
 * The evidence the node serves for `nonce` (`GET /v1/attestation?nonce=`), bounded and shape-checked; a node that
 * rate-limits fresh quotes (429, `retry-after` within 5 s) is asked once more after the wait.
 */
async function fetchEvidence(
  fetcher: typeof fetch,
  url: string,
  nonce: string,
  again = true,
): Promise<unknown> {
  let answer: Response;
  try {
    answer = await fetcher(new URL(`/v1/attestation?nonce=${nonce}`, url), {
      redirect: "error",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    throw new Refused(
      "attestation_unreachable",
      `the node did not answer: ${(error as Error).message}`,
      true,
    );
  }
  const body = (await readJsonCapped(answer, MAX_EVIDENCE_BYTES).catch(() => undefined)) as
    | { object?: unknown; evidence?: unknown; error?: { code?: unknown } }
    | undefined;
  const wait = Number(answer.headers.get("retry-after"));
  if (answer.status === 429 && again && wait >= 0 && wait <= MAX_RETRY_AFTER_S) {
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    return fetchEvidence(fetcher, url, nonce, false);
  }
  if (!answer.ok)
    throw new Refused(
      "attestation_unavailable",
      `the node answered ${answer.status}${typeof body?.error?.code === "string" ? ` ${body.error.code}` : ""}`,
      isTransientStatus(answer.status),
    );
  if (body?.object !== "atoma.attestation" || body.evidence === undefined)
    throw new Refused("attestation_malformed", "the node's answer is not an atoma.attestation");
  return body.evidence;
}

/** The chain's standing of the node on the task, as a check failure (or undefined when it stands). */
function standingFailure(standing: string, record: AttestationRecord): Refused | undefined {
  if (standing === "None") return new Refused("attestation_record_missing", "the chain holds no record");
  if (standing === "Expired")
    return new Refused("attestation_record_expired", `the chain's record expired at ${record.expiresAt}`);
  if (standing === "Measurement")
    return new Refused(
      "attestation_measurement_not_allowed",
      "the measurement is not on the task's or model's allow-list",
    );
  if (standing === "Dev")
    return new Refused("attestation_dev_not_allowed", "the task does not accept development evidence");
  return undefined;
}

/**
 * Attests a node before anything is sealed to it: fetches its evidence for a fresh 32-byte nonce, verifies it
 * (`@atoma/confidential`'s checks: the quote by Intel's DCAP path for TDX, or the dev root when one is given, the
 * report data binding the on-chain signer, the evidence's key and the nonce, the GPU token, the nonce spent once),
 * then the chain's record: present and current, the same kind and key, the same measurement, and that measurement
 * allowed for the task (the registry's `standing`). Never throws for what it finds: each check is in the verdict.
 */
export async function attestNode(
  components: AttestComponents,
  target: AttestTarget,
  policy: AttestPolicy,
): Promise<AttestationVerdict> {
  const { confidential } = components;
  const checks: AttestationCheck[] = [];
  const verdict: AttestationVerdict = {
    ok: false,
    nodeId: target.nodeId,
    kind: undefined,
    insecure: false,
    label: undefined,
    encryptionPublicKey: undefined,
    transient: false,
    checks,
    failures: [],
    checkedAt: new Date(),
  };
  const finish = (failedAt: number | undefined) => {
    if (failedAt !== undefined)
      for (const name of ORDER.slice(failedAt + 1)) checks.push({ name, status: "not_reached", reason: "" });
    verdict.failures = checks.flatMap((c) => (c.status === "fail" && c.code ? [c.code] : []));
    verdict.ok = failedAt === undefined;
    if (!verdict.ok) verdict.encryptionPublicKey = undefined;
    return verdict;
  };
  const fail = (name: AttestationCheckName, error: unknown) => {
    checks.push({ name, status: "fail", ...failureOf(error) });
    verdict.transient = error instanceof Refused && error.transient;
    return finish(ORDER.indexOf(name));
  };

  const nonce = components.nonces.issue();
  let evidence: ReturnType<ConfidentialModule["parseEvidence"]>;
  try {
    evidence = confidential.parseEvidence(await fetchEvidence(components.fetch, target.url, nonce));
  } catch (error) {
    return fail("evidence", error);
  }
  checks.push({ name: "evidence", status: "pass", reason: `${evidence.kind} evidence for a fresh nonce` });
  verdict.kind = evidence.kind;
  verdict.insecure = evidence.kind === "dev";
  verdict.label = evidence.kind === "dev" ? "insecure, development" : "Intel TDX";

  const report = await confidential.checkAttestation(
    evidence,
    {
      // The allow-list is the chain's (checked below, by hash): this step reads the measurements only.
      measurements: [],
      ...(policy.devRootCertificatePem ? { dev: { rootCertificatePem: policy.devRootCertificatePem } } : {}),
      ...(policy.allowedTcbStatuses ? { allowedTcbStatuses: policy.allowedTcbStatuses as never } : {}),
      ...(policy.gpu ? { gpu: policy.gpu as never } : {}),
    },
    { signingAddress: target.signer, freshness: { kind: "nonce", nonce }, nonces: components.nonces },
  );
  for (const check of report.checks) {
    if (check.name === "measurements") continue;
    if (check.status === "failed")
      return fail(check.name, new Refused(check.code ?? "internal_error", check.detail));
    if (check.status === "not reached") break;
    checks.push({
      name: check.name,
      status: check.status === "skipped" ? "skipped" : "pass",
      reason: check.detail,
    });
  }
  if (!report.measurements) return fail("quote", new Refused("attestation_malformed", "no measurements"));

  let record: AttestationRecord | undefined;
  let standing: string;
  try {
    // Both at one block: a record re-posted between two reads cannot pair one record's standing with another's fields.
    const blockNumber = await components.chain.publicClient.getBlockNumber();
    [record, standing] = await Promise.all([
      getAttestation(components.chain, target.nodeId, { blockNumber }),
      attestationStanding(components.chain, { taskId: target.taskId, nodeId: target.nodeId, blockNumber }),
    ]);
  } catch (error) {
    return fail(
      "record",
      new Refused(
        "chain_unavailable",
        `the chain's record could not be read: ${(error as Error).message}`,
        true,
      ),
    );
  }
  if (!record) return fail("record", new Refused("attestation_record_missing", "the chain holds no record"));
  const notCurrent = standingFailure(standing, record);
  if (notCurrent && (standing === "None" || standing === "Expired")) return fail("record", notCurrent);
  checks.push({
    name: "record",
    status: "pass",
    reason: `the chain's record for epoch ${record.epoch} is current until ${record.expiresAt}`,
  });
  if (
    record.kind !== evidence.kind ||
    record.encryptionKey.toLowerCase() !== evidence.encryptionPublicKey.toLowerCase()
  )
    return fail(
      "record_key",
      new Refused(
        "attestation_record_key_mismatch",
        `the chain's record is for ${record.kind} key ${record.encryptionKey}, the evidence for ${evidence.kind} key ${evidence.encryptionPublicKey}`,
      ),
    );
  checks.push({ name: "record_key", status: "pass", reason: "the chain's record names the attested key" });
  const measured = measurementHash(evidence.kind, report.measurements);
  if (measured.toLowerCase() !== record.measurement.toLowerCase())
    return fail(
      "measurement",
      new Refused(
        "attestation_measurement_mismatch",
        "the evidence's measurements are not the ones the chain's record names",
      ),
    );
  if (notCurrent) return fail("measurement", notCurrent);
  checks.push({
    name: "measurement",
    status: "pass",
    reason: `measurement ${measured} is allowed for task ${target.taskId}`,
  });
  verdict.encryptionPublicKey = evidence.encryptionPublicKey;
  return finish(undefined);
}
