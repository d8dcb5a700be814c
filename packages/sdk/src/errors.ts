import {
  AtomaError,
  type AtomaErrorOptions,
  type SignedLeafDenial,
  type SignedReceipt,
  type WireErrorCode,
} from "@atoma/core";
import type { SdkErrorCode, SdkLocalErrorCode } from "./errorCodes.js";
import type { PendingRequest } from "./StackClient.js";
import type { AdoptedChallenge } from "./verify/challengeAdopted.js";
import type { Verdict } from "./verify/verdict.js";

/** The node answered with an error (OpenAI's shape); `code` is the node's stable error code, as it sent it. */
export class NodeRequestError extends AtomaError<WireErrorCode> {
  override name = "NodeRequestError";
  readonly status: number;
  readonly type: string;
  /** Seconds to wait before retrying (from `Retry-After`), when the node said. */
  readonly retryAfterSeconds: number | undefined;
  /** The nonce the stack takes next (`x-atoma-next-nonce`), when the node refused a nonce. */
  readonly nextNonce: bigint | undefined;
  /** The `atoma` object the refusal carried, unchecked (`stack_exhausted`: the stack's last leaf, signed). */
  readonly atoma: unknown;
  /** The `denial` object the refusal carried, unchecked (`leaf_not_found`: the node's signed `AtomaLeafDenial`). */
  readonly denial: unknown;
  constructor(
    status: number,
    error: { message: string; type: string; code: WireErrorCode },
    retryAfterSeconds?: number | undefined,
    nextNonce?: bigint | undefined,
    atoma?: unknown,
    denial?: unknown,
  ) {
    super(error.code || `http_${status}`, `node answered ${status}: ${error.message}`);
    this.status = status;
    this.type = error.type;
    this.retryAfterSeconds = retryAfterSeconds;
    this.nextNonce = nextNonce;
    this.atoma = atoma;
    this.denial = denial;
  }
}

/**
 * The node's 404 `leaf_not_found` for a leaf read that named its request, with the node's checked signature on it
 * (`AtomaLeafDenial`): its word that no leaf for that request stands at that nonce, and none ever will. The only
 * "no leaf" that frees a nonce; the owner keeps `denial` as the fraud proof should that leaf settle there anyway.
 */
export class NodeDeniedLeafError extends NodeRequestError {
  override name = "NodeDeniedLeafError";
  readonly signedDenial: SignedLeafDenial;
  constructor(refusal: NodeRequestError, signedDenial: SignedLeafDenial) {
    super(
      refusal.status,
      {
        message: refusal.shortMessage.replace(/^node answered \d+: /, ""),
        type: refusal.type,
        code: refusal.code,
      },
      refusal.retryAfterSeconds,
      refusal.nextNonce,
      refusal.atoma,
      refusal.denial,
    );
    this.signedDenial = signedDenial;
  }
}

/**
 * A resend of a signed request the node still has in flight (409 `request_in_flight`, `stack_busy`: its first attempt
 * not finished there), after the resends were spent waiting for it. No refusal of the request: it stays pending.
 */
export class ResendInFlightError extends NodeRequestError {
  override name = "ResendInFlightError";
  constructor(refusal: NodeRequestError) {
    super(
      refusal.status,
      {
        message: "the resent request is still in flight at the node",
        type: refusal.type,
        code: refusal.code,
      },
      refusal.retryAfterSeconds,
      refusal.nextNonce,
      refusal.atoma,
    );
  }
}

/** The response's `atoma` object does not prove what it should (signer, request hash, response hash, stack). */
export class ResponseVerificationError extends AtomaError<SdkErrorCode> {
  override name = "ResponseVerificationError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("response_unverified", message, options);
  }
}

/**
 * A streamed answer carries something its hashed response cannot stand for faithfully (another choice, a tool
 * call renamed or at an odd index, text beside calls, a field no hash covers): clients would read another answer
 * than the one the node signed, so the stream is refused.
 */
export class UnhashableStreamError extends ResponseVerificationError {
  override name = "UnhashableStreamError";
  override readonly code: SdkErrorCode = "stream_unhashable";
}

