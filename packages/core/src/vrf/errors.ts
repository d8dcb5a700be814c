import { AtomaError, type AtomaErrorOptions } from "../errors.js";

/** Stable codes of the VRF: the Solidity verifier reverts with the custom error of the same meaning. */
export type VrfErrorCode = "vrf_bad_encoding" | "vrf_bad_scalar" | "vrf_proof_invalid" | "vrf_bad_parameters";

/** A public key, proof or point that is not the canonical 33-byte compressed SEC1 form of a curve point. */
export class VrfEncodingError extends AtomaError<VrfErrorCode> {
  override name = "VrfEncodingError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("vrf_bad_encoding", message, options);
  }
}

/** A secret key or proof scalar outside its range (zero, or at least the group order). */
export class VrfScalarError extends AtomaError<VrfErrorCode> {
  override name = "VrfScalarError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("vrf_bad_scalar", message, options);
  }
}

/** A well-formed proof that does not prove the output for this key and input. */
export class VrfProofError extends AtomaError<VrfErrorCode> {
  override name = "VrfProofError";
  constructor(options?: AtomaErrorOptions) {
    super("vrf_proof_invalid", "the VRF proof does not verify for this public key and input", options);
  }
}

/** Sortition parameters that no threshold can meet (no eligible node, a rate outside [0, 1], …). */
export class SortitionParametersError extends AtomaError<VrfErrorCode> {
  override name = "SortitionParametersError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("vrf_bad_parameters", message, options);
  }
}
