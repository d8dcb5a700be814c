import { randomInt } from "node:crypto";
import { createServer } from "node:net";

// Below Linux's ephemeral range (32768–60999 by default): a port picked there is not one the kernel hands to
// another process's `listen(0)` or outgoing connection in the seconds before the node listens on it.
const LOW = 20_000;
const HIGH = 32_000;

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A port free on 127.0.0.1 right now: a node must know its URL to register before it listens. Drawn at random
 * outside the ephemeral range, so that other programs starting meanwhile do not take it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(LOW, HIGH);
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port found between ${LOW} and ${HIGH} on 127.0.0.1`);
}
