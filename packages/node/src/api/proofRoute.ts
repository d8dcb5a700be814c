import type { NodeDb } from "../db/openStateDatabase.js";
import type { NodeApp } from "../http/nodeEnv.js";
import { type ProofChain, readLeafProof, uintParam } from "./leafProof.js";
import { SettledTreeCache } from "./settledTreeCache.js";

/**
 * `GET /v1/stacks/{id}/proof/{leaf}`: a settled stack's leaf with its inclusion proof under the root on-chain.
 * Public: it shows only hashes and counts. 404 (`unknown_stack`, `leaf_not_found`) and 409 (`stack_not_settled`)
 * in OpenAI's error shape; a proof never changes once given, so it may be cached.
 */
export function proofRoute(app: NodeApp, db: NodeDb, chain: ProofChain): void {
  // Every public GET would otherwise read and hash all of a stack's leaves again.
  const cache = new SettledTreeCache();
  app.get("/v1/stacks/:stackId/proof/:leafIndex", async (c) => {
    const stackId = uintParam(c.req.param("stackId"), "stackId");
    const leafIndex = uintParam(c.req.param("leafIndex"), "leafIndex");
    const proof = await readLeafProof(db, chain, stackId, leafIndex, cache);
    return c.json(proof, 200, { "cache-control": "public, max-age=60" });
  });
}
