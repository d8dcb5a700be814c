import type { LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import { isIP, type LookupFunction } from "node:net";
import { Agent, type Dispatcher } from "undici";
import { isPrivateHost, nodeUrlRefusal } from "./nodeUrlPolicy.js";

const RESOLVED_TTL_MS = 30_000;

/** Resolves a host name to every address it has (as `dns.promises.lookup` with `all`). */
export type ResolveAll = (host: string) => Promise<{ address: string; family: number }[]>;

const resolveAll: ResolveAll = (host) => lookup(host, { all: true, verbatim: true });

/** A node's host resolved at connect time to a loopback or private address. */
export class PrivateNodeAddressError extends Error {
  readonly code = "ERR_NODE_ADDRESS_PRIVATE";
  constructor(host: string) {
    super(`the node's host ${host} resolves to a loopback or private address`);
  }
}

/**
 * Judges a node's URL when the gateway is about to call it, not only when the catalog read it: a stack keeps the
 * URL its node had at purchase, which the node may have pointed anywhere since. Unless private addresses are
 * allowed, a DNS name is resolved and refused when any address it gives is loopback, private or link-local
 * (`refusal`, cached 30 s); and every connection to a node goes through `dispatcher`, whose lookup resolves the
 * name once, refuses it when any address is private, and connects to the addresses it checked (no second
 * resolution a name that answers differently could slip through: DNS rebinding).
 */
export class NodeAddressGuard {
  readonly #allowPrivate: boolean;
  readonly #resolve: ResolveAll;
  readonly #resolved = new Map<string, { privateAddress: boolean; until: number }>();
  #agent: Agent | undefined;

  constructor(allowPrivate: boolean, options: { resolve?: ResolveAll | undefined } = {}) {
    this.#allowPrivate = allowPrivate;
    this.#resolve = options.resolve ?? resolveAll;
  }

  /**
   * What node calls go through: undefined when private addresses are allowed (the default agent), else an agent
   * whose connections go only to addresses checked at connect time.
   */
  get dispatcher(): Dispatcher | undefined {
    if (this.#allowPrivate) return undefined;
    this.#agent ??= new Agent({ connect: { lookup: this.#pinnedLookup } });
    return this.#agent;
  }

  /** Closes the agent's connections (a shutdown). */
  async close(): Promise<void> {
    await this.#agent?.close();
  }

  /** `net.connect`'s lookup: the name resolved once, every address checked, those addresses used. */
  readonly #pinnedLookup: LookupFunction = (hostname, options, callback) => {
    const host = hostname.replace(/^\[|\]$/g, "");
    const answer = (addresses: LookupAddress[]) => {
      if (options.all) (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const family = isIP(host);
    if (family !== 0) {
      if (isPrivateHost(host)) return callback(new PrivateNodeAddressError(host), "", 0);
      return answer([{ address: host, family }]);
    }
    this.#resolve(host).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : undefined;
        const usable = found.filter((a) => wanted === undefined || a.family === wanted);
        if (usable.length === 0) {
          const none: NodeJS.ErrnoException = new Error(`${host} has no address of the family asked`);
          none.code = "ENOTFOUND";
          return callback(none, "", 0);
        }
        if (found.some(({ address }) => isPrivateHost(address)))
          return callback(new PrivateNodeAddressError(host), "", 0);
        answer(usable);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };

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
        addresses = await this.#resolve(host);
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
