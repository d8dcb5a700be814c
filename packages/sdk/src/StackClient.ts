import { AtomaError, type AtomaReceipt, atomaDomain, type SignedResponseFields } from "@atoma/core";
import type { Address, LocalAccount, TypedDataDomain } from "viem";
import { StreamAssembler } from "./assembleStream.js";
import { NodeRequestError, NodeUnreachableError, ResponseVerificationError } from "./errors.js";
import { readSse } from "./readSse.js";
import { type SignedStackRequest, signStackRequest } from "./signStackRequest.js";
import { verifyReceipt } from "./verifyReceipt.js";

export interface StackClientOptions {
  /** The serving node's base URL (without `/v1`). */
  nodeUrl: string;
  /** The stack owner's key. */
  account: LocalAccount;
  stackId: bigint;
  chainId: number;
  /** The StackManager contract (the EIP-712 verifying contract). */
  stackManager: Address;
  /** The node's signing address: every receipt must recover to it. */
  nodeSigner: Address;
  /** The serving node's id, checked against receipts when given. */
  nodeId?: bigint | undefined;
  /** The first nonce; each request takes the next. @default milliseconds since 1970 × 1000 (fresh across runs) */
  firstNonce?: bigint | undefined;
  /** Seconds a signed request stays valid. @default 300 */
  deadlineSeconds?: number | undefined;
  /** Resends of the same signed request when the node cannot be reached. @default 3 */
  resends?: number | undefined;
  /** Milliseconds between resends (doubling). @default 200 */
  resendDelayMs?: number | undefined;
  fetch?: typeof fetch | undefined;
}

/** A response whose `atoma` receipt was verified. */
export interface Verified<T = Record<string, unknown>> {
  /** The response body without the atoma object (for streams: the chunks added up). */
  response: T;
  atoma: AtomaReceipt;
  fields: SignedResponseFields;
}

type Body = Record<string, unknown>;

/**
 * Talks to the node serving one stack, as its owner: signs each request (sequential nonces), resends the same
 * signed request when the node cannot be reached (the node answers a committed one from its records, never
 * charging twice), and verifies every receipt (`ResponseVerificationError` when it does not hold).
 */
export class StackClient {
  readonly domain: TypedDataDomain;
  readonly #options: StackClientOptions;
  readonly #fetch: typeof fetch;
  #nextNonce: bigint;

  constructor(options: StackClientOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.domain = atomaDomain(options.chainId, options.stackManager);
    this.#nextNonce = options.firstNonce ?? BigInt(Date.now()) * 1000n;
  }

  /** Signs `body` with the next nonce, for callers that send it themselves (or to resend it later). */
  sign(body: Body): Promise<SignedStackRequest> {
    const nonce = this.#nextNonce++;
    const deadline = BigInt(Math.floor(Date.now() / 1000) + (this.#options.deadlineSeconds ?? 300));
    return signStackRequest(this.#options.account, this.domain, {
      stackId: this.#options.stackId,
      body,
      nonce,
      deadline,
    });
  }

  chat(body: Body): Promise<Verified> {
    return this.#call("/v1/chat/completions", { ...body, stream: false });
  }

  completions(body: Body): Promise<Verified> {
    return this.#call("/v1/completions", { ...body, stream: false });
  }

  embeddings(body: Body): Promise<Verified> {
    return this.#call("/v1/embeddings", body);
  }

  /** A streamed chat: `onChunk` sees every chunk; resolves once the final event's receipt is verified. */
  chatStream(body: Body, onChunk?: (chunk: Body) => void): Promise<Verified> {
    return this.#stream("/v1/chat/completions", body, onChunk);
  }

  completionsStream(body: Body, onChunk?: (chunk: Body) => void): Promise<Verified> {
    return this.#stream("/v1/completions", body, onChunk);
  }

  /** Sends an already signed request (again), and verifies the answer. */
  async send(path: string, signed: SignedStackRequest): Promise<Verified> {
    const { atoma, ...response } = await this.#exchange(
      path,
      signed,
      async (answer) => (await answer.json()) as Body,
    );
    return this.#verify(response, atoma, signed);
  }

  /**
   * Sends an already signed streaming request (again), and verifies the final receipt. When the connection
   * breaks mid-stream the same signed request is resent and `onChunk` sees the answer again from its start
   * (the node answers a committed request from its records, as one chunk).
   */
  async sendStream(
    path: string,
    signed: SignedStackRequest,
    onChunk?: (chunk: Body) => void,
  ): Promise<Verified> {
    const { response, atoma } = await this.#exchange(path, signed, async (answer) => {
      if (!answer.body) throw new ResponseVerificationError("the node sent no stream");
      const assembler = new StreamAssembler();
      let atoma: unknown;
      for await (const event of readSse(answer.body)) {
        const chunk = event as Body;
        if (chunk.error) throw new NodeRequestError(200, chunk.error as NodeErrorBody);
        assembler.add(chunk);
        if (chunk.atoma) atoma = chunk.atoma;
        else onChunk?.(chunk);
      }
      return { response: assembler.response(), atoma };
    });
    return this.#verify(response, atoma, signed);
  }

  async #call(path: string, body: Body): Promise<Verified> {
    return this.send(path, await this.sign(body));
  }

  async #stream(path: string, body: Body, onChunk?: (chunk: Body) => void): Promise<Verified> {
    return this.sendStream(path, await this.sign({ ...body, stream: true }), onChunk);
  }

  async #verify(response: Body, atoma: unknown, signed: SignedStackRequest): Promise<Verified> {
    const { receipt, fields } = await verifyReceipt(response, atoma, {
      domain: this.domain,
      nodeSigner: this.#options.nodeSigner,
      stackId: this.#options.stackId,
      reqHash: signed.reqHash,
      nodeId: this.#options.nodeId,
    });
    return { response, atoma: receipt, fields };
  }

  /**
   * POSTs the signed request and reads the answer, resending the request unchanged while the node cannot be
   * reached or the connection breaks before the answer is read. An error the node answers is not retried.
   */
  async #exchange<T>(
    path: string,
    signed: SignedStackRequest,
    read: (answer: Response) => Promise<T>,
  ): Promise<T> {
    const attempts = 1 + (this.#options.resends ?? 3);
    let delay = this.#options.resendDelayMs ?? 200;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
      let answer: Response;
      try {
        answer = await this.#fetch(new URL(path, this.#options.nodeUrl), {
          method: "POST",
          headers: { "content-type": "application/json", ...signed.headers },
          body: signed.json,
        });
      } catch (error) {
        lastError = error;
        continue;
      }
      if (!answer.ok) throw await nodeError(answer);
      try {
        return await read(answer);
      } catch (error) {
        if (error instanceof AtomaError) throw error;
        lastError = error;
      }
    }
    throw new NodeUnreachableError(`${this.#options.nodeUrl} cannot be reached`, { cause: lastError });
  }
}

interface NodeErrorBody {
  message: string;
  type: string;
  code: string;
}

async function nodeError(answer: Response): Promise<NodeRequestError> {
  const retryAfter = answer.headers.get("retry-after");
  let error: NodeErrorBody = { message: answer.statusText, type: "unknown", code: `http_${answer.status}` };
  try {
    const body = (await answer.json()) as { error?: NodeErrorBody };
    if (body.error) error = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new NodeRequestError(answer.status, error, retryAfter === null ? undefined : Number(retryAfter));
}
