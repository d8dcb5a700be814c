import type { NodeConfig } from "../config/loadConfig.js";
import { dutyEnvOf } from "../duties/dutyEnv.js";
import type { NodePartFactory } from "../service/nodePart.js";
import { missingContracts } from "../service/nodeSeat.js";
import { attestationEventSources } from "./attestationEvents.js";
import { AttestationWorker } from "./attestationWorker.js";
import type { CommitStrategy } from "./commitStrategy.js";
import { VrfKeyMismatchError } from "./errors.js";
import { honestStrategy } from "./honestStrategy.js";
import { TranscriptCache } from "./transcriptCache.js";
import { sharedVrfKeyKeeper } from "./vrfKey.js";

export interface AttestationPartOptions {
  /** Milliseconds between passes over the open duties. @default 2000 */
  pollIntervalMs?: number | undefined;
  /** Blocks searched back from a duty's event for its stack's settlement. @default 100000 */
  lookbackBlocks?: bigint | undefined;
  /** Milliseconds allowed for fetching a transcript. @default 30000 */
  fetchTimeoutMs?: number | undefined;
  /**
   * Duties still to commit worked on at once (as many again for committed and revealed ones). @default
   * `settlement.maxConcurrentDuties` of the node's configuration
   */
  concurrency?: number | undefined;
  /** Longest one step of a duty may run. @default 600000 */
  stepTimeoutMs?: number | undefined;
  /**
   * Milliseconds between the chain's blocks: a privately selected node does not send its proof with fewer than two
   * block times left in the window (it could land late, revert and still publish the proof). @default
   * `chain.blockTimeMs` of the node's configuration
   */
  blockTimeMs?: number | undefined;
}

/**
 * The block time a selected node's proof deadline is judged by: the part's option, else the node's configured
 * `chain.blockTimeMs` (review N3-2: nothing passed it, so a 12 s chain was judged by the 2 s default).
 */
export function selectionBlockTimeMs(
  config: Pick<NodeConfig, "chain">,
  options: Pick<AttestationPartOptions, "blockTimeMs"> = {},
): number {
  return options.blockTimeMs ?? config.chain.blockTimeMs;
}

/** The contracts the attestation worker reads and calls. */
const ATTESTATION_CONTRACTS = [
  "NodeRegistry",
  "TaskRegistry",
  "StackManager",
  "SettlementManager",
  "SettlementDraw",
  "SettlementEvidence",
  "DisputeManager",
] as const;

/** Bytes of checked transcripts kept in memory, so a duty retried does not fetch and check again. */
const TRANSCRIPT_CACHE_BYTES = 128 * 1024 * 1024;

export interface AttestationPartComponents {
  /** What to commit; honest unless a test injects another. Never a configuration option. */
  commitStrategy?: CommitStrategy | undefined;
}

/**
 * The attestation worker as a node part: records the duties the chain gives this node (attester, replacement
 * attester, dispute committee member) and works them through: fetch and check the inputs transcript, recompute
 * the sample with the node's engine, commit, reveal votes, and trigger every deadline it is entitled to.
 */
export function attestationPart(
  components: AttestationPartComponents = {},
  options: AttestationPartOptions = {},
): NodePartFactory {
  return (context) => {
    const missing = missingContracts(context.seat, ATTESTATION_CONTRACTS);
    if (missing.length > 0) {
      context.logger.warn(
        { missing },
        "attestation worker off: chain.contracts lacks the settlement contracts (this node will not attest)",
      );
      return { name: "attestation" };
    }
    // Asked for now, so a node that makes its own engine starts it before the parts start.
    const engine = context.engine();
    const vrfKeys = sharedVrfKeyKeeper(
      context.seat,
      context.account,
      context.logger.child({ module: "vrf" }),
    );
    const worker = new AttestationWorker(
      {
        ...dutyEnvOf(context, "attestation", () => engine),
        strategy: components.commitStrategy ?? honestStrategy,
        lookbackBlocks: options.lookbackBlocks ?? 100_000n,
        transcript: {
          maxBytes: context.config.limits.maxBlobBytes,
          timeoutMs: options.fetchTimeoutMs ?? 30_000,
          cache: new TranscriptCache(TRANSCRIPT_CACHE_BYTES),
        },
        taskModels: new Map(),
        vrfKeys,
        blockTimeMs: selectionBlockTimeMs(context.config, options),
      },
      {
        pollIntervalMs: options.pollIntervalMs ?? 2_000,
        concurrency: options.concurrency ?? context.config.settlement.maxConcurrentDuties,
        stepTimeoutMs: options.stepTimeoutMs ?? 600_000,
      },
    );
    return {
      name: "attestation",
      eventSources: attestationEventSources(context.seat),
      start: async () => {
        // Registers the VRF key now when the deployment selects attesters privately (and the node is registered).
        await vrfKeys.key().catch((error: unknown) => {
          // Another key registered for the node: fail loudly rather than never attest privately.
          if (error instanceof VrfKeyMismatchError) throw error;
          context.logger.warn(
            { err: String(error) },
            "VRF key not registered yet; retried at the first selection",
          );
        });
        worker.start();
      },
      stop: () => worker.stop(),
    };
  };
}
