import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

export class AnvilStartError extends AtomaError {
  override name = "AnvilStartError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("ANVIL_START_FAILED", message, options);
  }
}

export class DeploymentError extends AtomaError {
  override name = "DeploymentError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("DEPLOYMENT_FAILED", message, options);
  }
}

/** A contract call reverted; `errorName` is the contract's custom error (e.g. `CollateralTooLow`). */
export class ContractRevertError extends AtomaError {
  override name = "ContractRevertError";
  constructor(
    readonly functionName: string,
    readonly errorName: string,
    readonly args: readonly unknown[],
    options?: AtomaErrorOptions,
  ) {
    super("CONTRACT_REVERTED", `${functionName} reverted with ${errorName}`, options);
  }
}

/** A transaction could not be sent or mined for a reason other than a decodable revert. */
export class TransactionFailedError extends AtomaError {
  override name = "TransactionFailedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("TRANSACTION_FAILED", message, options);
  }
}

/** A receipt lacked the event an action reads its result from. */
export class MissingEventError extends AtomaError {
  override name = "MissingEventError";
  constructor(eventName: string, options?: AtomaErrorOptions) {
    super("MISSING_EVENT", `the transaction emitted no ${eventName} event`, options);
  }
}

/** An item to post on-chain is larger than the contract's `maxEvidenceBytes`: no transaction can carry it. */
export class EvidenceTooLargeError extends AtomaError {
  override name = "EvidenceTooLargeError";
  constructor(position: number, bytes: number, maxBytes: number, options?: AtomaErrorOptions) {
    super(
      "EVIDENCE_TOO_LARGE",
      `item ${position} has ${bytes} bytes, over the ${maxBytes}-byte bound`,
      options,
    );
  }
}

/** Registering a node needs its signing key's proof, and neither the key nor a proof was given. */
export class SignerProofMissingError extends AtomaError {
  override name = "SignerProofMissingError";
  constructor(readonly signer: string) {
    super(
      "SIGNER_PROOF_MISSING",
      `registering signer ${signer} needs its proof (the key's signature binding it to this operator): pass the key or signerProof`,
    );
  }
}

/** A purchase's draw found none of its frozen candidates able to serve any more: it was cancelled and refunded. */
export class StackCancelledError extends AtomaError {
  override name = "StackCancelledError";
  constructor(
    readonly stackId: bigint,
    readonly refunded: bigint,
    options?: AtomaErrorOptions,
  ) {
    super("STACK_CANCELLED", `stack ${stackId} found no node able to serve it any more; refunded`, options);
  }
}

/**
 * A consensus request was refused: the echelon's eligible subscribers of the task, at any price, are fewer than the
 * n seats plus a minimal dispute committee besides them (`TooFewForCommittee` in ConsensusRequests), so a dispute
 * among the seats could draw no committee. Ask for at most `available - minCommittee` seats, or wait for more nodes.
 */
export class TooFewForCommitteeError extends AtomaError {
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
      "TOO_FEW_FOR_COMMITTEE",
      `task ${taskId} has ${available} eligible nodes in echelon ${echelon} (at any price); ${n} seats and a dispute committee of ${minCommittee} need ${needed}: ${most > 0n ? `ask for at most ${most} seats` : "no consensus request fits there yet"}`,
      options,
    );
    this.minCommittee = minCommittee;
  }
}

/** The chain holds no event an action needs to rebuild its arguments (searched where it should be). */
export class EventNotFoundError extends AtomaError {
  override name = "EventNotFoundError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("EVENT_NOT_FOUND", message, options);
  }
}

/** No node is registered in the NodeRegistry with this signing key (or operator key): it serves and settles nothing. */
export class NodeNotRegisteredError extends AtomaError {
  override name = "NodeNotRegisteredError";
  readonly key: string;
  constructor(key: string, options?: AtomaErrorOptions) {
    super(
      "NODE_NOT_REGISTERED",
      `no node is registered with the key ${key}; register it first (atoma node register)`,
      options,
    );
    this.key = key;
  }
}

/** The chain reported an outcome the protocol rules out at this step (a bug, here or in the contracts). */
export class UnexpectedOutcomeError extends AtomaError {
  override name = "UnexpectedOutcomeError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("UNEXPECTED_OUTCOME", message, options);
  }
}
