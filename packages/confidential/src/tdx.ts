import { type Collateral, constants, QuoteVerifier, type TcbStatus } from "@phala/dcap-qvl";
import { checkCollateralCrls } from "./crl.js";
import {
  AttestationMalformedError,
  AttestationSignatureError,
  CertificateRevokedError,
  CollateralExpiredError,
  CollateralMismatchError,
  CollateralStaleError,
  type ConfidentialError,
  QeIdentityMismatchError,
  QuoteRefusedError,
  TcbEvaluationOutdatedError,
  TcbOutdatedError,
  TdAttributesRefusedError,
  UntrustedRootError,
} from "./errors.js";
import { measurementsFromBytes, type TdMeasurements } from "./measurements.js";

export type { Collateral, TcbStatus };

/** What a quote proves once its signatures, chain, collateral and TCB level have been checked. */
export interface VerifiedQuote {
  tcbStatus: TcbStatus | "Development";
  advisoryIds: string[];
  measurements: TdMeasurements;
  reportData: Uint8Array;
}

export interface TdxVerifyOptions {
  /** Seconds since the epoch at which the collateral must be valid. */
  nowSeconds: number;
  /** TCB statuses accepted (default only `UpToDate`). */
  allowedTcbStatuses: readonly TcbStatus[];
  /** DER of the root CA; Intel's SGX root CA when omitted. */
  rootCaDer?: Buffer;
  /** Refuse collateral whose TCB info, QE identity or PCK CRL was issued longer ago than this (`CollateralStaleError`). */
  maxCollateralAgeSeconds?: number | undefined;
  /** Refuse TCB info from an earlier TCB evaluation than this (`TcbEvaluationOutdatedError`). */
  minTcbEvaluationDataNumber?: number | undefined;
}

/** The issue date and evaluation number of the collateral's TCB info and QE identity (the oldest issue date). */
function collateralDates(collateral: Collateral): { issuedAt: number; evaluation: number } {
  const read = (text: unknown, what: string) => {
    try {
      const value = JSON.parse(String(text)) as { issueDate?: unknown; tcbEvaluationDataNumber?: unknown };
      const issuedAt = Date.parse(String(value.issueDate)) / 1000;
      const evaluation = Number(value.tcbEvaluationDataNumber);
      if (!Number.isFinite(issuedAt) || !Number.isInteger(evaluation)) throw new Error("no issue date");
      return { issuedAt, evaluation };
    } catch (error) {
      throw new AttestationMalformedError(`the collateral's ${what} has no issue date or evaluation number`, {
        cause: error,
      });
    }
  };
  const tcb = read(collateral.tcb_info, "TCB info");
  const qe = read(collateral.qe_identity, "QE identity");
  return { issuedAt: Math.min(tcb.issuedAt, qe.issuedAt), evaluation: tcb.evaluation };
}

/** The collateral's freshness against the verifier's bounds (after DCAP took it as inside its window). */
function checkCollateralAge(collateral: Collateral, options: TdxVerifyOptions, pckCrlIssuedAt: number): void {
  if (options.maxCollateralAgeSeconds === undefined && options.minTcbEvaluationDataNumber === undefined)
    return;
  const { issuedAt, evaluation } = collateralDates(collateral);
  const age = options.nowSeconds - Math.min(issuedAt, pckCrlIssuedAt);
  if (options.maxCollateralAgeSeconds !== undefined && age > options.maxCollateralAgeSeconds)
    throw new CollateralStaleError(
      `the node's collateral was issued ${Math.floor(age / 3600)} h ago, more than the ${Math.floor(options.maxCollateralAgeSeconds / 3600)} h this verifier takes`,
    );
  if (options.minTcbEvaluationDataNumber !== undefined && evaluation < options.minTcbEvaluationDataNumber)
    throw new TcbEvaluationOutdatedError(evaluation, options.minTcbEvaluationDataNumber);
}