/** A node's answer (one stream event, a whole stream or a JSON body) is larger than any honest answer: reading stopped. */
export class AnswerTooLargeError extends ResponseVerificationError {
  override name = "AnswerTooLargeError";
  override readonly code: SdkErrorCode = "answer_too_large";
  /** The bound that was passed, in bytes. */
  readonly limitBytes: number;
  constructor(what: string, limitBytes: number) {
    super(`the node's ${what} exceeds ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

/** The node could not be reached, even after resending the same signed request. */
export class NodeUnreachableError extends AtomaError<SdkErrorCode> {
  override name = "NodeUnreachableError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("node_unreachable", message, options);
  }
}

/**
 * The node signed units that are not what the answer used (prompt plus completion tokens of the usage it sent).
 * The receipt is kept (`StackClient.receipts`): with the answer's result bytes it proves the fraud on-chain
 * (`ReceiptFraud.proveUnits`).
 */
export class UnitsMismatchError extends ResponseVerificationError {
  override name = "UnitsMismatchError";
  override readonly code: SdkErrorCode = "receipt_units_mismatch";
  readonly receipt: SignedReceipt;
  /** The units the answer's usage adds up to. */
  readonly usageUnits: bigint;
  constructor(receipt: SignedReceipt, usageUnits: bigint) {
    super(`the node signed ${receipt.fields.units} units for an answer that used ${usageUnits}`);
    this.receipt = receipt;
    this.usageUnits = usageUnits;
  }
}

/**
 * A sealed answer's usage in clear (what the receipt and the leaf charge) is not the usage sealed with the answer
 * inside the TD: the host changed what it bills. The receipt is refused and kept (`StackClient.receipts`).
 */
export class UsageMismatchError extends ResponseVerificationError {
  override name = "UsageMismatchError";
  override readonly code: SdkErrorCode = "receipt_usage_mismatch";
  readonly receipt: SignedReceipt;
  constructor(receipt: SignedReceipt) {
    super("the usage in clear, which the receipt charges, is not the one sealed with the answer");
    this.receipt = receipt;
  }
}

/**
 * The node signed more units than the request's signed `maxUnits` allow. The receipt is kept: the leaf cannot be
 * proven with the owner's signature on-chain (`ChallengeManager.UnitsOverSigned`).
 */
export class UnitsOverSignedError extends ResponseVerificationError {
  override name = "UnitsOverSignedError";
  override readonly code: SdkErrorCode = "receipt_units_over_signed";
  readonly receipt: SignedReceipt;
  readonly maxUnits: bigint;
  constructor(receipt: SignedReceipt, maxUnits: bigint) {
    super(`the node signed ${receipt.fields.units} units for a request bounded at ${maxUnits}`);
    this.receipt = receipt;
    this.maxUnits = maxUnits;
  }
}

/**
 * The receipt does not continue the stack's running total: its leaf index or nonce is not the request's nonce,
 * or its cumulative units are not the previous receipt's plus its own (its own alone at leaf 0), or exceed the
 * stack. The receipts are kept: `findReceiptFraud` turns them into an on-chain proof.
 */
export class RunningTotalError extends ResponseVerificationError {
  override name = "RunningTotalError";
  override readonly code: SdkErrorCode = "receipt_running_total";
  readonly receipt: SignedReceipt;
  readonly previous: SignedReceipt | undefined;
  constructor(message: string, receipt: SignedReceipt, previous?: SignedReceipt | undefined) {
    super(message);
    this.receipt = receipt;
    this.previous = previous;
  }
}

/**
 * The node showed (in its leaf read) a leaf at an index where it signed another receipt before: two signed leaves
 * at one leaf, the node's equivocation. Both are kept (`receipt`: the one shown; `previous`: the one held).
 */
export class LeafEquivocationError extends RunningTotalError {
  override name = "LeafEquivocationError";
  constructor(shown: SignedReceipt, held: SignedReceipt) {
    super(
      `the node signed two leaves at index ${shown.fields.leafIndex} of stack ${shown.fields.stackId}`,
      shown,
      held,
    );
  }
}

/**
 * The node named a nonce this client will not sign (`nonce_out_of_order`/`nonce_reused` for a nonce it never
 * signed before): it would sign past leaves it holds no receipt for, whose units it could never check. A client
 * that knows where its stack stands (`receipts`, `firstNonce` or `pending` given) never follows a node's count.
 */
export class NonceGapError extends ResponseVerificationError {
  override name = "NonceGapError";
  override readonly code: SdkErrorCode = "nonce_gap";
  constructor(
    readonly nonce: bigint,
    readonly nodeNonce: bigint | undefined,
  ) {
    super(
      `the node refused nonce ${nonce}${nodeNonce === undefined ? "" : ` and named ${nodeNonce}`}: the client signs no nonce past one it holds no receipt for`,
    );
  }
}

/**
 * A request signed earlier (`pending`) was resent to obtain its receipt and the node refused it: the leaf may be
 * committed without a receipt. Nothing new is signed on the stack (it would sign past that leaf); give the stack
 * up and challenge the leaf if its settlement claims more than its signed bound.
 */
export class ReceiptWithheldError extends ResponseVerificationError {
  override name = "ReceiptWithheldError";
  override readonly code: SdkErrorCode = "receipt_withheld";
  constructor(
    readonly nonce: bigint,
    options?: AtomaErrorOptions,
    /** The signed request the node gave no receipt for, as sent: the owner's evidence of the leaf it asked for. */
    readonly request?: PendingRequest | undefined,
  ) {
    super(`the node gave no receipt for the request signed at nonce ${nonce}`, options);
  }
}

/**
 * A node that called a pending request's nonce used (`nonce_reused`) failed every read of the leaf it says it
 * committed there, `failures` times since `since` (ms since the epoch): no verdict either way, but the stack is
 * stalled past that leaf. Raised once the reads failed often enough over long enough (`leafReadEscalation`), so the
 * caller can act as on a withheld receipt (close the stack, put the node aside); before that, each failure is a
 * `NodeUnreachableError`. Its code is `receipt_withheld`; its class (and `failures`) tell it from a refused resend.
 */
export class LeafUnreadableError extends ReceiptWithheldError {
  override name = "LeafUnreadableError";
  constructor(
    nonce: bigint,
    readonly failures: number,
    readonly since: number,
    options?: AtomaErrorOptions,
    request?: PendingRequest | undefined,
  ) {
    super(nonce, options, request);
    this.message = `the node says nonce ${nonce} is used, and its leaf there could not be read ${failures} times since ${new Date(since).toISOString()}`;
  }
}

/**
 * A sealed (confidential) request whose nonce another client of the owner took (its leaf adopted): the envelope
 * is sealed to that nonce and deadline, so it is never signed again at another; seal the body again for the
 * client's next nonce (`ConfidentialSender` does, once).
 */
export class SealedNonceMovedError extends AtomaError<SdkLocalErrorCode> {
  override name = "SealedNonceMovedError";
  constructor(readonly nonce: bigint) {
    super(
      "sealed_nonce_moved",
      `another client of the owner took nonce ${nonce}, to which the request is sealed: seal it again for the next nonce`,
    );
  }
}

/**
 * The adopted-leaf audit of a stack failed partway (a challenge reverted, the RPC failed): `opened` are the
 * challenges its earlier transactions opened (each mined, and kept by `onOpened` already), `atLeaf` the leaf whose
 * challenge failed. Run it again: a leaf challenged already takes no second bond.
 */
export class AdoptedAuditInterruptedError extends AtomaError<SdkLocalErrorCode> {
  override name = "AdoptedAuditInterruptedError";
  constructor(
    readonly stackId: bigint,
    readonly opened: readonly AdoptedChallenge[],
    readonly atLeaf: bigint,
    options?: AtomaErrorOptions,
  ) {
    super(
      "adopted_audit_interrupted",
      `the audit of stack ${stackId} failed at adopted leaf ${atLeaf}, after opening ${opened.length} challenge(s)${opened.length === 0 ? "" : ` (${opened.map((c) => c.challengeId).join(", ")})`}`,
      options,
    );
  }
}

/**
 * The owner does not hold the bonds of the challenges an audit run would send (second review of issue 13, D):
 * nothing is sent (rather than failing halfway, after some bonds); top the balance up and run it again.
 */
export class ChallengeBondsShortError extends AtomaError<SdkLocalErrorCode> {
  override name = "ChallengeBondsShortError";
  constructor(
    readonly stackId: bigint,
    readonly challenges: number,
    readonly needed: bigint,
    readonly balance: bigint,
  ) {
    super(
      "challenge_bonds_short",
      `the audit of stack ${stackId} needs ${needed} wei of TOMA for ${challenges} challenge bond(s) and the owner holds ${balance}: no challenge sent`,
    );
  }
}

/** `verifyResponse` was called with arguments it cannot use (checked before anything is read or fetched). */
export class VerifyArgumentError extends AtomaError<SdkErrorCode> {
  override name = "VerifyArgumentError";
  constructor(message: string) {
    super("invalid_argument", message);
  }
}

/**
 * A client was given an argument it cannot use (a stack id that is not a bigint, a malformed address, units that
 * are not positive, a body without its model): thrown before anything is signed, sent or bought.
 */
export class ClientArgumentError extends AtomaError<SdkErrorCode> {
  override name = "ClientArgumentError";
  constructor(message: string) {
    super("invalid_argument", message);
  }
}

/** The gateway answered with an error (OpenAI's shape); `code` is the gateway's, as it sent it. */
export class GatewayRequestError extends AtomaError<SdkErrorCode | WireErrorCode> {
  override name = "GatewayRequestError";
  readonly status: number;
  /** The gateway's own code (`insufficient_quota`, `model_not_found`, ...), or `http_<status>`. */
  readonly gatewayCode: string;
  constructor(status: number, gatewayCode: string, message: string) {
    super("gateway_error", `gateway answered ${status} (${gatewayCode}): ${message}`);
    this.status = status;
    this.gatewayCode = gatewayCode;
  }
}

/** An answer's `verifyResponse` verdict has a failed check: it is not what the network's node signed for it. */
export class AnswerUnverifiedError extends AtomaError<SdkErrorCode> {
  override name = "AnswerUnverifiedError";
  readonly verdict: Verdict;
  constructor(verdict: Verdict) {
    const failed = verdict.checks.filter((check) => check.status === "fail");
    super(
      "answer_unverified",
      `the answer is not verified: ${failed.map((c) => `${c.code}: ${c.reason}`).join("; ")}`,
    );
    this.verdict = verdict;
  }
}

/** No node on the chain serves the model within the preferences (price cap, allowed nodes). */
export class NoNodeOfferedError extends AtomaError<SdkErrorCode> {
  override name = "NoNodeOfferedError";
  constructor(message: string) {
    super("no_node_offered", message);
  }
}

/**
 * A node said something the chain contradicts (a stack spent that is live): it is put aside for this client, which
 * buys nothing more from it, and no other node serves the model. A `NoNodeOfferedError` (its code) naming the node.
 */
export class NodeMisbehavedError extends NoNodeOfferedError {
  override name = "NodeMisbehavedError";
  readonly nodeId: bigint;
  constructor(nodeId: bigint, reason: string) {
    super(`node ${nodeId} is put aside: ${reason}`);
    this.nodeId = nodeId;
  }
}

/**
 * The lowest security level an answer may have could not be read (the RPC failed, or no task serves the model in
 * clear): nothing is sent rather than an answer taken at any level. Name `securityLevel` to go on without it.
 */
export class SecurityLevelUnknownError extends AtomaError<SdkErrorCode> {
  override name = "SecurityLevelUnknownError";
  constructor(model: string, reason: string, options?: AtomaErrorOptions) {
    super("security_level_unknown", `the security level serving ${model} is unknown: ${reason}`, options);
  }
}

/**
 * A security level of a model holds more live tasks than are read (`MAX_MODEL_TASKS`, the newest) and none of those
 * read is served: an older one may be, so the level is not known to be unserved. Thrown rather than taking a lower
 * level: a griefer's live but unservable tasks must not lower the security every client gets. Name the level
 * (`securityLevel`) to go on.
 */
export class ModelTasksCrowdedError extends AtomaError<SdkErrorCode> {
  override name = "ModelTasksCrowdedError";
  readonly level: number;
  constructor(model: string, level: number, live: number, read: number) {
    super(
      "model_tasks_crowded",
      `${live} live tasks of ${model} at security level ${level}, and none of the newest ${read} is served now: whether an older one is cannot be told, so no lower level is taken (name securityLevel)`,
    );
    this.level = level;
  }
}

/**
 * A network file's `deploymentBlock` that is not the TaskRegistry's: it has code the block before, or none at the head
 * (a stale `deployment.json` after an anvil state was copied, a typo). Logs read from it would miss tasks and
 * purchases, so it is ignored (the logs are read from block 0) and this says why.
 */
export class DeploymentBlockError extends AtomaError<SdkErrorCode> {
  override name = "DeploymentBlockError";
  readonly deploymentBlock: bigint;
  constructor(registry: string, deploymentBlock: bigint, why: string) {
    super(
      "network_description_invalid",
      `the network's deploymentBlock ${deploymentBlock} is not the TaskRegistry ${registry}'s (${why}): ignored, logs are read from block 0`,
    );
    this.deploymentBlock = deploymentBlock;
  }
}

/** Another process held the write lock of a state file for longer than a write takes (it did not let go). */
export class StateFileBusyError extends AtomaError<SdkLocalErrorCode> {
  override name = "StateFileBusyError";
  constructor(readonly file: string) {
    super("state_file_busy", `the state file ${file} stayed locked by another process; try again`);
  }
}
