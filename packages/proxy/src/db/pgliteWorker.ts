// The embedded database's thread (`PgliteThread`): PGlite runs here, so its statements never hold the gateway's
// event loop. Takes {dir, settings} as workerData; answers {id, statement, parameters} messages in order.
import { parentPort, workerData } from "node:worker_threads";
import { openPglite } from "@atoma/embedded-db";
import type { PGlite } from "@electric-sql/pglite";
import { asBigInt, BIGINT_OIDS } from "./bigintColumns.js";
import { type PgliteReply, type PgliteRequest, plainError } from "./pgliteMessages.js";

const port = parentPort;
if (!port) throw new Error("pgliteWorker runs as a worker thread");
const { dir, settings } = workerData as { dir: string; settings: Record<string, string> };

let pglite: PGlite;
try {
  const parsers = Object.fromEntries(BIGINT_OIDS.map((oid) => [oid, asBigInt]));
  pglite = await openPglite(dir, { parsers, settings });
  port.postMessage({ id: 0 } satisfies PgliteReply);
} catch (error) {
  port.postMessage({ id: 0, error: plainError(error) } satisfies PgliteReply);
  port.close();
  process.exit(1);
}

port.on("message", async (request: PgliteRequest) => {
  try {
    if (request.statement === undefined) {
      await pglite.close();
      port.postMessage({ id: request.id } satisfies PgliteReply);
      port.close();
      return;
    }
    const { rows, affectedRows } = await pglite.query(request.statement, request.parameters);
    port.postMessage({ id: request.id, rows, affectedRows } satisfies PgliteReply);
  } catch (error) {
    port.postMessage({ id: request.id, error: plainError(error) } satisfies PgliteReply);
  }
});
