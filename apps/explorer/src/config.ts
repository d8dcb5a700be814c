import { configFromDescription, type ExplorerConfig } from "./configFromDescription.js";
import { networkSourceOf } from "./networkSource.js";

export type { ExplorerConfig };

/** A description the page cannot use: shown instead of the pages. */
export class ExplorerConfigError extends Error {
  override name = "ExplorerConfigError";
}

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
  return configFromDescription(body, url, location.origin);
}
