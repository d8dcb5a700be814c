import type { Context } from "hono";
import { sealWholeAnswer } from "../confidential/sealedAnswer.js";
import type { StackApi } from "./apiContext.js";
import { commitAnswer } from "./commitAnswer.js";
import { recordSuccess } from "./outcome.js";
import { signReceipt } from "./receipt.js";
import { releaseQuietly } from "./reserve.js";
import { runEngine } from "./runEngine.js";
import type { Admitted } from "./signedRequest.js";

/**
 * Runs a non-streamed request on its reservation: the engine, then the leaf committed with the real usage
 * (before a byte of the answer is written), then the signed answer. Releases the reservation on any failure:
 * an answer that could not be recorded is never sent (the client gets an OpenAI-shaped error instead).
 */
export async function completeInference(api: StackApi, c: Context, admitted: Admitted): Promise<Response> {
  const { endpoint, reservation } = admitted;
  let committed = false;
  try {
    const { response, seed } = await runEngine(api.engine, admitted.prepared, admitted.body, admitted.signal);
    // A confidential answer is sealed before anything records it: the leaf holds the sealed answer only.
    const answer = admitted.sealer ? sealWholeAnswer(admitted.sealer, response) : response;
    const leaf = await commitAnswer(api, admitted, answer, seed);
    committed = true;
    recordSuccess(api, endpoint, response.usage, admitted.started);
    return c.json({ ...answer, atoma: await signReceipt(api, leaf) });
  } finally {
    if (!committed) await releaseQuietly(api, reservation);
  }
}
