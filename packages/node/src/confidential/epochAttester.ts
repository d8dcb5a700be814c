import type { Logger } from "@atoma/core";
import type { ConfidentialCompute } from "./confidentialCompute.js";

export interface EpochAttesterOptions {
  /** The network's current epoch. */
  epoch: () => Promise<bigint>;
  /** How often the epoch is checked. @default 15 000 */
  pollMs?: number | undefined;
  logger: Logger;
}

/**
 * Re-attests whenever the epoch moves on: attests once at start (so `GET /v1/attestation` has epoch evidence
 * before the first request), then checks the epoch every `pollMs`. A failed attempt is logged and tried again at
 * the next check.
 */
export function startEpochAttester(
  confidential: ConfidentialCompute,
  options: EpochAttesterOptions,
): { ready: Promise<void>; stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const epoch = await options.epoch();
      if (confidential.epochEvidence?.epoch !== epoch) await confidential.attestEpoch(epoch);
    } catch (error) {
      options.logger.warn({ err: error }, "could not attest for the epoch; trying again");
    }
  };
  const loop = async () => {
    await tick();
    if (!stopped) timer = setTimeout(() => void loop(), options.pollMs ?? 15_000);
  };
  const ready = tick().then(() => {
    if (!stopped) timer = setTimeout(() => void loop(), options.pollMs ?? 15_000);
  });
  return {
    ready,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
