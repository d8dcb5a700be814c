import type { Logger } from "@atoma/core";

/** How long one service's stop may take before it is named in a warning. */
const SLOW_STOP_MS = 5_000;

export interface Service {
  name: string;
  stop(): Promise<void>;
}

/**
 * Keeps the services a command started and stops them in reverse order, once, on SIGINT/SIGTERM or when asked.
 * A second signal while stopping exits at once.
 */
export class ServiceStack {
  readonly #services: Service[] = [];
  #stopping: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    /** A service whose stop takes longer than this is named in a warning (what a slow shutdown waited for). */
    private readonly slowStopMs = SLOW_STOP_MS,
  ) {}

  add(service: Service): void {
    this.#services.push(service);
  }

  stopAll(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const service of [...this.#services].reverse()) {
        const started = Date.now();
        try {
          await service.stop();
          const ms = Date.now() - started;
          if (ms > this.slowStopMs) this.logger.warn({ service: service.name, ms }, "stopping took long");
          this.logger.debug({ service: service.name }, "stopped");
        } catch (error) {
          this.logger.error({ service: service.name, err: error }, "stop failed");
        }
      }
    })();
    return this.#stopping;
  }

  /** Stops everything on SIGINT/SIGTERM, then exits with 0 (130/143 if a second signal forces it). */
  stopOnSignals(): void {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.on(signal, () => {
        if (this.#stopping) process.exit(signal === "SIGINT" ? 130 : 143);
        this.logger.info({ signal }, "shutting down");
        void this.stopAll().then(() => process.exit(0));
      });
    }
  }
}
