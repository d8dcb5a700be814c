import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, silentLogger } from "@atoma/core";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { GatewayLifecycleError } from "../errors.js";
import type { GatewayState } from "./gatewayParts.js";

export interface GatewayServerOptions {
  /** @default "127.0.0.1" */
  host?: string | undefined;
  /** 0 picks a free port. @default 0 */
  port?: number | undefined;
  /** How long `stop()` lets requests in flight (streams included) finish. @default 10000 */
  shutdownTimeoutMs?: number | undefined;
}

/**
 * The app on a socket. `stop()` drains: new requests get 503, idle connections close, and requests in flight get
 * `shutdownTimeoutMs` to finish before their connections are cut.
 */
export class GatewayServer {
  #server: Server | undefined;
  #open = 0;
  #drained: (() => void) | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    private readonly app: Hono,
    private readonly state: GatewayState,
    private readonly options: GatewayServerOptions = {},
    private readonly logger: Logger = silentLogger,
  ) {}

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    if (!address) throw new GatewayLifecycleError("the gateway is not listening");
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = await new Promise<Server>((resolve, reject) => {
      const listening = serve(
        { fetch: this.app.fetch, hostname: this.options.host ?? "127.0.0.1", port: this.options.port ?? 0 },
        () => resolve(listening as Server),
      ) as Server;
      listening.once("error", reject);
    });
    server.on("request", (_req, res) => {
      this.#open++;
      res.once("close", () => {
        this.#open--;
        if (this.#open === 0) this.#drained?.();
      });
    });
    this.#server = server;
    this.logger.info({ url: this.url }, "gateway listening");
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.state.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (this.#open > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = setTimeout(resolve, this.options.shutdownTimeoutMs ?? 10_000);
      });
      clearTimeout(timer);
    }
    server.closeAllConnections();
    await closed;
    this.#server = undefined;
    this.logger.info({}, "gateway stopped");
  }
}
