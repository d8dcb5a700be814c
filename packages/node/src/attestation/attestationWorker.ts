import { AtomaError } from "@atoma/core";
import { sleep } from "../listener/sleep.js";
import { stepAttest } from "./attestDuty.js";
import { stepCommittee } from "./committeeDuty.js";
import { listOpenDuties, recordDutyError } from "./duties.js";
import type { WorkerEnv } from "./workerEnv.js";

/**
 * Works through the open duties every `pollIntervalMs`: each step reads the chain, decides from the duty row's
 * state and the contract's phase, and records what it did, so a restart resumes where it stopped.
 */
export class AttestationWorker {
  private readonly env: WorkerEnv;
  private readonly pollIntervalMs: number;
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(env: WorkerEnv, options: { pollIntervalMs: number }) {
    this.env = env;
    this.pollIntervalMs = options.pollIntervalMs;
  }

  start(): void {
    if (this.loop) return;
    const controller = new AbortController();
    this.controller = controller;
    this.loop = this.run(controller.signal);
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** One pass over every open duty (the loop's body; tests may call it directly). */
  async tick(signal?: AbortSignal): Promise<void> {
    for (const duty of await listOpenDuties(this.env.db)) {
      if (signal?.aborted) return;
      try {
        if (duty.kind === "attest") await stepAttest(this.env, duty);
        else await stepCommittee(this.env, duty);
      } catch (error) {
        const message = error instanceof AtomaError ? `${error.code}: ${error.shortMessage}` : String(error);
        this.env.logger.warn(
          { kind: duty.kind, stackId: duty.stackId.toString(), round: duty.round.toString(), err: message },
          "attestation step failed; retrying",
        );
        await recordDutyError(this.env.db, duty.taskId, message);
      }
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick(signal);
      } catch (error) {
        this.env.logger.error({ err: error }, "attestation pass failed");
      }
      await sleep(this.pollIntervalMs, signal);
    }
  }
}
