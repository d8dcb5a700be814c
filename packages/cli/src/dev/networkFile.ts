import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceStack } from "../lifecycle.js";

/**
 * Writes the ready line's JSON where `atoma chat --network` and `atoma stack --network` can read it: in the state
 * directory when there is one (kept), else in a temporary directory removed when the network stops.
 */
export function writeNetworkFile(
  ready: unknown,
  stateDir: string | undefined,
  services: ServiceStack,
): string {
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), "atoma-dev-"));
  const file = join(dir, "network.json");
  writeFileSync(file, `${JSON.stringify(ready, null, 2)}\n`, { mode: 0o600 });
  if (stateDir === undefined)
    services.add({ name: "network-file", stop: async () => rmSync(dir, { recursive: true, force: true }) });
  return file;
}
