import { type Network, parseNetwork } from "@atoma/sdk";

/** What the page knows of the network: `atoma dev`'s ready line (less the demo user's key), served beside it. */
export interface ExplorerConfig {
  network: Network;
  /** The gateway and a demo key for the playground, when `atoma dev` runs one. */
  proxyUrl: string | undefined;
  apiKey: string | undefined;
}

/** A description the page cannot use: shown instead of the pages. */
export class ExplorerConfigError extends Error {
  override name = "ExplorerConfigError";
}

const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);

/** Reads `network.json` next to the page (`atoma dev` serves it), or the file named by `?network=`. */
export async function loadConfig(location: Location = window.location): Promise<ExplorerConfig> {
  const source = new URLSearchParams(location.search).get("network") ?? "./network.json";
  let body: string;
  try {
    const response = await fetch(source, { cache: "no-store" });
    if (!response.ok) throw new ExplorerConfigError(`${source} answered ${response.status}`);
    body = await response.text();
  } catch (error) {
    if (error instanceof ExplorerConfigError) throw error;
    throw new ExplorerConfigError(`cannot read ${source}: ${error instanceof Error ? error.message : error}`);
  }
  const network = parseNetwork(body, source);
  const raw = JSON.parse(body.startsWith("ready ") ? body.slice(6) : body) as Record<string, unknown>;
  return { network, proxyUrl: text(raw.proxyUrl), apiKey: text(raw.apiKey) };
}
