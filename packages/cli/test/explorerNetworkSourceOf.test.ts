import { describe, expect, it } from "vitest";
import { NetworkSourceError, networkSourceOf } from "../../../apps/explorer/src/networkSource.js";

const page = (href: string) => {
  const url = new URL(href);
  return { href: url.href, origin: url.origin, search: url.search };
};

/** Which `?network=` the explorer reads without asking: its own origin and this machine only. */
describe("the explorer's networkSourceOf", () => {
  it("trusts the description beside the page, its own origin and loopback addresses", () => {
    expect(networkSourceOf(page("https://explorer.example/")).trusted).toBe(true);
    expect(networkSourceOf(page("https://explorer.example/")).url.href).toBe(
      "https://explorer.example/network.json",
    );
    for (const named of [
      "https://explorer.example/other.json",
      "http://127.0.0.1:8545/network.json",
      "http://localhost:5173/network.json",
      "http://[::1]:5173/network.json",
    ])
      expect(
        networkSourceOf(page(`https://explorer.example/?network=${encodeURIComponent(named)}`)).trusted,
      ).toBe(true);
  });

  it("asks first for another site, a *.localhost name (a resolver may send it anywhere), or a look-alike", () => {
    for (const named of [
      "https://evil.example/network.json",
      "http://evil.localhost/network.json",
      "http://127.0.0.1.evil.example/network.json",
      "https://explorer.example.evil.example/network.json",
      "http://localhost.evil.example/network.json",
    ])
      expect(
        networkSourceOf(page(`https://explorer.example/?network=${encodeURIComponent(named)}`)).trusted,
      ).toBe(false);
  });

  it("refuses what is not an http(s) URL", () => {
    for (const named of ["javascript:alert(1)", "file:///etc/passwd", "data:application/json,{}"])
      expect(() =>
        networkSourceOf(page(`https://explorer.example/?network=${encodeURIComponent(named)}`)),
      ).toThrow(NetworkSourceError);
  });
});
