import { type Network, parseNetwork } from "@atoma/sdk";

/** What the page knows of the network: `atoma dev`'s ready line (less the demo user's key), served beside it. */
export interface ExplorerConfig {
  network: Network;
  /** The gateway and a demo key for the playground, when `atoma dev` runs one. */
  proxyUrl: string | undefined;
  apiKey: string | undefined;
  /** The gateway's wallet, which owns every stack its answers come from. */
  gatewayAddress: string | undefined;
  /** Where `atoma dev` wrote the network file, for the `atoma verify` command the playground shows. */
  networkFile: string | undefined;
  /** The `atoma` command of the clone `atoma dev` runs from (an absolute path), which that command runs. */
  cliPath: string | undefined;
}

const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);

/** A file path, not an inline description (`ready {…}`, `{…}`) nor a URL, which `atoma verify --network` also reads. */
const filePath = (value: unknown) => {
  const path = text(value);
  return path !== undefined && !/^(ready\b|\s|\{)/.test(path) && !path.includes("://") ? path : undefined;
};

/** An `atoma` command the shown command may run: an absolute path to a clone's `packages/cli/bin/atoma.js`. */
const atomaBin = (value: unknown) => {
  const path = filePath(value);
  return path?.startsWith("/") && path.endsWith("/packages/cli/bin/atoma.js") ? path : undefined;
};

/**
 * The page's configuration from the description read at `source` (`atoma dev`'s ready line or network file). The
 * network file is what the shown `atoma verify` command checks against: taken only from the page's own server
 * (`atoma dev`'s), never from a description elsewhere, which could name a chain of its own there.
 */
export function configFromDescription(body: string, source: URL, pageOrigin: string): ExplorerConfig {
  const network = parseNetwork(body, source.toString());
  const raw = JSON.parse(body.startsWith("ready ") ? body.slice(6) : body) as Record<string, unknown>;
  return {
    network,
    proxyUrl: text(raw.proxyUrl),
    apiKey: text(raw.apiKey),
    gatewayAddress: text(raw.gatewayAddress),
    networkFile: source.origin === pageOrigin ? filePath(raw.networkFile) : undefined,
    cliPath: source.origin === pageOrigin ? atomaBin(raw.cliPath) : undefined,
  };
}
