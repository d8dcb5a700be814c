import { type Collateral, intel, Quote } from "@phala/dcap-qvl";
import { CollateralFetchError } from "./errors.js";

/** Intel's PCS: it has no `rootcacrl` route, so the root CA CRL comes from Intel's fixed address. */
const INTEL_PCS = "https://api.trustedservices.intel.com";
const INTEL_ROOT_CA_CRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

/** How long and how large each PCCS answer may be. */
export interface PccsFetchLimits {
  /** Each request, headers and body together, in milliseconds. @default 30 s */
  timeoutMs?: number | undefined;
  /** Each answer's body, in bytes (TCB info is a few KiB). @default 1 MiB */
  maxBytes?: number | undefined;
  /** Aborts every request still running (the caller gave up). */
  signal?: AbortSignal | undefined;
}

interface Answer {
  headers: Headers;
  body: Buffer;
}

/** GET `url` with no redirect, within `timeoutMs` (headers and body), its body cut off past `maxBytes`. */
async function getBounded(
  url: string,
  what: string,
  timeoutMs: number,
  maxBytes: number,
  outer: AbortSignal | undefined,
): Promise<Answer> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = outer ? AbortSignal.any([timeout, outer]) : timeout;
  try {
    const response = await fetch(url, { redirect: "error", signal });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new CollateralFetchError(`the PCCS answered ${response.status} for the ${what}`);
    }
    const declared = Number(response.headers.get("content-length"));
    if (declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new CollateralFetchError(`the PCCS's ${what} is larger than ${maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new CollateralFetchError(`the PCCS's ${what} is larger than ${maxBytes} bytes`);
        }
        chunks.push(value);
      }
    }
    return { headers: response.headers, body: Buffer.concat(chunks) };
  } catch (error) {
    if (error instanceof CollateralFetchError) throw error;
    const reason = timeout.aborted
      ? `took longer than ${timeoutMs} ms`
      : outer?.aborted
        ? "given up"
        : (error as Error).message;
    throw new CollateralFetchError(`fetching the ${what} from the PCCS failed: ${reason}`, { cause: error });
  }
}

function header(answer: Answer, what: string, ...names: string[]): string {
  for (const name of names) {
    const value = answer.headers.get(name);
    if (!value) continue;
    try {
      return decodeURIComponent(value);
    } catch (error) {
      throw new CollateralFetchError(`the PCCS's ${what} has a malformed ${name} header`, { cause: error });
    }
  }
  throw new CollateralFetchError(`the PCCS's ${what} has no ${names.join(" or ")} header`);
}

function signedJson(answer: Answer, what: string, field: string): { body: string; signature: number[] } {
  try {
    const value = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
    if (value[field] === undefined || typeof value.signature !== "string")
      throw new Error(`no ${field} or signature`);
    return { body: JSON.stringify(value[field]), signature: Array.from(Buffer.from(value.signature, "hex")) };
  } catch (error) {
    throw new CollateralFetchError(`the PCCS's ${what} is not signed JSON`, { cause: error });
  }
}

/**
 * Intel's collateral for `quote` fetched over HTTP from a PCCS (or Intel's PCS), API v4: the PCK CRL, the TCB info
 * for the quote's FMSPC, the QE identity and the root CA CRL. Every request goes to `pccsUrl`'s own base (the root
 * CA CRL of Intel's PCS to Intel's fixed address), never to an address read from an answer, follows no redirect,
 * and is bounded in time and size (`limits`). The quote must carry its PCK certificate chain (certification data
 * type 5, as TDX quotes do). Nothing fetched is checked: verify it against the quote (`verifyTdxQuote`) before
 * serving it. `CollateralFetchError` when a request fails.
 */
export async function fetchPccsCollateral(
  pccsUrl: string,
  quote: Uint8Array,
  limits: PccsFetchLimits = {},
): Promise<Collateral & { pck_certificate_chain: string }> {
  const timeoutMs = limits.timeoutMs ?? 30_000;
  const maxBytes = limits.maxBytes ?? 1024 * 1024;
  let parsed: Quote;
  let pckChain: string;
  let fmspc: string;
  let ca: string;
  try {
    parsed = Quote.parse(quote);
    pckChain = Buffer.from(parsed.rawCertChain()).toString("utf8");
    fmspc = Buffer.from(intel.getFmspc(parsed)).toString("hex").toUpperCase();
    ca = intel.getCa(parsed);
  } catch (error) {
    throw new CollateralFetchError("the quote carries no PCK certificate chain to fetch collateral for", {
      cause: error,
    });
  }
  const base = pccsUrl.replace(/\/+$/, "").replace(/\/(sgx|tdx)\/certification\/v4$/, "");
  const tee = parsed.header.isSgx() ? "sgx" : "tdx";
  const get = (url: string, what: string) => getBounded(url, what, timeoutMs, maxBytes, limits.signal);

  const pckCrl = await get(`${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`, "PCK CRL");
  const tcb = await get(`${base}/${tee}/certification/v4/tcb?fmspc=${fmspc}`, "TCB info");
  const qe = await get(`${base}/${tee}/certification/v4/qe/identity?update=standard`, "QE identity");
  const rootCaCrl = base.startsWith(INTEL_PCS)
    ? (await get(INTEL_ROOT_CA_CRL, "root CA CRL")).body
    : Buffer.from(
        (await get(`${base}/sgx/certification/v4/rootcacrl`, "root CA CRL")).body.toString("utf8"),
        "hex",
      );
  const tcbInfo = signedJson(tcb, "TCB info", "tcbInfo");
  const qeIdentity = signedJson(qe, "QE identity", "enclaveIdentity");
  return {
    pck_crl_issuer_chain: header(pckCrl, "PCK CRL", "SGX-PCK-CRL-Issuer-Chain"),
    root_ca_crl: Array.from(rootCaCrl),
    pck_crl: Array.from(pckCrl.body),
    tcb_info_issuer_chain: header(tcb, "TCB info", "SGX-TCB-Info-Issuer-Chain", "TCB-Info-Issuer-Chain"),
    tcb_info: tcbInfo.body,
    tcb_info_signature: tcbInfo.signature,
    qe_identity_issuer_chain: header(qe, "QE identity", "SGX-Enclave-Identity-Issuer-Chain"),
    qe_identity: qeIdentity.body,
    qe_identity_signature: qeIdentity.signature,
    pck_certificate_chain: pckChain,
  };
}
