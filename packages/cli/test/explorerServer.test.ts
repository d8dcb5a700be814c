import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExplorerServer, startExplorerServer } from "../src/dev/explorerServer.js";

/** A raw GET, so the path reaches the server exactly as written (fetch would normalise `..` away). */
function rawGet(
  url: string,
  path: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: "GET", path }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the explorer's static server", () => {
  const base = mkdtempSync(join(tmpdir(), "atoma-explorer-"));
  const dist = join(base, "dist");
  let server: ExplorerServer;

  beforeAll(async () => {
    mkdirSync(join(dist, "assets"), { recursive: true });
    writeFileSync(join(dist, "index.html"), "<!doctype html><title>explorer</title>");
    writeFileSync(join(dist, "assets", "app.js"), "export {};");
    writeFileSync(join(base, "secret.txt"), "outside the dist folder");
    symlinkSync(join(base, "secret.txt"), join(dist, "link.txt"));
    server = await startExplorerServer(dist, { rpcUrl: "http://127.0.0.1:1", apiKey: "sk-demo" });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it("serves nothing outside its folder: no .. (plain or encoded), no symlink out", async () => {
    for (const path of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/assets%2f..%2f..%2fsecret.txt",
      "/link.txt",
    ]) {
      const answer = await rawGet(server.url, path);
      expect([400, 404], path).toContain(answer.status);
      expect(answer.body).not.toContain("outside the dist folder");
    }
    expect((await rawGet(server.url, "/%00index.html")).status).toBe(400);
  });

  it("answers only requests addressed to this host by name: a rebound DNS name cannot read the demo key", async () => {
    const port = new URL(server.url).port;
    const asHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: "/network.json", headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await asHost(`attacker.example:${port}`)).toBe(421);
    expect(await asHost(`localhost:${port}`)).toBe(200);
    expect(await asHost(`127.0.0.1:${port}`)).toBe(200);
  });

  it("answers GET and HEAD only", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const answer = await fetch(`${server.url}/`, { method });
      expect(answer.status).toBe(405);
      expect(answer.headers.get("allow")).toBe("GET, HEAD");
    }
    expect((await fetch(`${server.url}/`, { method: "HEAD" })).status).toBe(200);
  });

  it("gives no other origin the network description, which holds the demo key (no CORS)", async () => {
    const answer = await fetch(`${server.url}/network.json`, { headers: { origin: "http://evil.example" } });
    expect(answer.headers.get("access-control-allow-origin")).toBeNull();
    expect(await answer.json()).toEqual({ rpcUrl: "http://127.0.0.1:1", apiKey: "sk-demo" });
    expect(answer.headers.get("cache-control")).toBe("no-store");
  });

  it("serves the page, its assets with their types, and 404 for the rest", async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("<title>explorer</title>");
    const script = await fetch(`${server.url}/assets/app.js`);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(script.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await fetch(`${server.url}/nothing.js`)).status).toBe(404);
  });
});
