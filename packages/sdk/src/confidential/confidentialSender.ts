import { type ChainContext, stackManagerAbi } from "@atoma/chain/portable";
import type { Hex } from "viem";
import { restartGuard } from "../client/restartGuard.js";
import { NodeRequestError, SealedNonceMovedError } from "../errors.js";
import type { SseLimits } from "../readSse.js";
import { requestUnitBound } from "../requestUnitBound.js";
import { DEFAULT_MAX_ANSWER_BYTES, type StackClient, type Verified } from "../StackClient.js";
import type { UsableStack } from "../stackChoice.js";
import {
  AttestationRefusedError,
  AttestationUnavailableError,
  type AttestationVerdict,
} from "./attestationVerdict.js";
import { type AttestTarget, attestNode } from "./attestNode.js";
import type { ConfidentialOptions } from "./confidentialOptions.js";
import { type ConfidentialModule, loadConfidential } from "./loadConfidential.js";
import { type Opened, readSealedJson, readSealedStream } from "./sealedAnswer.js";

type Reader = Awaited<ReturnType<ConfidentialModule["sealConfidentialRequest"]>>["reader"];

type Body = Record<string, unknown>;

/** A node attested for one stack: the key requests to it are sealed to, while the verdict is young enough. */
export interface Attested {
  verdict: AttestationVerdict;
  key: Hex;
  taskId: bigint;
}

/** A confidential answer: the receipt-checked sealed exchange, and what the client opened from it. */
export interface SealedVerified {
  verified: Verified;
  /** The OpenAI response, opened (never sent anywhere). */
  opened: Body;
  attestation: AttestationVerdict;
}

const DEFAULT_MAX_AGE_MS = 300_000;

/**
 * Refusals a fresh seal answers: the node's key rotated (`confidential_undecryptable`), or the request was re-signed
 * for the nonce the node named (a stack reused from another client), so its seal is bound to the old nonce or was
 * already opened there (`confidential_replayed`).
 */
const RESEAL = new Set(["confidential_undecryptable", "confidential_replayed"]);

/**
 * The non-custodial client's confidential side: attests each node it is about to use (a fresh nonce, the
 * evidence, the chain's record and allow-list), seals every request to the attested key bound to the signed stack,
 * nonce, deadline and path, and opens the sealed answer. The plaintext leaves only sealed.
 */
