import { checkPositiveInteger } from "../client/clientArguments.js";
import { ClientArgumentError } from "../errors.js";

/**
 * NVIDIA's remote attestation service key set (its published JWKS, fetched and pinned by the caller) that a node's
 * GPU token must be signed with, ES384, bound to the same report data as the CPU quote.
 */
export interface GpuPolicy {
  jwks: { keys: readonly Record<string, unknown>[] };
  /** Expected issuer. @default "https://nras.attestation.nvidia.com" */
  issuer?: string | undefined;
  /**
   * Refuse a node whose evidence carries no GPU token (`gpu_evidence_missing`). Giving a key set means wanting the
   * GPU checked, so a node may not simply leave the token out unless this is set to `false`. @default true
   */
  required?: boolean | undefined;
}

/** `confidential` of a non-custodial client: what it trusts when it checks a node's attestation. */
export interface ConfidentialOptions {
  /**
   * PEM of a development attestation authority's root certificate: evidence of the insecure dev kind certified by
   * it is accepted (labelled "insecure, development"). Default: the network description's
   * `attestation.rootCertificatePem` (`atoma dev`'s ready line has it); with neither, dev evidence is refused.
   */
  devRootCertificatePem?: string | undefined;
  /**
   * Accept the insecure dev kind under the network description's root (`atoma dev`'s). Unset, that root is taken
   * only on a local development chain (chain id 31337); `false` never. A root given in `devRootCertificatePem` is
   * taken as the explicit choice it is.
   */
  allowDev?: boolean | undefined;
  /** TCB levels of a TDX platform accepted. @default ["UpToDate"] */
  allowedTcbStatuses?: readonly string[] | undefined;
  /**
   * The lowest TCB evaluation (Intel's `tcbEvaluationDataNumber`) a node's collateral may come from: set it to Intel's
   * latest you know of, and a node serving TCB info from before a TCB recovery is refused
   * (`attestation_tcb_evaluation_outdated`) even inside the collateral's week. Unset: any evaluation in date.
   */
  minTcbEvaluationDataNumber?: number | undefined;
  /** A node's attestation older than this is fetched and checked again before the next request. @default 300000 */
  maxAttestationAgeMs?: number | undefined;
  /**
   * GPU evidence: with a key set, a node's GPU token is verified (signature, expiry, issuer, nonce bound to the
   * quote's report data, overall result); without one a token is left unread (the `gpu` check says `skipped`).
   */
  gpu?: GpuPolicy | undefined;
  /**
   * A node whose attestation could not be had (timeout, connection refused, 408/429/5xx, the chain unreadable) is
   * skipped this long, doubling at each failure in a row up to `maxAttestationRetryMs`, then tried again; a node
   * whose evidence fails a check is put aside for good. @default 5000
   */
  attestationRetryMs?: number | undefined;
  /** @default 300000 */
  maxAttestationRetryMs?: number | undefined;
  /**
   * When a node's fresh quotes stay rate-limited (429 after one wait), take its epoch evidence: bound to the chain's
   * current epoch and exactly the evidence its on-chain record names. `false`: such a node is skipped for now
   * instead (a griefer spending its quote budget then keeps it from serving this client). @default true
   */
  epochEvidence?: boolean | undefined;
}

/** The chain id of a local development chain (anvil's, `atoma dev`'s). */
export const DEV_CHAIN_ID = 31337;

/**
 * The dev root a client takes from its network description: only when asked (`allowDev: true`), or by default on a
 * local development chain; never on another chain, whatever the description holds (a network file handed to a user
 * must not turn on acceptance of evidence that proves nothing).
 */
export function networkDevRoot(
  network: { chainId: number; devAttestationRoot?: string | undefined },
  allowDev: boolean | undefined,
): string | undefined {
  if (allowDev === false) return undefined;
  if (allowDev === true || network.chainId === DEV_CHAIN_ID) return network.devAttestationRoot;
  return undefined;
}

/** `confidential: true` or the options, checked; undefined when the client sends in clear. */
export function confidentialOptionsOf(value: unknown): ConfidentialOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ClientArgumentError("confidential must be true, false or { devRootCertificatePem?, ... }");
  const options = value as ConfidentialOptions;
  const pem = options.devRootCertificatePem;
  if (pem !== undefined && (typeof pem !== "string" || !pem.includes("BEGIN CERTIFICATE")))
    throw new ClientArgumentError("confidential.devRootCertificatePem must be a PEM certificate");
  if (options.maxAttestationAgeMs !== undefined)
    checkPositiveInteger(options.maxAttestationAgeMs, "confidential.maxAttestationAgeMs");
  if (options.minTcbEvaluationDataNumber !== undefined)
    checkPositiveInteger(options.minTcbEvaluationDataNumber, "confidential.minTcbEvaluationDataNumber");
  for (const name of ["attestationRetryMs", "maxAttestationRetryMs"] as const)
    if (options[name] !== undefined) checkPositiveInteger(options[name], `confidential.${name}`);
  const gpu = options.gpu;
  if (
    gpu !== undefined &&
    (typeof gpu !== "object" ||
      gpu === null ||
      !Array.isArray(gpu.jwks?.keys) ||
      gpu.jwks.keys.length === 0 ||
      (gpu.issuer !== undefined && typeof gpu.issuer !== "string") ||
      (gpu.required !== undefined && typeof gpu.required !== "boolean"))
  )
    throw new ClientArgumentError(
      "confidential.gpu must be { jwks: { keys: [at least one key] }, issuer?, required? }",
    );
  if (options.allowDev !== undefined && typeof options.allowDev !== "boolean")
    throw new ClientArgumentError("confidential.allowDev must be a boolean");
  if (options.epochEvidence !== undefined && typeof options.epochEvidence !== "boolean")
    throw new ClientArgumentError("confidential.epochEvidence must be a boolean");
  if (options.allowedTcbStatuses !== undefined && !Array.isArray(options.allowedTcbStatuses))
    throw new ClientArgumentError("confidential.allowedTcbStatuses must be an array");
  return options;
}
