import {
  attesterCandidatesOf,
  drawAttesters,
  drawNode,
  findArmedAttesterDraws,
  findArmedNodeDraws,
  getStack,
  latestBlock,
  readArmedAttesterDraw,
  StackStatus,
} from "@atoma/chain";
import type { Logger } from "@atoma/core";
import type { NodeSeat } from "../service/nodeSeat.js";
import { describeError } from "./describeError.js";

/** Blocks scanned back on start: a draw armed earlier than its hash horizon is re-armed by whoever draws it. */
const HORIZON = 256n;

interface Armed {
  kind: "node" | "attesters";
  stackId: bigint;
  armedAt: bigint;
}

/**
 * The backstop that keeps draws from being left to the party that triggered them. A buyer (or a server) could
 * arm a draw, read the armed block's hash, and, disliking the outcome, never draw: after 256 blocks a walked or
 * set purchase's draw re-arms and it would get another try (a listed purchase, the chain package's default, is then
 * cancelled and refunded instead, so a drawn node that does not draw loses the sale). This node draws, a few blocks after arming, every pending node draw it is
 * a candidate of and every attester draw of a settlement it could attest; the draw's outcome is the armed block's
 * whoever calls it. It scans the chain itself (a cursor in memory; on start the last 256 blocks), so a restart
 * loses nothing that still matters.
 */
export class DrawKeeper {
  readonly #chain: NodeSeat;
  readonly #logger: Logger;
  readonly #armed = new Map<string, Armed>();
  #cursor: bigint | undefined;

  constructor(chain: NodeSeat, logger: Logger) {
    this.#chain = chain;
    this.#logger = logger;
  }

  /** Blocks this node waits after a draw is armed before drawing it (staggered by node, so few race). */
  static graceBlocks(nodeId: bigint): bigint {
    return 2n + (nodeId % 4n);
  }

  async tick(nodeId: bigint): Promise<void> {
    const latest = (await latestBlock(this.#chain)).number;
    await this.#scan(nodeId, latest);
    const grace = DrawKeeper.graceBlocks(nodeId);
    for (const [key, armed] of this.#armed) {
      if (latest < armed.armedAt + grace) continue;
      try {
        const rearmedAt = await this.#draw(nodeId, armed);
        if (rearmedAt === undefined) this.#armed.delete(key);
        else armed.armedAt = rearmedAt;
      } catch (error) {
        const reason = describeError(error);
        this.#logger.debug(
          { stackId: armed.stackId, kind: armed.kind, error: reason },
          "draw not done; later",
        );
      }
    }
  }

  async #scan(nodeId: bigint, latest: bigint): Promise<void> {
    const fromBlock = this.#cursor ?? (latest > HORIZON ? latest - HORIZON : 0n);
    if (fromBlock > latest) return;
    const range = { fromBlock, toBlock: latest };
    const [requested, armed] = await Promise.all([
      findArmedNodeDraws(this.#chain, range),
      findArmedAttesterDraws(this.#chain, range),
    ]);
    for (const args of requested) {
      if (!args.stackId || !args.candidates?.some((c) => c.nodeId === nodeId)) continue;
      this.#armed.set(`node:${args.stackId}`, {
        kind: "node",
        stackId: args.stackId,
        armedAt: args.armedAt ?? 0n,
      });
    }
    for (const args of armed) {
      if (!args.stackId) continue;
      this.#armed.set(`attesters:${args.stackId}`, {
        kind: "attesters",
        stackId: args.stackId,
        armedAt: args.armedAt ?? 0n,
      });
    }
    this.#cursor = latest + 1n;
  }

  /**
   * Draws `armed` when it is still pending and this node may be drawn by it. Returns the block it was re-armed on
   * when its hash had expired (draw again later), undefined when there is nothing more to do.
   */
  async #draw(nodeId: bigint, armed: Armed): Promise<bigint | undefined> {
    const chain = this.#chain;
    if (armed.kind === "node") {
      const stack = await getStack(chain, armed.stackId);
      if (stack.status !== StackStatus.Pending) return undefined;
      const drawn = await drawNode(chain, { stackId: armed.stackId });
      this.#logger.info(
        { stackId: armed.stackId, outcome: drawn.outcome },
        "drew a stack's node left undrawn",
      );
      return drawn.outcome === "rearmed" ? drawn.armedAt : undefined;
    }
    const state = await readArmedAttesterDraw(chain, armed.stackId);
    if (state.armedAt === 0n) return undefined;
    const candidates = await attesterCandidatesOf(chain, armed.stackId);
    if (!candidates.includes(nodeId)) return undefined;
    const drawn = await drawAttesters(chain, { stackId: armed.stackId, candidates });
    this.#logger.info({ stackId: armed.stackId, outcome: drawn.outcome }, "drew attesters left undrawn");
    // A private selection window opened: it is closed by another draw once it ends (before, the draw reverts
    // `SelectionWindowOpen` and is tried again); a fallback armed a public draw on a later block.
    if (drawn.outcome === "selectionOpened") return armed.armedAt;
    return drawn.outcome === "rearmed" || drawn.outcome === "fallback" ? drawn.armedAt : undefined;
  }
}
