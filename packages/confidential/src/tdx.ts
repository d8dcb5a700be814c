import { type Collateral, QuoteVerifier, type TcbStatus } from "@phala/dcap-qvl";
import {
  AttestationMalformedError,
  AttestationSignatureError,
  CollateralExpiredError,
  type ConfidentialError,
  TcbOutdatedError,
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
}

/**
 * The DCAP library reports every failure as a plain `Error`; its messages are the only thing that tells them apart,
 * so each known message is mapped to this package's own class (and an unknown one counts as a bad signature, the
 * safe reading: the quote is refused either way).
 */
function classify(error: Error): ConfidentialError {
  const message = error.message;
  const options = { cause: error, details: message };
  if (/expired|in the future|not yet valid/i.test(message))
    return new CollateralExpiredError("the attestation collateral is outside its validity window", options);
  if (/No matching TCB level|TCB status is invalid|ISVSVN .* below|revoked/i.test(message))
    return new TcbOutdatedError("the platform's TCB level is not accepted", options);
  if (/decode|Unsupported|must have version|Not enough data|Invalid tee type|too short/i.test(message))
    return new AttestationMalformedError("the quote or its collateral cannot be parsed", options);
  if (/trust anchor|root/i.test(message))
    return new UntrustedRootError("the quote's certificate chain does not lead to the trusted root", options);
  return new AttestationSignatureError(
    "a signature in the quote or its certificate chain is invalid",
    options,
  );
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
    throw classify(error instanceof Error ? error : new Error(String(error)));
  }
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
