import { type Network, parseNetwork } from "@atoma/sdk";
import { networkSourceOf } from "./networkSource.js";

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
}

/** A description the page cannot use: shown instead of the pages. */
export class ExplorerConfigError extends Error {
  override name = "ExplorerConfigError";
}

const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);

/** A `?network=` of another site, not read until the user confirms it (`loadConfig(location, true)`). */
export class ForeignNetworkError extends Error {
  override name = "ForeignNetworkError";
  readonly source: string;
  constructor(source: string) {
    super(`the link asks to read the network from ${source}, another site`);
    this.source = source;
  }
}

/**
 * Reads `network.json` next to the page (`atoma dev` serves it), or the file named by `?network=`: on the page's
 * own origin or this machine at once, elsewhere only when `confirmed` (else `ForeignNetworkError`, nothing read).
 */
export async function loadConfig(
  location: Location = window.location,
  confirmed = false,
): Promise<ExplorerConfig> {
  const { url, trusted } = networkSourceOf(location);
  if (!trusted && !confirmed) throw new ForeignNetworkError(url.toString());
  const source = url.toString();
  let body: string;
  try {
    // A trusted source that redirects would hand the page a description read without asking: refused.
    const response = await fetch(source, { cache: "no-store", redirect: "error" });
    if (!response.ok) throw new ExplorerConfigError(`${source} answered ${response.status}`);
    body = await response.text();
  } catch (error) {
    if (error instanceof ExplorerConfigError) throw error;
    throw new ExplorerConfigError(`cannot read ${source}: ${error instanceof Error ? error.message : error}`);
  }
  const network = parseNetwork(body, source);
  const raw = JSON.parse(body.startsWith("ready ") ? body.slice(6) : body) as Record<string, unknown>;
  return {
    network,
    proxyUrl: text(raw.proxyUrl),
    apiKey: text(raw.apiKey),
    gatewayAddress: text(raw.gatewayAddress),
    networkFile: text(raw.networkFile),
  };
}
