import type { Logger } from "@atoma/core";

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

  constructor(private readonly logger: Logger) {}

  add(service: Service): void {
    this.#services.push(service);
  }

  stopAll(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const service of [...this.#services].reverse()) {
        try {
          await service.stop();
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
