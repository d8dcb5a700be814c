import {
  type AttestationRecord,
  attestationStanding,
  getAttestation,
  gpuRequired,
  nodeRegistryAbi,
} from "@atoma/chain/portable";
import { AtomaError, evidenceHash, measurementHash } from "@atoma/core";
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
  /** The chain's AttestationRegistry, TaskRegistry and NodeRegistry (its current epoch). */
  chain: Parameters<typeof getAttestation>[0] &
    Parameters<typeof attestationStanding>[0] & { addresses: { NodeRegistry: Address } };
  fetch: typeof fetch;
  /** Issues each fresh nonce and spends it once. */
  nonces: InstanceType<ConfidentialModule["NonceStore"]>;
}

export interface AttestPolicy {
  devRootCertificatePem?: string | undefined;
  allowedTcbStatuses?: readonly string[] | undefined;
  /** See `ConfidentialOptions.minTcbEvaluationDataNumber`. */
  minTcbEvaluationDataNumber?: number | undefined;
  /** NVIDIA's key set to check GPU evidence with; a node that sends none is refused unless `required` is false. */
  gpu?: GpuPolicy | undefined;
  /**
   * When the node's fresh quotes stay rate-limited (its budget spent, by others or by a griefer), take its epoch
   * evidence instead: bound to the chain's current epoch, and exactly the evidence its on-chain record names (its
   * hash, for that epoch). The node itself could always refuse a nonce; it gains nothing by it. @default true
   */
  epochEvidence?: boolean | undefined;
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

/**
 * The node's own refusals of `GET /v1/attestation`, each a situation of its own, with the status the node sends it
 * with: `confidential_unsupported` (it runs no confidential compute) and `attestation_not_posted` (it posts no
 * attestation record) for good; `attestation_unavailable` (no evidence for now) and `attestation_record_stale` (its
 * on-chain record is being posted again) only for now. A code under another status (a 503 saying
 * `confidential_unsupported`), or an answer without one of them, is read by its status alone, and a bare 404 (a
 * proxy or CDN mid-deploy, a misrouted request) is only for now: nothing unauthenticated puts a node aside for good
 * unless it is the node's own well-formed "none here".
 */
const NODE_CODES: Record<string, { transient: boolean; status: number }> = {
  confidential_unsupported: { transient: false, status: 400 },
  attestation_not_posted: { transient: false, status: 400 },
  attestation_unavailable: { transient: true, status: 503 },
  attestation_record_stale: { transient: true, status: 503 },
};

/** The longest `retry-after` a rate-limited attestation is waited for, once. */
const MAX_RETRY_AFTER_S = 5;

/**
 * The evidence the node serves for `nonce` (`GET /v1/attestation?nonce=`), bounded and shape-checked; a node that
 * rate-limits fresh quotes (429, `retry-after` within 5 s) is asked once more after the wait.
 */
async function fetchEvidence(
  fetcher: typeof fetch,
  url: string,
  nonce: string | undefined,
  again = true,
  epoch?: bigint,
): Promise<unknown> {
  let answer: Response;
  try {
    answer = await fetcher(new URL(nonce ? `/v1/attestation?nonce=${nonce}` : "/v1/attestation", url), {
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
    | { object?: unknown; evidence?: unknown; freshness?: { epoch?: unknown }; error?: { code?: unknown } }
    | undefined;
  const wait = Number(answer.headers.get("retry-after"));
  if (answer.status === 429 && again && wait >= 0 && wait <= MAX_RETRY_AFTER_S) {
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    return fetchEvidence(fetcher, url, nonce, false, epoch);
  }
  if (answer.status === 429 && nonce)
    throw new Refused("attestation_rate_limited", "the node's fresh quotes are rate-limited for now", true);
  if (!answer.ok) {
    const said = typeof body?.error?.code === "string" ? body.error.code : undefined;
    const known = said !== undefined && Object.hasOwn(NODE_CODES, said) ? NODE_CODES[said] : undefined;
    const reason = `the node answered ${answer.status}${said !== undefined ? ` ${said}` : ""}`;
    if (known && said && known.status === answer.status) throw new Refused(said, reason, known.transient);
    // A bare 404 (or a code under a status the node never sends it with): retried after a cooldown, never for good.
    const transient = isTransientStatus(answer.status) || answer.status === 404 || known !== undefined;
    throw new Refused("attestation_unavailable", reason, transient);
  }
  if (body?.object !== "atoma.attestation" || body.evidence === undefined)
    throw new Refused("attestation_malformed", "the node's answer is not an atoma.attestation");
  if (nonce === undefined && epoch !== undefined && body.freshness?.epoch !== String(epoch))
    throw new Refused(
      "attestation_epoch_pending",
      `the node's epoch evidence is for epoch ${String(body.freshness?.epoch)}, not the current ${epoch} yet`,
      true,
    );
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
  if (standing === "Gpu")
    return new Refused(
      "attestation_gpu_required",
      "the task requires GPU evidence and the node's record declares none",
    );
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
  /** Set when the node's fresh quotes were spent and its epoch evidence is taken: the chain's current epoch. */
  let epoch: bigint | undefined;
  try {
    evidence = confidential.parseEvidence(await fetchEvidence(components.fetch, target.url, nonce));
  } catch (error) {
    const limited = error instanceof Refused && error.code === "attestation_rate_limited";
    if (!limited || policy.epochEvidence === false) return fail("evidence", error);
    try {
      epoch = await currentEpoch(components.chain);
      evidence = confidential.parseEvidence(
        await fetchEvidence(components.fetch, target.url, undefined, true, epoch),
      );
    } catch (fallback) {
      return fail("evidence", fallback);
    }
  }
  checks.push({
    name: "evidence",
    status: "pass",
    reason:
      epoch === undefined
        ? `${evidence.kind} evidence for a fresh nonce`
        : `${evidence.kind} evidence for epoch ${epoch} (the node's fresh quotes were rate-limited)`,
  });
  verdict.kind = evidence.kind;
  verdict.insecure = evidence.kind === "dev";
  verdict.label = evidence.kind === "dev" ? "insecure, development" : "Intel TDX";

  // A task that requires GPUs has every client check the node's GPU token, whatever the caller's policy said.
  let needsGpu: boolean;
  try {
    needsGpu = await gpuRequired(components.chain, { taskId: target.taskId });
  } catch (error) {
    return fail(
      "quote",
      new Refused(
        "chain_unavailable",
        `the task's GPU requirement could not be read: ${(error as Error).message}`,
        true,
      ),
    );
  }
  const gpuPolicy = needsGpu && policy.gpu ? { ...policy.gpu, required: true } : policy.gpu;
  const report = await confidential.checkAttestation(
    evidence,
    {
      // The allow-list is the chain's (checked below, by hash): this step reads the measurements only.
      measurements: [],
      ...(policy.devRootCertificatePem ? { dev: { rootCertificatePem: policy.devRootCertificatePem } } : {}),
      ...(policy.allowedTcbStatuses ? { allowedTcbStatuses: policy.allowedTcbStatuses as never } : {}),
      ...(policy.minTcbEvaluationDataNumber !== undefined
        ? { minTcbEvaluationDataNumber: policy.minTcbEvaluationDataNumber }
        : {}),
      ...(gpuPolicy ? { gpu: gpuPolicy as never } : {}),
    },
    {
      signingAddress: target.signer,
      freshness: epoch === undefined ? { kind: "nonce", nonce } : { kind: "epoch", epoch },
      nonces: components.nonces,
    },
  );
  for (const check of report.checks) {
    if (check.name === "measurements") continue;
    if (check.status === "failed")
      return fail(check.name, new Refused(check.code ?? "internal_error", check.detail));
    if (check.status === "not reached") break;
    if (check.name === "gpu" && needsGpu && check.status !== "passed")
      return fail(
        "gpu",
        evidence.gpuToken === undefined
          ? new Refused("gpu_evidence_missing", "the task requires GPU evidence and the node sent none")
          : new Refused(
              "gpu_keyset_missing",
              "the task requires GPU evidence: give NVIDIA's key set (confidential.gpu) to check the node's token",
            ),
      );
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
  if (notCurrent && (standing === "None" || standing === "Expired" || standing === "Gpu"))
    return fail("record", notCurrent);
  // Epoch evidence proves no more than the record the node posted for the current epoch: it must be exactly that one.
  if (epoch !== undefined && record.epoch !== epoch)
    return fail(
      "record",
      new Refused(
        "attestation_epoch_pending",
        `the chain's record is for epoch ${record.epoch}, not the current ${epoch}: the node has not posted it yet`,
        true,
      ),
    );
  if (
    epoch !== undefined &&
    record.evidenceHash.toLowerCase() !== evidenceHash(evidence.kind, evidence.quote).toLowerCase()
  )
    return fail(
      "record",
      new Refused(
        "attestation_epoch_evidence_mismatch",
        `the epoch evidence is not the one the chain's record names for epoch ${epoch}`,
      ),
    );
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

function currentEpoch(chain: AttestComponents["chain"]): Promise<bigint> {
  return chain.publicClient.readContract({
    address: chain.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "currentEpoch",
  });
}
