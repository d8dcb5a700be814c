import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, silentLogger } from "@atoma/core";
import { serve } from "@hono/node-server";
import { NodeLifecycleError } from "../errors.js";
import type { NodeApp, ServerState } from "./nodeEnv.js";

export interface HttpServerComponents {
  app: NodeApp;
  /** The same object the app reads; the server sets `draining` when it stops. */
  state: ServerState;
  logger?: Logger | undefined;
}

export interface HttpServerOptions {
  /** @default "127.0.0.1" */
  host?: string | undefined;
  /** 0 picks a free port. @default 0 */
  port?: number | undefined;
  /** How long `stop()` lets requests in flight finish before closing their connections. @default 10000 */
  shutdownTimeoutMs?: number | undefined;
  /**
   * A response whose client takes none of its bytes for this long, while some wait to be sent, loses its
   * connection (`limits.streamIdleTimeoutSeconds`). A response the server is still working on is never cut.
   * @default 30000
   */
  idleTimeoutMs?: number | undefined;
}

/**
 * Closes a response's connection once its client has taken none of the bytes waiting for it for `ms`. The
 * socket's inactivity timer fires only while nothing moves either way; bytes still queued then mean the client
 * stopped reading (a slow or hostile reader holds no buffer for long), none mean the server is still working.
 */
function closeWhenClientStalls(res: ServerResponse, ms: number): void {
  res.setTimeout(ms, () => {
    const socket = res.socket;
    if (socket && socket.writableLength > 0) socket.destroy();
  });
}

/**
 * Serves the app on a real socket. `stop()` shuts down gracefully: new requests get 503 (and `connection:
 * close`), the listening socket closes, idle keep-alive connections close, and requests in flight — streams
 * included, until their last byte — get `shutdownTimeoutMs` to finish before their connections are cut. A client
 * that stops reading a response loses its connection after `idleTimeoutMs`.
 */
export class HttpServer {
  readonly #app: NodeApp;
  readonly #state: ServerState;
  readonly #logger: Logger;
  readonly #host: string;
  readonly #port: number;
  readonly #shutdownTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  #server: Server | undefined;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #stopping: Promise<void> | undefined;

  constructor(components: HttpServerComponents, options: HttpServerOptions = {}) {
    this.#app = components.app;
    this.#state = components.state;
    this.#logger = (components.logger ?? silentLogger).child({ module: "http-server" });
    this.#host = options.host ?? "127.0.0.1";
    this.#port = options.port ?? 0;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  /** Requests whose responses have not finished (or whose connections have not closed). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The URL it listens on (after `start()`). */
  get url(): string {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    if (!address) throw new NodeLifecycleError("the HTTP server is not listening");
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    this.#state.draining = false;
    this.#stopping = undefined;
    const server = await new Promise<Server>((resolve, reject) => {
      const created = serve({ fetch: this.#app.fetch, hostname: this.#host, port: this.#port }, () =>
        resolve(created as Server),
      ) as Server;
      created.once("error", reject);
    });
    server.on("request", (_req, res) => {
      this.#inFlight++;
      closeWhenClientStalls(res, this.#idleTimeoutMs);
      res.once("close", () => {
        this.#inFlight--;
        if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    });
    this.#server = server;
    this.#logger.info({ url: this.url }, "HTTP server listening");
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#state.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (this.#inFlight > 0) {
      this.#logger.info({ inFlight: this.#inFlight }, "draining requests in flight");
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => this.#idle.push(() => resolve(true))),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), this.#shutdownTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) this.#logger.warn({ inFlight: this.#inFlight }, "shutdown timeout: closing connections");
    }
    server.closeAllConnections();
    await closed;
    this.#server = undefined;
    this.#logger.info({}, "HTTP server stopped");
  }
}
