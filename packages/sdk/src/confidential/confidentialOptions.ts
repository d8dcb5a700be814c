import { checkPositiveInteger } from "../client/clientArguments.js";
import { ClientArgumentError } from "../errors.js";

/** `confidential` of a non-custodial client: what it trusts when it checks a node's attestation. */
export interface ConfidentialOptions {
  /**
   * PEM of a development attestation authority's root certificate: evidence of the insecure dev kind certified by
   * it is accepted (labelled "insecure, development"). Default: the network description's
   * `attestation.rootCertificatePem` (`atoma dev`'s ready line has it); with neither, dev evidence is refused.
   */
  devRootCertificatePem?: string | undefined;
  /** TCB levels of a TDX platform accepted. @default ["UpToDate"] */
  allowedTcbStatuses?: readonly string[] | undefined;
  /** A node's attestation older than this is fetched and checked again before the next request. @default 300000 */
  maxAttestationAgeMs?: number | undefined;
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
  if (options.allowedTcbStatuses !== undefined && !Array.isArray(options.allowedTcbStatuses))
    throw new ClientArgumentError("confidential.allowedTcbStatuses must be an array");
  return options;
}
