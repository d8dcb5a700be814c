import { type ChainContext, dropUnattestedPeers } from "@atoma/chain";
import type { Logger } from "@atoma/core";

/**
 * The keeper a confidential node runs: every `pollMs` (its epoch check's period), each other subscriber of its own
 * level-3 tasks that the attestation registry no longer accepts (expired record, measurement or dev kind
 * withdrawn) is dropped on-chain (`dropUnattestedPeers`). The node pays the gas, and it is the one that gains: a
 * stale peer holds a subscriber slot and draws work it may not serve. A failed pass is logged and tried again.
 */
export function startPeerDropper(
  seat: ChainContext,
  options: { nodeId: bigint; pollMs: number; logger: Logger },
): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const pass = async () => {
    try {
      const dropped = await dropUnattestedPeers(seat, { nodeId: options.nodeId });
      for (const { taskId, nodeId, standing } of dropped)
        options.logger.info(
          { taskId: String(taskId), peer: String(nodeId), standing },
          "dropped a peer's unattested confidential subscription",
        );
    } catch (error) {
      options.logger.warn(
        { code: (error as { code?: unknown }).code },
        "could not drop unattested peers; trying again",
      );
    }
    if (!stopped) timer = setTimeout(() => void pass(), options.pollMs);
  };
  timer = setTimeout(() => void pass(), options.pollMs);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