/**
 * The DCAP library (`@phala/dcap-qvl`) reports every failure as a plain `Error`; its messages are the only thing that
 * tells them apart, so each known message is mapped to this package's own class. A message it does not know (a new
 * library version's wording) is `QuoteRefusedError`: refused all the same, never passed off as another failure.
 * `tdxQuote.test.ts` holds every message of the pinned version with its code.
 */
export function classifyDcapError(error: Error): ConfidentialError {
  const message = error.message;
  const options = { cause: error, details: message };
  if (/revoked/i.test(message))
    return new CertificateRevokedError("a certificate of the quote's chain is revoked", options);
  if (/expired|in the future|not yet valid/i.test(message))
    return new CollateralExpiredError("the attestation collateral is outside its validity window", options);
  if (/No matching TCB level|TCB status is invalid|ISVSVN .* below/i.test(message))
    return new TcbOutdatedError("the platform's TCB level is not accepted", options);
  if (
    /Debug mode is enabled|SEPT_VE_DISABLE|Reserved bits in TD attributes|Invalid mr service td/i.test(
      message,
    )
  )
    return new TdAttributesRefusedError(
      "the TD's attributes are not those of a confidential workload",
      options,
    );
  if (/QE (MRSIGNER|ISVPRODID)|QE report hash mismatch/i.test(message))
    return new QeIdentityMismatchError(
      "the quoting enclave is not the one Intel's QE identity names",
      options,
    );
  if (/Fmspc mismatch|with non-(TDX|SGX) TCB info/i.test(message))
    return new CollateralMismatchError("the collateral is for another platform than the quote", options);
  if (
    /decode|Unsupported|must have version|Not enough data|Invalid tee type|Invalid TEE type|too short|length mismatch|not a SEQUENCE|Invalid certificate|Missing|is missing|Intel extension|Empty certificate chain|No (SGX|TDX) components|No TCB levels|No certificates found|Failed to extract|Failed to get TD10/i.test(
      message,
    )
  )
    return new AttestationMalformedError("the quote or its collateral cannot be parsed", options);
  if (/trust anchor|root|CaUsedAsEndEntity/i.test(message))
    return new UntrustedRootError("the quote's certificate chain does not lead to the trusted root", options);
  if (/signature/i.test(message))
    return new AttestationSignatureError(
      "a signature in the quote or its certificate chain is invalid",
      options,
    );
  return new QuoteRefusedError("the DCAP library refused the quote", options);
}

/** Verifies an Intel TDX quote against its collateral with `@phala/dcap-qvl`, then applies the TCB policy. */
export function verifyTdxQuote(
  quote: Uint8Array,
  collateral: Collateral,
  options: TdxVerifyOptions,
): VerifiedQuote {
  const verifier = options.rootCaDer
    ? QuoteVerifier.newWithRootCa(options.rootCaDer)
    : QuoteVerifier.newProd();
  let verified: ReturnType<QuoteVerifier["verify"]>;
  try {
    verified = verifier.verify(quote, collateral, options.nowSeconds);
  } catch (error) {
    throw classifyDcapError(error instanceof Error ? error : new Error(String(error)));
  }
  const pckCrlIssuedAt = checkCollateralCrls(
    quote,
    collateral,
    options.rootCaDer ?? constants.TRUSTED_ROOT_CA_DER,
    options.nowSeconds,
  );
  checkCollateralAge(collateral, options, pckCrlIssuedAt);
  if (!options.allowedTcbStatuses.includes(verified.status))
    throw new TcbOutdatedError(`the platform's TCB status is ${verified.status}`, {
      details: `accepted: ${options.allowedTcbStatuses.join(", ")}; advisories: ${verified.advisory_ids.join(", ")}`,
    });
  const td = verified.report.asTd15()?.base ?? verified.report.asTd10();
  if (!td) throw new AttestationMalformedError("the quote is not a TDX quote (SGX quotes are not accepted)");
  return {
    tcbStatus: verified.status,
    advisoryIds: [...verified.advisory_ids],
    measurements: measurementsFromBytes(td),
    reportData: new Uint8Array(td.reportData),
  };
}
