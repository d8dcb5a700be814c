import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { isPrivateHost, nodeUrlRefusal } from "./nodeUrlPolicy.js";

const RESOLVED_TTL_MS = 30_000;

/**
 * Judges a node's URL when the gateway is about to call it, not only when the catalog read it: a stack keeps the
 * URL its node had at purchase, which the node may have pointed anywhere since. Unless private addresses are
 * allowed, a DNS name is resolved and refused when any address it gives is loopback, private or link-local (a
 * name that answers differently from one lookup to the next, within the cache's 30 s, is not caught).
 */
export class NodeAddressGuard {
  readonly #allowPrivate: boolean;
  readonly #resolved = new Map<string, { privateAddress: boolean; until: number }>();

  constructor(allowPrivate: boolean) {
    this.#allowPrivate = allowPrivate;
  }

  /** Why the gateway will not call `url` now, or undefined when it may. */
  async refusal(url: string): Promise<string | undefined> {
    const refused = nodeUrlRefusal(url, this.#allowPrivate);
    if (refused !== undefined || this.#allowPrivate) return refused;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0) return undefined;
    const now = performance.now();
    let entry = this.#resolved.get(host);
    if (entry === undefined || entry.until <= now) {
      let addresses: { address: string }[];
      try {
        addresses = await lookup(host, { all: true, verbatim: true });
      } catch {
        return `its host name ${host} does not resolve`;
      }
      entry = {
        privateAddress: addresses.some(({ address }) => isPrivateHost(address)),
        until: now + RESOLVED_TTL_MS,
      };
      if (this.#resolved.size > 10_000) this.#resolved.clear();
      this.#resolved.set(host, entry);
    }
    return entry.privateAddress
      ? `its host name ${host} resolves to a loopback or private address`
      : undefined;
  }
}
