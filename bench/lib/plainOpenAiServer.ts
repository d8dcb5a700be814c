import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { InferenceEngine } from "@atoma/engine";

/** A plain OpenAI-compatible `/v1/completions` over an engine: no keys, signatures or accounting (what Portkey fronts). */
export async function startPlainOpenAiServer(engine: InferenceEngine) {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      void engine
        .complete(JSON.parse(Buffer.concat(chunks).toString("utf8")))
        .then((result) => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify(result.response));
        })
        .catch((error: unknown) => {
          response.writeHead(500, { "content-type": "application/json" });
          response.end(JSON.stringify({ error: { message: String(error) } }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
