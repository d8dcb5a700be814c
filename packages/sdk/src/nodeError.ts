import { STACK_HEADERS, type WireErrorCode } from "@atoma/core";
import { NodeRequestError } from "./errors.js";
import { readJsonCapped } from "./readBodyCapped.js";

/** The most bytes of a node's error answer read. */
const MAX_ERROR_BYTES = 64 * 1024;

export interface NodeErrorBody {
  message: string;
  type: string;
  /** What the node sent; a node of another version may send a code this one does not list. */
  code: WireErrorCode;
}

/** The node's refusal (OpenAI's error shape, its next nonce, retry delay and any `atoma` object) as an error. */
export async function nodeError(answer: Response): Promise<NodeRequestError> {
  const retryAfter = answer.headers.get("retry-after");
  const nextNonce = answer.headers.get(STACK_HEADERS.nextNonce);
  let error: NodeErrorBody = { message: answer.statusText, type: "unknown", code: `http_${answer.status}` };
  let atoma: unknown;
  let denial: unknown;
  try {
    const body = (await readJsonCapped(answer, MAX_ERROR_BYTES)) as {
      error?: NodeErrorBody;
      atoma?: unknown;
      denial?: unknown;
    };
    if (body.error) error = body.error;
    atoma = body.atoma;
    denial = body.denial;
  } catch {
    // not JSON: keep the status line
  }
  return new NodeRequestError(
    answer.status,
    error,
    retryAfter === null ? undefined : Number(retryAfter),
    nextNonce !== null && /^(0|[1-9]\d{0,77})$/.test(nextNonce) ? BigInt(nextNonce) : undefined,
    atoma,
    denial,
  );
}