export class ConfidentialSender {
  readonly #options: ConfidentialOptions;
  readonly #devRoot: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #streamLimits: SseLimits | undefined;
  #module: Promise<{
    confidential: ConfidentialModule;
    nonces: InstanceType<ConfidentialModule["NonceStore"]>;
  }>;

  constructor(
    options: ConfidentialOptions,
    components: { devRoot?: string | undefined; fetch: typeof fetch; streamLimits?: SseLimits | undefined },
  ) {
    this.#options = options;
    this.#devRoot = options.devRootCertificatePem ?? components.devRoot;
    this.#fetch = components.fetch;
    this.#streamLimits = components.streamLimits;
    this.#module = Promise.resolve().then(async () => {
      const confidential = await loadConfidential();
      return { confidential, nonces: new confidential.NonceStore() };
    });
  }

  /**
   * Attests the node serving `stack`; throws `AttestationRefusedError` (with the verdict) when a check fails,
   * `AttestationUnavailableError` when the node's evidence or the chain's record could not be had for now.
   */
  async attest(ctx: ChainContext, stack: UsableStack): Promise<Attested> {
    const { taskId } = await ctx.publicClient.readContract({
      address: ctx.addresses.StackManager,
      abi: stackManagerAbi,
      functionName: "getStack",
      args: [stack.stackId],
    });
    return this.attestNode(ctx, {
      nodeId: stack.nodeId,
      url: stack.nodeUrl,
      signer: stack.nodeSigner,
      taskId: BigInt(taskId),
    });
  }

  /**
   * Attests a node for `target.taskId` before any stack is bought from it (or sealed to); throws
   * `AttestationRefusedError` (with the verdict) when a check fails.
   */
  async attestNode(ctx: ChainContext, target: AttestTarget): Promise<Attested> {
    const { confidential, nonces } = await this.#module;
    const verdict = await attestNode({ confidential, chain: ctx, fetch: this.#fetch, nonces }, target, {
      devRootCertificatePem: this.#devRoot,
      allowedTcbStatuses: this.#options.allowedTcbStatuses,
      minTcbEvaluationDataNumber: this.#options.minTcbEvaluationDataNumber,
      gpu: this.#options.gpu,
      epochEvidence: this.#options.epochEvidence,
    });
    if (verdict.transient) throw new AttestationUnavailableError(verdict);
    if (!verdict.ok || verdict.encryptionPublicKey === undefined) throw new AttestationRefusedError(verdict);
    return { verdict, key: verdict.encryptionPublicKey as Hex, taskId: target.taskId };
  }

  /** True when the attestation is older than `maxAttestationAgeMs`: check the node again before sealing to it. */
  stale(attested: Attested): boolean {
    const age = Date.now() - attested.verdict.checkedAt.getTime();
    return age > (this.#options.maxAttestationAgeMs ?? DEFAULT_MAX_AGE_MS);
  }

  /**
   * Seals `body` to the attested key for the next nonce of `client`'s stack, signs the envelope (its unit bound the
   * plaintext's), sends it and opens the answer. When the node cannot open it (it rotated its key, or named another
   * nonce than the one sealed to: `RESEAL`), the node is attested again and the request sealed again, once.
   */
  async send(
    ctx: ChainContext,
    stack: UsableStack,
    client: StackClient,
    attested: Attested,
    path: string,
    body: Body,
    onChunk?: (chunk: Body) => void,
    onRestart?: () => void,
  ): Promise<SealedVerified & { attested: Attested }> {
    const guard = restartGuard(onChunk, onRestart);
    let current = this.stale(attested) ? await this.attest(ctx, stack) : attested;
    try {
      return {
        ...(await this.#sendOnce(stack.stackId, client, current, path, body, guard.onChunk, guard.onRestart)),
        attested: current,
      };
    } catch (error) {
      // Only an HTTP refusal (nothing opened, nothing pending) is resealed: a code inside a stream is never one.
      // So is one whose nonce another client of the owner took (its leaf adopted): never signed again unsealed.
      const moved = error instanceof SealedNonceMovedError;
      if (!(moved || (error instanceof NodeRequestError && error.status !== 200 && RESEAL.has(error.code))))
        throw error;
      // Sealed again, the answer is another: what was shown of the first is dropped first (or the call fails).
      guard.beforeAnother(error);
      current = await this.attest(ctx, stack);
      return {
        ...(await this.#sendOnce(stack.stackId, client, current, path, body, guard.onChunk, guard.onRestart)),
        attested: current,
      };
    }
  }

  async #sendOnce(
    stackId: bigint,
    client: StackClient,
    attested: Attested,
    path: string,
    body: Body,
    onChunk?: (chunk: Body) => void,
    onRestart?: () => void,
  ): Promise<SealedVerified> {
    const { confidential } = await this.#module;
    let reader: Reader | undefined;
    const current = () => {
      if (!reader) throw new Error("no request sealed yet");
      return reader;
    };
    const opened: Opened = {};
    // Signed in the clear: bounded by the padded bucket, so the bound tells no more of the prompt than the envelope.
    const maxUnits = requestUnitBound(body, confidential.sealedRequestSize);
    const names = {
      answer: confidential.SEALED_ANSWER_OBJECT,
      chunk: confidential.SEALED_CHUNK_OBJECT,
      end: confidential.SEALED_END_OBJECT,
      error: confidential.SEALED_ERROR_OBJECT,
    };
    const reading = (from: () => Reader, into: Opened, show?: (chunk: Body) => void, restart?: () => void) =>
      body.stream === true
        ? readSealedStream(from, into, names, this.#streamLimits, show, restart)
        : readSealedJson(from, into, DEFAULT_MAX_ANSWER_BYTES, names.answer);
    const read = reading(current, opened, onChunk, onRestart);
    // Left pending, it is resent before the stack's next request, after its caller gave up: read under a new salt
    // with this request's own opener (its signed body is only the envelope), shown to no one.
    const resend = reading(() => current().retry(), {});
    const verified = await client.sendReading(
      path,
      async () => {
        const nonce = client.nextNonce;
        const deadline = client.deadline();
        const sealed = await confidential.sealConfidentialRequest(attested.key, body, {
          stackId,
          nonce,
          deadline,
          path,
        });
        reader = sealed.reader;
        return client.sign(sealed.body as unknown as Body, maxUnits, deadline);
      },
      read,
      resend,
    );
    if (!opened.response) throw new Error("the answer was verified but not opened");
    return { verified, opened: opened.response, attestation: attested.verdict };
  }
}
