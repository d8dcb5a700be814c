import { createServer, request, type Server } from "node:http";

/**
 * What a node's registered URL points at in the harness: a pass-through to the node's own port, which can hold
 * requests for chosen blobs until released — a colluding server that keeps an attester's fetch hanging.
 */
export class StallingFront {
  readonly #stalled = new Set<string>();
  readonly #delays = new Map<string, number>();
  readonly #held: (() => void)[] = [];
  #server: Server | undefined;
  /** Requests received per blob id. */
  readonly blobRequests = new Map<string, number>();

  constructor(readonly targetPort: number) {}

  /** Holds every request for blob `id` from now on, until `release`. */
  stall(id: string): void {
    this.#stalled.add(id.toLowerCase());
  }

  /** Answers every request for blob `id` from now on only after `ms` (a server that stalls just under a timeout). */
  delay(id: string, ms: number): void {
    this.#delays.set(id.toLowerCase(), ms);
  }

  /** Lets every held request (and later ones) through. */
  release(): void {
    this.#stalled.clear();
    this.#delays.clear();
    for (const resume of this.#held.splice(0)) resume();
  }

  get holding(): number {
    return this.#held.length;
  }

  async listen(port: number): Promise<void> {
    this.#server = createServer((incoming, outgoing) => {
      const forward = () => {
        const upstream = request(
          {
            host: "127.0.0.1",
            port: this.targetPort,
            method: incoming.method,
            path: incoming.url,
            headers: incoming.headers,
          },
          (answer) => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(outgoing);
          },
        );
        upstream.on("error", () => outgoing.destroy());
        incoming.pipe(upstream);
      };
      const blob = /\/v1\/blobs\/(0x[0-9a-fA-F]+)/.exec(incoming.url ?? "")?.[1]?.toLowerCase();
      if (blob) this.blobRequests.set(blob, (this.blobRequests.get(blob) ?? 0) + 1);
      if (blob && this.#stalled.has(blob)) {
        this.#held.push(forward);
        return;
      }
      const delay = blob ? this.#delays.get(blob) : undefined;
      if (delay !== undefined) {
        setTimeout(forward, delay);
        return;
      }
      forward();
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, "127.0.0.1", resolve));
  }

  async close(): Promise<void> {
    this.release();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /**
   * A port free now, below Linux's ephemeral range (32768+): the node listens on it only after its URL is registered,
   * and a port from the ephemeral range can meanwhile be taken by any outgoing connection of a parallel test.
   */
  static async freePort(): Promise<number> {
    const held = await StallingFront.heldPort();
    await held.release();
    return held.port;
  }

  /**
   * A port as `freePort` finds it, kept bound until `release`: a node registered on-chain long before it listens
   * would otherwise leave its port open to a parallel test meanwhile (CI: EADDRINUSE with twenty nodes).
   */
  static async heldPort(): Promise<{ port: number; release: () => Promise<void> }> {
    for (;;) {
      const candidate = 20_000 + Math.floor(Math.random() * 12_000);
      const server = createServer();
      const bound = await new Promise<boolean>((resolve) => {
        server.once("error", () => resolve(false));
        server.listen(candidate, "127.0.0.1", () => resolve(true));
      });
      if (bound)
        return {
          port: candidate,
          release: () => new Promise<void>((resolve) => server.close(() => resolve())),
        };
    }
  }
}
