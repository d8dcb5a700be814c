import type { BlobStore } from "../../blobs/blobStore.js";
import type { NodeApp } from "../nodeEnv.js";

/**
 * `GET /v1/blobs/{id}`: a stored blob's bytes (inputs transcripts for attesters). The id is validated (400) and
 * a missing blob is a 404, both in OpenAI's error shape. Content never changes under an id, so it caches forever.
 */
export function blobsRoute(app: NodeApp, blobs: BlobStore): void {
  app.get("/v1/blobs/:id", async (c) => {
    const blob = await blobs.open(c.req.param("id"));
    return c.body(blob.stream, 200, {
      "content-type": "application/octet-stream",
      "content-length": String(blob.size),
      etag: `"${blob.id}"`,
      "cache-control": "public, max-age=31536000, immutable",
    });
  });
}
