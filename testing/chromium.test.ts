import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.js";

const page = `<!doctype html><html><body>
<button id="b">count</button><output id="o">0</output>
<script type="module">
  const o = document.getElementById("o");
  document.getElementById("b").addEventListener("click", async () => {
    const r = await fetch("/echo?n=" + (Number(o.textContent) + 1));
    o.textContent = await r.text();
  });
</script></body></html>`;

describe("the machine's Chromium, driven by playwright-core", () => {
  let server: Server;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/echo") return res.end(url.searchParams.get("n") ?? "");
      res.setHeader("content-type", "text/html");
      res.end(page);
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => server?.close(done));
  });

  it("runs a page's module script that calls back to a local server", async () => {
    const tab = await browser.newPage();
    await tab.goto(`${base}/`);
    await tab.click("#b");
    await tab.click("#b");
    await expect.poll(() => tab.textContent("#o")).toBe("2");
  });
});
