import { drawConsensusSeats } from "@atoma/chain";
import type { ConsensusEnv } from "./consensusEnv.js";
import { type DrawRow, drawCandidates, updateDraw } from "./draws.js";

/**
 * One step of a pending draw. The requester's own client usually draws in the block after its request; when it
 * does not, the request's candidates do, by turns in the order its event named them, so a request never waits on
 * the party that made it (nor can that party hold its draw back to wait for a re-armed one).
 */
export async function advanceDraw(env: ConsensusEnv, draw: DrawRow, latestBlock: bigint): Promise<void> {
  if (latestBlock < draw.draw_block) return;
  const candidates = drawCandidates(draw);
  const rank = candidates.indexOf(env.nodeId);
  if (rank < 0) {
    await updateDraw(env.db, draw.request_id, { state: "skipped" });
    return;
  }
  if (!env.turns.mine(`draw:${draw.request_id}`, rank)) return;
  const drawn = await drawConsensusSeats(env.seat, { requestId: draw.request_id, candidates });
  if (drawn.outcome === "rearmed") {
    // The recorded block's hash had expired: the next draw, a block later, uses the new one.
    await updateDraw(env.db, draw.request_id, { draw_block: drawn.drawBlock });
    env.turns.done(`draw:${draw.request_id}`);
    return;
  }
  await updateDraw(env.db, draw.request_id, { state: drawn.outcome === "drawn" ? "done" : "failed" });
  env.logger.info({ requestId: draw.request_id, outcome: drawn.outcome }, "drew a consensus request's seats");
}
