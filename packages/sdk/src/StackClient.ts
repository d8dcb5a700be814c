import {
  AtomaError,
  type AtomaReceipt,
  atomaDomain,
  resultBytes,
  type SignedReceipt,
  type SignedResponseFields,
  STACK_HEADERS,
  signedResponseBody,
  type WireErrorCode,
} from "@atoma/core";
import { type Address, bytesToHex, type Hex, type LocalAccount, type TypedDataDomain } from "viem";
import { StreamAssembler } from "./assembleStream.js";
import { checkReceiptSequence } from "./checkReceiptSequence.js";
import {
  checkAccount,
  checkAddress,
  checkBody,
  checkChainId,
  checkHttpUrl,
  checkNodeId,
  checkPositive,
  checkPositiveInteger,
  checkStackId,
  type Endpoint,
} from "./client/clientArguments.js";
import {
  ClientArgumentError,
  NodeRequestError,
  NodeUnreachableError,
  ResponseVerificationError,
  UnhashableStreamError,
  UnitsOverSignedError,
} from "./errors.js";
import { readJsonCapped } from "./readBodyCapped.js";
import { readSse, type SseLimits } from "./readSse.js";
import { requestUnitBound } from "./requestUnitBound.js";
import { type SignedStackRequest, signStackRequest } from "./signStackRequest.js";
import { verifyReceipt } from "./verifyReceipt.js";

/** A node-signed receipt as the owner keeps it, with the result bytes of the answer it signed (its usage). */
export interface KeptReceipt extends SignedReceipt {
  result: Hex;
}

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
  /** The units the stack bought: a receipt whose running total exceeds them is refused. */
  stackUnits?: bigint | undefined;
  /** Receipts kept from earlier use of the stack: the running total continues from the last. */
  receipts?: readonly KeptReceipt[] | undefined;
  /** Called with every receipt the node signed, checked or not (the owner's evidence). */
  onReceipt?: ((receipt: KeptReceipt) => void) | undefined;
  /**
   * The nonce of the next request: the stack's next leaf index (the owner's k-th request carries nonce k).
   * @default one past the last receipt kept, else 0; when the node answers that it takes another, the client
   * follows it (never back over a receipt it holds)
   */
  firstNonce?: bigint | undefined;
  /** Seconds a signed request stays valid. @default 300 */
  deadlineSeconds?: number | undefined;
  /** Resends of the same signed request when the node cannot be reached. @default 3 */
  resends?: number | undefined;
  /** Milliseconds between resends (doubling). @default 200 */
  resendDelayMs?: number | undefined;
  /** The largest non-streamed answer read (bytes). @default 64 MiB */
  maxAnswerBytes?: number | undefined;
  /** Bounds on a streamed answer: one event, the whole stream. @default 1 MiB, 256 MiB */
  streamLimits?: SseLimits | undefined;
  fetch?: typeof fetch | undefined;
}

/** Per-request options. */
export interface RequestOptions {
  /**
   * The most units (prompt plus completion) the node may claim for this request, signed with it: the node caps
   * generation to it and a receipt above it is refused (`UnitsOverSignedError`).
   * @default `requestUnitBound`: the body's canonical JSON bytes, a template margin and `max_tokens` per choice
   */
  maxUnits?: bigint | undefined;
}

/** Default bound of a non-streamed answer: far above any honest one (embeddings of a large batch included). */
export const DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** The most bytes of a node's error answer read. */
const MAX_ERROR_BYTES = 64 * 1024;

/** A response whose `atoma` receipt was verified. */
export interface Verified<T = Record<string, unknown>> {
  /**
   * The response as far as the receipt covers it: rebuilt from its hashed fields (text, tool calls, finish reason,
   * logprobs, usage) plus id, object, created, model and system_fingerprint; for streams, the chunks added up.
   * Nothing else a node sent reaches here.
   */
  response: T;
  atoma: AtomaReceipt;
  fields: SignedResponseFields;
  /** The request body exactly as signed (the receipt's request hash is its hash): what a relay shows its client. */
  request: Record<string, unknown>;
}

type Body = Record<string, unknown>;
type Read = (answer: Response) => Promise<{ response: Body; atoma: unknown }>;

