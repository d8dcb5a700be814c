import { fileURLToPath } from "node:url";
import type { Logger } from "@atoma/core";
import type { ServiceStack } from "../lifecycle.js";
import { explorerDist, startExplorerServer } from "./explorerServer.js";
import type { ReadyInfo } from "./startDevNetwork.js";

/** This clone's `atoma` command (the package's bin), for the command the playground shows: no `npx` lookup on npm. */
const ATOMA_CLI = fileURLToPath(new URL("../../bin/atoma.js", import.meta.url));

/**
 * Serves the built explorer for the dev network; the page reads the ready line less the demo user's private key
 * (the playground uses the gateway's demo key), and where the network file and this clone's `atoma` command lie, for the
 * `atoma verify` command the playground shows. Returns its URL, or undefined when the explorer was not built.
 */
export async function startDevExplorer(
  ready: ReadyInfo,
  services: ServiceStack,
  logger: Logger,
  networkFile?: string | undefined,
): Promise<string | undefined> {
  const dist = explorerDist();
  if (dist === undefined) {
    logger.warn({}, "the explorer is not built (npm run build builds it): no explorerUrl");
    return undefined;
  }
  const { user: _user, accounts: _accounts, modelFile: _file, ...network } = ready;
  const server = await startExplorerServer(dist, {
    ...network,
    ...(networkFile !== undefined && { networkFile }),
    cliPath: ATOMA_CLI,
  });
  services.add({ name: "explorer", stop: () => server.stop() });
  return server.url;
}
