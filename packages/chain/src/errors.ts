import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { ChainErrorCode } from "./errorCodes.js";

export class AnvilStartError extends AtomaError<ChainErrorCode> {
  override name = "AnvilStartError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("anvil_start_failed", message, options);
  }
}

export class DeploymentError extends AtomaError<ChainErrorCode> {
  override name = "DeploymentError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("deployment_failed", message, options);
  }
}

/** A contract call reverted; `errorName` is the contract's custom error (e.g. `CollateralTooLow`). */
export class ContractRevertError extends AtomaError<ChainErrorCode> {
  override name = "ContractRevertError";
  constructor(
    readonly functionName: string,
    readonly errorName: string,
    readonly args: readonly unknown[],
    options?: AtomaErrorOptions,
  ) {
    super("contract_reverted", `${functionName} reverted with ${errorName}`, options);
  }
}

/** A transaction could not be sent or mined for a reason other than a decodable revert. */
export class TransactionFailedError extends AtomaError<ChainErrorCode> {
  override name = "TransactionFailedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("transaction_failed", message, options);
  }
}

/** A receipt lacked the event an action reads its result from. */
export class MissingEventError extends AtomaError<ChainErrorCode> {
  override name = "MissingEventError";
  constructor(eventName: string, options?: AtomaErrorOptions) {
    super("missing_event", `the transaction emitted no ${eventName} event`, options);
  }
}

/** An item to post on-chain is larger than the contract's `maxEvidenceBytes`: no transaction can carry it. */
export class EvidenceTooLargeError extends AtomaError<ChainErrorCode> {
  override name = "EvidenceTooLargeError";
  constructor(position: number, bytes: number, maxBytes: number, options?: AtomaErrorOptions) {
    super(
      "evidence_too_large",
      `item ${position} has ${bytes} bytes, over the ${maxBytes}-byte bound`,
      options,
    );
  }
}

/** Registering a node needs its signing key's proof, and neither the key nor a proof was given. */
export class SignerProofMissingError extends AtomaError<ChainErrorCode> {
  override name = "SignerProofMissingError";
  constructor(readonly signer: string) {
    super(
      "signer_proof_missing",
      `registering signer ${signer} needs its proof (the key's signature binding it to this operator): pass the key or signerProof`,
    );
  }
}

/** A purchase's draw found none of its frozen candidates able to serve any more: it was cancelled and refunded. */
export class StackCancelledError extends AtomaError<ChainErrorCode> {
  override name = "StackCancelledError";
  constructor(
    readonly stackId: bigint,
    readonly refunded: bigint,
    options?: AtomaErrorOptions,
  ) {
    super(
      "stack_cancelled",
      `stack ${stackId} was cancelled before any node served it (its drawn node could no longer serve it, or the draw limit passed); refunded`,
      options,
    );
  }
}

/**
 * The member of a drawn set the owner chose could no longer serve the stack (full, left, no longer eligible): the
 * choice cancelled the purchase and refunded it in full, and no other member was bound in its place.
 */
export class ChosenNodeCannotServeError extends AtomaError<ChainErrorCode> {
  override name = "ChosenNodeCannotServeError";
  constructor(
    readonly stackId: bigint,
    readonly nodeId: bigint,
    readonly refunded: bigint,
    options?: AtomaErrorOptions,
  ) {
    super(
      "chosen_node_cannot_serve",
      `node ${nodeId}, chosen for stack ${stackId}, could no longer serve it; the purchase was cancelled and refunded`,
      options,
    );
  }
}

/**
 * A consensus request was refused: the echelon's eligible subscribers of the task, at any price, are fewer than the
 * n seats plus a minimal dispute committee besides them (`TooFewForCommittee` in ConsensusRequests), so a dispute
 * among the seats could draw no committee. Ask for at most `available - minCommittee` seats, or wait for more nodes.
 */
export class TooFewForCommitteeError extends AtomaError<ChainErrorCode> {
  override name = "TooFewForCommitteeError";
  readonly minCommittee: bigint;
  constructor(
    readonly taskId: bigint,
    readonly echelon: number,
    readonly n: number,
    readonly available: bigint,
    readonly needed: bigint,
    options?: AtomaErrorOptions,
  ) {
    const minCommittee = needed - BigInt(n);
    const most = available - minCommittee;
    super(
      "too_few_for_committee",
      `task ${taskId} has ${available} eligible nodes in echelon ${echelon} (at any price); ${n} seats and a dispute committee of ${minCommittee} need ${needed}: ${most > 0n ? `ask for at most ${most} seats` : "no consensus request fits there yet"}`,
      options,
    );
    this.minCommittee = minCommittee;
  }
}

/** The chain holds no event an action needs to rebuild its arguments (searched where it should be). */
export class EventNotFoundError extends AtomaError<ChainErrorCode> {
  override name = "EventNotFoundError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("event_not_found", message, options);
  }
}

/** No node is registered in the NodeRegistry with this signing key (or operator key): it serves and settles nothing. */
export class NodeNotRegisteredError extends AtomaError<ChainErrorCode> {
  override name = "NodeNotRegisteredError";
  readonly key: string;
  constructor(key: string, options?: AtomaErrorOptions) {
    super(
      "node_not_registered",
      `no node is registered with the key ${key}; register it first (atoma node register)`,
      options,
    );
    this.key = key;
  }
}

/** The chain reported an outcome the protocol rules out at this step (a bug, here or in the contracts). */
export class UnexpectedOutcomeError extends AtomaError<ChainErrorCode> {
  override name = "UnexpectedOutcomeError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("unexpected_outcome", message, options);
  }
}

/** The deployment has no VRF key registry: private self-selection of attesters is off. */
export class VrfNotDeployedError extends AtomaError<ChainErrorCode> {
  override name = "VrfNotDeployedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("vrf_not_deployed", message, options);
  }
}
