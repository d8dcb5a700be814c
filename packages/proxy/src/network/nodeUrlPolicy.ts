import { BlockList, isIP } from "node:net";

/** Addresses a public node has no business at: this host, private networks, link-local, CGNAT, multicast. */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  PRIVATE.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  // Local-use NAT64 (RFC 8215): a translator inside the network.
  ["64:ff9b:1::", 48],
] as const)
  PRIVATE.addSubnet(network, prefix, "ipv6");

/** An IPv4-mapped IPv6 address (`::ffff:7f00:1`, as URL writes `::ffff:127.0.0.1`) as its IPv4 address. */
function mappedIpv4(address: string): string | undefined {
  const match = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!match) return undefined;
  const high = Number.parseInt(match[1]!, 16);
  const low = Number.parseInt(match[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** An IPv6 address as its eight 16-bit groups (a trailing dotted IPv4 included); undefined when not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const part = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const zeros = 8 - left.length - right.length;
  return [...left, ...new Array<number>(tail === undefined ? 0 : zeros).fill(0), ...right];
}

/**
 * The IPv4 address an IPv6 one carries where it reaches that IPv4 host: IPv4-mapped (`::ffff:a.b.c.d`),
 * IPv4-translated (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
 */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return undefined;
  const v4 = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join(".");
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && g[5] === 0xffff) return v4(g[6]!, g[7]!);
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return undefined;
}

/** Whether `hostname` (as `URL` normalizes it) names this host or a private network. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const mapped = mappedIpv4(host) ?? embeddedIpv4(host);
  if (mapped) return PRIVATE.check(mapped, "ipv4");
  const version = isIP(host);
  if (version === 4) return PRIVATE.check(host, "ipv4");
  if (version === 6) return PRIVATE.check(host, "ipv6");
  return false;
}

/**
 * Why the gateway will not call a node at `url` (read from the chain, where anyone registers what they like), or
 * undefined when it may: only http(s), no credentials in the URL, and, unless `allowPrivate` (a dev network, tests),
 * no loopback, private or link-local address. A DNS name is judged by its text only: one that resolves to a
 * private address is not caught here.
 */
export function nodeUrlRefusal(url: string, allowPrivate: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    return `scheme ${parsed.protocol} is not http(s)`;
  if (parsed.username !== "" || parsed.password !== "") return "credentials in the URL";
  if (!allowPrivate && isPrivateHost(parsed.hostname)) return "a loopback or private address";
  return undefined;
}
