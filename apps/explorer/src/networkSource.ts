/** Where the page reads its network description from, and whether it may without asking. */
export interface NetworkSource {
  url: URL;
  /** The page's own origin, or this machine (loopback): read without asking. */
  trusted: boolean;
}

/** What the page's `window.location` gives (as a plain shape: the function is tested outside a browser). */
export interface PageLocation {
  href: string;
  origin: string;
  search: string;
}

/** A description the page will not read: not an http(s) URL. */
export class NetworkSourceError extends Error {
  override name = "NetworkSourceError";
}

/** This machine by name or address (a `*.localhost` name is not trusted: a resolver may send it elsewhere). */
const isLoopback = (hostname: string): boolean =>
  hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);

/**
 * The `?network=` the page was opened with (else `./network.json` beside it). Another site's description decides
 * which chain the page shows and where the playground sends questions and its key: such a link is read only once
 * the user confirms it on the page.
 */
export function networkSourceOf(location: PageLocation): NetworkSource {
  const named = new URLSearchParams(location.search).get("network");
  let url: URL;
  try {
    url = new URL(named ?? "./network.json", location.href);
  } catch {
    throw new NetworkSourceError(`?network= is not a URL: ${String(named).slice(0, 200)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new NetworkSourceError(`?network= must be an http(s) URL, not ${url.protocol}`);
  return { url, trusted: url.origin === location.origin || isLoopback(url.hostname) };
}

/** This page without its `?network=`: the description served beside it. */
export function withoutNetworkParam(location: Pick<PageLocation, "href">): string {
  const url = new URL(location.href);
  url.searchParams.delete("network");
  return url.toString();
}
