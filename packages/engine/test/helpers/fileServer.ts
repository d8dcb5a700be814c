import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FileServer {
  url: string;
  /** Headers of every request, in order. */
  requests: IncomingHttpHeaders[];
  /** The next response stops (socket destroyed) after this many body bytes. */
  cutNextAfter: number | undefined;
  /** Answer 200 with the whole file even to range requests. */
  ignoreRanges: boolean;
  close(): Promise<void>;
}

/** A real HTTP server serving `files` by path like Hugging Face's resolve URLs, with Range support. */
export async function startFileServer(files: Record<string, Uint8Array>): Promise<FileServer> {
  const state: Omit<FileServer, "url" | "close"> = {
    requests: [],
    cutNextAfter: undefined,
    ignoreRanges: false,
  };
  const server: Server = createServer((request, response) => {
    state.requests.push(request.headers);
    const file = files[decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)];
    if (!file) {
      response.writeHead(404).end("not found");
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
    if (range && !state.ignoreRanges) {
      start = Number(range[1]);
      if (start >= file.length) {
        response.writeHead(416, { "content-range": `bytes */${file.length}` }).end();
        return;
      }
      response.writeHead(206, {
        "content-length": file.length - start,
        "content-range": `bytes ${start}-${file.length - 1}/${file.length}`,
      });
    } else {
      response.writeHead(200, { "content-length": file.length });
    }
    const body = file.subarray(start);
    const cut = state.cutNextAfter;
    state.cutNextAfter = undefined;
    if (cut === undefined) {
      response.end(body);
      return;
    }
    response.write(body.subarray(0, cut), () => setTimeout(() => response.destroy(), 20));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