/** Codes of a node's refusal of a nonce; nothing was charged, and the answer names the nonce it takes. */
const NONCE_REFUSED = new Set(["nonce_out_of_order", "nonce_reused"]);

/**
 * Talks to the node serving one stack, as its owner. A stack takes one request at a time, in order: the k-th
 * carries nonce k and becomes leaf k, so the client sends one request at a time. It resends the same signed
 * request when the node cannot be reached (the node answers a committed one from its records, never charging
 * twice), verifies every receipt (`ResponseVerificationError`), checks its units against the usage received
 * (`UnitsMismatchError`) and its running total against the previous receipt (`RunningTotalError`), and keeps
 * every receipt the node signed (`receipts`) as evidence.
 */
export class StackClient {
  readonly domain: TypedDataDomain;
  readonly #options: StackClientOptions;
  readonly #fetch: typeof fetch;
  readonly #kept: KeptReceipt[];
  /** The last receipt that passed every check: the running total continues from it. */
  #last: KeptReceipt | undefined;
  #nextNonce: bigint;
  #queue: Promise<unknown> = Promise.resolve();

  /** Checks every option first: a bad one throws `ClientArgumentError` before anything is signed or sent. */
  constructor(options: StackClientOptions) {
    checkOptions(options);
    this.#options = options;
    const fetcher = options.fetch ?? globalThis.fetch;
    // Called as a plain function: a browser's fetch called as a method of another object throws "Illegal invocation".
    this.#fetch = (input, init) => fetcher(input, init);
    this.domain = atomaDomain(options.chainId, options.stackManager);
    this.#kept = [...(options.receipts ?? [])];
    this.#last = this.#kept.reduce<KeptReceipt | undefined>(
      (last, r) => (!last || r.fields.leafIndex > last.fields.leafIndex ? r : last),
      undefined,
    );
    this.#nextNonce = options.firstNonce ?? (this.#last ? this.#last.fields.leafIndex + 1n : 0n);
  }

  /** Every receipt the node signed for this client, in the order received (including refused ones). */
  get receipts(): readonly KeptReceipt[] {
    return this.#kept;
  }

  /** The nonce the next request is signed with. */
  get nextNonce(): bigint {
    return this.#nextNonce;
  }

  /**
   * Signs `body` with the next nonce, for callers that send it themselves (or to resend it later). The nonce
   * moves on when a receipt for it arrives, so a request that was refused leaves it for the next one.
   */
  sign(body: Body, maxUnits: bigint = requestUnitBound(body)): Promise<SignedStackRequest> {
    const deadline = BigInt(Math.floor(Date.now() / 1000) + (this.#options.deadlineSeconds ?? 300));
    return signStackRequest(this.#options.account, this.domain, {
      stackId: this.#options.stackId,
      body,
      nonce: this.#nextNonce,
      deadline,
      maxUnits,
    });
  }

  chat(body: Body, options?: RequestOptions): Promise<Verified> {
    return checked("chat", body, () =>
      this.#call("/v1/chat/completions", { ...body, stream: false }, options),
    );
  }

  completions(body: Body, options?: RequestOptions): Promise<Verified> {
    return checked("completions", body, () =>
      this.#call("/v1/completions", { ...body, stream: false }, options),
    );
  }

  embeddings(body: Body, options?: RequestOptions): Promise<Verified> {
    return checked("embeddings", body, () => this.#call("/v1/embeddings", body, options));
  }

  /**
   * A streamed chat: `onChunk` sees every chunk as far as the hash covers it (`StreamAssembler.add`: a chunk the
   * hash cannot stand for ends the stream with `UnhashableStreamError`); resolves once the final event's receipt
   * is verified.
   */
  chatStream(body: Body, onChunk?: (chunk: Body) => void, options?: RequestOptions): Promise<Verified> {
    return checked("chat", body, () =>
      this.#call("/v1/chat/completions", { ...body, stream: true }, options, onChunk),
    );
  }

  completionsStream(
    body: Body,
    onChunk?: (chunk: Body) => void,
    options?: RequestOptions,
  ): Promise<Verified> {
    return checked("completions", body, () =>
      this.#call("/v1/completions", { ...body, stream: true }, options, onChunk),
    );
  }

  /** Sends an already signed request (again), and verifies the answer. */
  send(path: string, signed: SignedStackRequest): Promise<Verified> {
    return this.#serial(() => this.#send(path, signed, this.#readJson));
  }

  /**
   * Sends an already signed streaming request (again), and verifies the final receipt. When the connection
   * breaks mid-stream the same signed request is resent and `onChunk` sees the answer again from its start
   * (the node answers a committed request from its records, as one chunk).
   */
  sendStream(path: string, signed: SignedStackRequest, onChunk?: (chunk: Body) => void): Promise<Verified> {
    return this.#serial(() => this.#send(path, signed, this.#readStream(onChunk)));
  }

  #call(
    path: string,
    body: Body,
    options: RequestOptions | undefined,
    onChunk?: (chunk: Body) => void,
  ): Promise<Verified> {
    const read = body.stream === true ? this.#readStream(onChunk) : this.#readJson;
    if (options?.maxUnits === undefined && this.#options.stackUnits === undefined) requestUnitBound(body);
    return this.#serial(async () =>
      this.#send(path, await this.sign(body, options?.maxUnits ?? this.#defaultBound(body)), read),
    );
  }

  /**
   * The body's own bound (`requestUnitBound`); for a chat or completion that names no `max_tokens`, what is left of
   * the stack, when the client knows its size: the node cannot charge past that anyway.
   */
  #defaultBound(body: Body): bigint {
    const stackUnits = this.#options.stackUnits;
    try {
      return requestUnitBound(body);
    } catch (error) {
      if (stackUnits === undefined) throw error;
      const used = this.#last?.fields.cumulativeUnits ?? 0n;
      return stackUnits > used ? stackUnits - used : 1n;
    }
  }

  /** One request at a time: the stack numbers its leaves in the order requests arrive. */
  #serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Sends and verifies; when the node refuses the nonce (this client's count drifted: a request signed but never
   * sent, another client of the owner) and names the one it takes, signs the body again with it, once — never
   * going back over a leaf this client holds a receipt for.
   */
  async #send(path: string, signed: SignedStackRequest, read: Read): Promise<Verified> {
    try {
      return await this.#exchangeAndVerify(path, signed, read);
    } catch (error) {
      const next = error instanceof NodeRequestError ? error.nextNonce : undefined;
      const refused = error instanceof NodeRequestError && NONCE_REFUSED.has(error.code);
      const forward = next !== undefined && (this.#last === undefined || next > this.#last.fields.leafIndex);
      if (!refused || !forward || next === signed.nonce) throw error;
      this.#nextNonce = next;
      return this.#exchangeAndVerify(
        path,
        await this.sign(JSON.parse(signed.json) as Body, signed.maxUnits),
        read,
      );
    }
  }

  async #exchangeAndVerify(path: string, signed: SignedStackRequest, read: Read): Promise<Verified> {
    const { response, atoma } = await this.#exchange(path, signed, read);
    return this.#verify(response, atoma, signed);
  }

  async #verify(response: Body, atoma: unknown, signed: SignedStackRequest): Promise<Verified> {
    const { receipt, fields } = await verifyReceipt(response, atoma, {
      domain: this.domain,
      nodeSigner: this.#options.nodeSigner,
      stackId: this.#options.stackId,
      reqHash: signed.reqHash,
      nodeId: this.#options.nodeId,
    });
    const kept: KeptReceipt = {
      fields,
      signature: receipt.signature,
      result: bytesToHex(resultBytes(response)),
    };
    const again = this.#kept.find((k) => k.signature === kept.signature);
    if (!again) {
      this.#kept.push(kept);
      this.#options.onReceipt?.(kept);
    }
    // The leaf is charged whatever its checks say: the next request takes the next nonce.
    if (fields.leafIndex === signed.nonce && fields.leafIndex >= this.#nextNonce)
      this.#nextNonce = fields.leafIndex + 1n;
    checkReceiptSequence(kept, this.#last, {
      nonce: signed.nonce,
      usage: response.usage as { prompt_tokens: number; completion_tokens?: number },
      stackUnits: this.#options.stackUnits,
    });
    // After the sequence checks, whose errors prove a false receipt on-chain by themselves.
    if (fields.units > signed.maxUnits) throw new UnitsOverSignedError(kept, signed.maxUnits);
    if (!this.#last || fields.leafIndex > this.#last.fields.leafIndex) this.#last = kept;
    const request = JSON.parse(signed.json) as Body;
    return { response: signedResponseBody(response), atoma: receipt, fields, request };
  }

  readonly #readJson: Read = async (answer) => {
    const body = await readJsonCapped(answer, this.#options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES);
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new ResponseVerificationError("the node's answer is not a JSON object");
    const { atoma, ...response } = body as Body;
    return { response, atoma };
  };

  #readStream(onChunk?: (chunk: Body) => void): Read {
    const limits = this.#options.streamLimits;
    return async (answer) => {
      if (!answer.body) throw new ResponseVerificationError("the node sent no stream");
      const assembler = new StreamAssembler();
      let atoma: unknown;
      for await (const event of readSse(answer.body, limits)) {
        if (typeof event !== "object" || event === null || Array.isArray(event))
          throw new UnhashableStreamError("a stream event is not a JSON object");
        const chunk = event as Body;
        if (chunk.error) throw new NodeRequestError(200, chunk.error as NodeErrorBody);
        const relayed = assembler.add(chunk);
        if (!chunk.atoma) onChunk?.(relayed);
        else if ((relayed.choices as unknown[]).length > 0)
          throw new UnhashableStreamError("the receipt event carries answer text that is never relayed");
        else atoma = chunk.atoma;
      }
      return { response: assembler.response(), atoma };
    };
  }

  /**
   * POSTs the signed request and reads the answer, resending the request unchanged while the node cannot be
   * reached or the connection breaks before the answer is read. An error the node answers is not retried.
   */
  async #exchange(
    path: string,
    signed: SignedStackRequest,
    read: Read,
  ): Promise<{ response: Body; atoma: unknown }> {
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
          // A redirect would send the signed request where the node's registered URL does not point.
          redirect: "error",
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

/** Rejects (rather than throws) a body `checkBody` refuses, before `run` signs anything. */
function checked<T>(endpoint: Endpoint, body: unknown, run: () => Promise<T>): Promise<T> {
  try {
    checkBody(endpoint, body);
  } catch (error) {
    return Promise.reject(error);
  }
  return run();
}

function checkOptions(options: StackClientOptions): void {
  if (typeof options !== "object" || options === null)
    throw new ClientArgumentError("StackClient takes an options object");
  checkHttpUrl(options.nodeUrl, "nodeUrl");
  checkAccount(options.account);
  checkStackId(options.stackId);
  checkChainId(options.chainId);
  checkAddress(options.stackManager, "stackManager");
  checkAddress(options.nodeSigner, "nodeSigner");
  checkNodeId(options.nodeId);
  if (options.stackUnits !== undefined) checkPositive(options.stackUnits, "stackUnits");
  if (options.firstNonce !== undefined && (typeof options.firstNonce !== "bigint" || options.firstNonce < 0n))
    throw new ClientArgumentError("firstNonce must be a bigint of at least 0n");
  for (const name of ["deadlineSeconds", "resendDelayMs", "maxAnswerBytes"] as const)
    if (options[name] !== undefined) checkPositiveInteger(options[name], name);
  if (options.resends !== undefined && (!Number.isSafeInteger(options.resends) || options.resends < 0))
    throw new ClientArgumentError("resends must be a whole number of at least 0");
}

interface NodeErrorBody {
  message: string;
  type: string;
  /** What the node sent; a node of another version may send a code this one does not list. */
  code: WireErrorCode;
}

async function nodeError(answer: Response): Promise<NodeRequestError> {
  const retryAfter = answer.headers.get("retry-after");
  const nextNonce = answer.headers.get(STACK_HEADERS.nextNonce);
  let error: NodeErrorBody = { message: answer.statusText, type: "unknown", code: `http_${answer.status}` };
  try {
    const body = (await readJsonCapped(answer, MAX_ERROR_BYTES)) as { error?: NodeErrorBody };
    if (body.error) error = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new NodeRequestError(
    answer.status,
    error,
    retryAfter === null ? undefined : Number(retryAfter),
    nextNonce !== null && /^(0|[1-9]\d{0,77})$/.test(nextNonce) ? BigInt(nextNonce) : undefined,
  );
}
