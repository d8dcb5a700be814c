import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceStack } from "../lifecycle.js";

/**
 * Where the ready line's JSON will lie for `atoma chat --network`, `atoma stack --network` and `atoma verify --network`:
 * in the state directory when there is one (kept), else in a temporary directory removed when the network stops.
 * Chosen before the network starts, so the explorer can name it in the command it shows.
 */
export function networkFilePath(stateDir: string | undefined, services: ServiceStack): string {
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), "atoma-dev-"));
  if (stateDir === undefined)
    services.add({ name: "network-file", stop: async () => rmSync(dir, { recursive: true, force: true }) });
  return join(dir, "network.json");
}

/** Writes the ready line's JSON to `file` (readable by its owner only: it holds the demo keys). */
export function writeNetworkFile(file: string, ready: unknown): void {
  writeFileSync(file, `${JSON.stringify(ready, null, 2)}\n`, { mode: 0o600 });
}
