import { existsSync } from "node:fs";
import { readFile, realpath } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

export interface ExplorerServer {
  url: string;
  stop(): Promise<void>;
}

/** The built explorer (`apps/explorer/dist`), or undefined when it was not built. */
export function explorerDist(): string | undefined {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve("@atoma/explorer/package.json")), "dist");
  } catch {
    return undefined;
  }
  return existsSync(join(dir, "index.html")) ? dir : undefined;
}

/** Whether a Host header names this host: localhost, 127.0.0.0/8 or ::1, with any port. */
function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function refuse(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
  res.end(`${message}\n`);
}

/**
 * Serves the built explorer and, at `/network.json`, what the page reads the network from. Only GET and HEAD, only
 * files inside `dir` (no `..`, no symlink out), and no CORS: another origin cannot read the demo key it holds.
 */
export async function startExplorerServer(
  dir: string,
  network: unknown,
  options: { host?: string; port?: number } = {},
): Promise<ExplorerServer> {
  const root = await realpath(dir);
  const description = `${JSON.stringify(network)}\n`;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("x-content-type-options", "nosniff");
    // A page of another site can point its own DNS name at 127.0.0.1 (DNS rebinding) and read this origin's
    // answers as its own; only names that mean this host are answered.
    if (!isLoopbackHost(req.headers.host)) return refuse(res, 421, "this server answers only on localhost");
    if (req.method !== "GET" && req.method !== "HEAD")
      return refuse(res, 405, "method not allowed", { allow: "GET, HEAD" });
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://explorer").pathname);
    } catch {
      return refuse(res, 400, "bad path");
    }
    if (path === "/network.json") {
      res.writeHead(200, { "content-type": TYPES[".json"]!, "cache-control": "no-store" });
      return res.end(req.method === "HEAD" ? undefined : description);
    }
    if (path.includes("\0") || path.split("/").includes("..")) return refuse(res, 400, "bad path");
    const file = path === "/" ? join(root, "index.html") : join(root, path);
    let real: string;
    try {
      real = await realpath(file);
    } catch {
      return refuse(res, 404, "not found");
    }
    if (!real.startsWith(root + sep)) return refuse(res, 404, "not found");
    let body: Buffer;
    try {
      body = await readFile(real);
    } catch {
      return refuse(res, 404, "not found");
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(real)] ?? "application/octet-stream",
      "cache-control": real.includes(`${sep}assets${sep}`)
        ? "public, max-age=31536000, immutable"
        : "no-cache",
      "content-length": body.length,
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) refuse(res, 500, "internal error");
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
