import {
  type AttestationEvidence,
  fromHex,
  MEASUREMENT_BYTES,
  type TdMeasurements,
  toHex,
} from "@atoma/confidential";
import { type AttestationKind, evidenceHash, type Hash, measurementHash } from "@atoma/core";
import { EvidenceSourceError } from "./errors.js";

/**
 * Where MRTD and RTMR0 (then RTMR1..3, one after another) sit in a quote of each kind: a TDX quote (v4 header of
 * 48 bytes, then the TD report body: TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, attributes, XFAM, MRTD, MRCONFIGID,
 * MROWNER, MROWNERCONFIG, RTMR0..3), and the dev quote (12-byte header, MRTD, RTMR0..3).
 */
const LAYOUT = { tdx: { mrTd: 184, rtmr0: 376 }, dev: { mrTd: 12, rtmr0: 60 } } as const;

/**
 * The registers the node's own evidence reports, read at their place in the quote. No check: the node reads what
 * it produced, to post the measurement the chain's allow-list is compared with; the client verifies the quote.
 */
export function evidenceRegisters(evidence: AttestationEvidence): TdMeasurements {
  const layout = LAYOUT[evidence.kind];
  const quote = fromHex(evidence.quote, "quote");
  if (layout === undefined || quote.length < layout.rtmr0 + 4 * MEASUREMENT_BYTES)
    throw new EvidenceSourceError(`the ${String(evidence.kind)} quote is too short to hold its measurements`);
  const at = (offset: number) => toHex(quote.slice(offset, offset + MEASUREMENT_BYTES));
  const rtmr = (i: number) => at(layout.rtmr0 + i * MEASUREMENT_BYTES);
  return { mrTd: at(layout.mrTd), rtmr0: rtmr(0), rtmr1: rtmr(1), rtmr2: rtmr(2), rtmr3: rtmr(3) };
}

/** What the node's on-chain record holds for `evidence`, in the shared encodings of @atoma/core. */
export interface RecordFields {
  kind: keyof typeof AttestationKind;
  evidenceHash: Hash;
  encryptionKey: Hash;
  measurement: Hash;
  /** The evidence carries a GPU token (`confidential.gpuTokenCommand`): tasks requiring GPUs take the node. */
  gpu: boolean;
}

export function recordFields(evidence: AttestationEvidence): RecordFields {
  return {
    kind: evidence.kind,
    evidenceHash: evidenceHash(evidence.kind, evidence.quote),
    encryptionKey: evidence.encryptionPublicKey.toLowerCase() as Hash,
    measurement: measurementHash(evidence.kind, evidenceRegisters(evidence)),
    gpu: evidence.gpuToken !== undefined,
  };
}
