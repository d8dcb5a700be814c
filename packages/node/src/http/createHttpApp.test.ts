import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AtomaError,
  InvalidSignatureError,
  InvalidUnicodeError,
  JsonTooDeepError,
  MAX_REQUEST_DEPTH,
  WIRE_ERRORS,
} from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobStore } from "../blobs/blobStore.js";
import * as errors from "../errors.js";
import { createNodeMetrics } from "../metrics/nodeMetrics.js";
import { createHttpApp } from "./createHttpApp.js";
import type { OpenAiErrorBody } from "./errorResponse.js";
import type { NodeApp, ServerState } from "./nodeEnv.js";
import { readJsonObject } from "./readJson.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-http-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blobs = new BlobStore({}, { dir });
const metrics = createNodeMetrics({ processMetrics: false });
const state: ServerState = { draining: false };
let healthy = true;
let thrown: unknown;
let app: NodeApp;

beforeAll(async () => {
  await blobs.start();
  app = createHttpApp(
    {
      blobs,
      metrics,
      state,
      models: { listModels: () => [{ id: "tiny", created: 1_700_000_000, ownedBy: "atoma" }] },
      healthChecks: [
        {
          name: "database",
          check: async () => {
            if (!healthy) throw new Error("down");
          },
        },
      ],
    },
    {
      maxBodyBytes: 1_024,
      routes: [
        (a) => a.post("/test/echo", async (c) => c.json({ got: await readJsonObject(c) })),
        (a) =>
          a.get("/test/throw", () => {
            throw thrown;
          }),
        (a) =>
          a.get(
            "/v1/test/stream",
            () =>
              new Response(
                new ReadableStream<Uint8Array>({
                  start(controller) {
                    controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
                    controller.close();
                  },
                }),
                { headers: { "content-type": "text/event-stream" } },
              ),
          ),
        (a) =>
          a.get("/v1/test/refused", () => {
            throw new InvalidSignatureError("not the owner");
          }),
      ],
    },
  );
});

const errorOf = async (response: Response) => ((await response.json()) as OpenAiErrorBody).error;

const json = (body: string, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body,
});

describe("node HTTP app", () => {
  it("answers browser pages of any origin on its API and health, never on its metrics (CORS)", async () => {
    const origin = "http://127.0.0.1:5999";
    const preflight = await app.request("/v1/models", {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, x-atoma-signature",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/x-atoma-signature/);
    const missing = await app.request("/v1/stacks/1/proof/nope", { headers: { origin } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe("*");
    const health = await app.request("/health", { headers: { origin } });
    expect(health.headers.get("access-control-allow-origin")).toBe("*");
    const metricsAnswer = await app.request("/metrics", { headers: { origin } });
    expect(metricsAnswer.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("puts the request id and the CORS headers on a handler's own Response and on an error's answer", async () => {
    for (const path of ["/v1/test/stream", "/v1/test/refused", "/v1/models"]) {
      const answer = await app.request(path, {
        headers: { origin: "http://127.0.0.1:5999", "x-request-id": "r-1" },
      });
      expect(answer.headers.get("x-request-id")).toBe("r-1");
      expect(answer.headers.get("access-control-allow-origin")).toBe("*");
      expect(answer.headers.get("access-control-expose-headers")).toMatch(/retry-after/);
    }
    const stream = await app.request("/v1/test/stream");
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    expect(await stream.text()).toBe("data: 1\n\n");
    expect((await app.request("/v1/test/refused")).status).toBe(401);
  });

  it("reports health, and 503 when a check fails", async () => {
    const ok = await app.request("/health");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "ok", checks: { database: "ok" } });
    healthy = false;
    const degraded = await app.request("/health");
    healthy = true;
    expect(degraded.status).toBe(503);
    expect(await degraded.json()).toEqual({ status: "degraded", checks: { database: "failing" } });
  });

  it("lists models in OpenAI's shape", async () => {
    expect(await (await app.request("/v1/models")).json()).toEqual({
      object: "list",
      data: [{ id: "tiny", object: "model", created: 1_700_000_000, owned_by: "atoma" }],
    });
  });

  it("serves blobs by id, 404 when missing and 400 for a bad id, in OpenAI's error shape", async () => {
    const data = new TextEncoder().encode("transcript bytes");
    const { id } = await blobs.put(data);
    const found = await app.request(`/v1/blobs/${id}`);
    expect(found.status).toBe(200);
    expect(found.headers.get("content-type")).toBe("application/octet-stream");
    expect(found.headers.get("etag")).toBe(`"${id}"`);
    expect(new Uint8Array(await found.arrayBuffer())).toEqual(data);

    const missing = await app.request(`/v1/blobs/0x${"00".repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: {
        message: `blob 0x${"00".repeat(32)} not found`,
        type: "not_found_error",
        param: null,
        code: "blob_not_found",
      },
    });
    const bad = await app.request("/v1/blobs/not-an-id");
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).code).toBe("invalid_blob_id");
  });

  it("answers unknown routes with a 404 error object", async () => {
    const response = await app.request("/v1/nothing-here", { method: "DELETE" });
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ type: "not_found_error", code: "route_not_found" });
  });

  it("gives every response a request id, keeping a well-formed one the client sent", async () => {
    expect((await app.request("/health")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await app.request("/health", { headers: { "x-request-id": "client-abc_1" } });
    expect(echoed.headers.get("x-request-id")).toBe("client-abc_1");
  });

  it("limits body size with a named error, with or without content-length", async () => {
    expect((await app.request("/test/echo", json('{"a":1}'))).status).toBe(200);
    const big = JSON.stringify({ text: "x".repeat(2_000) });
    const declared = await app.request("/test/echo", json(big));
    expect(declared.status).toBe(413);
    expect(await errorOf(declared)).toMatchObject({
      code: "request_too_large",
      message: "request body exceeds 1024 bytes",
    });
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("x".repeat(200)));
        controller.close();
      },
    });
    const chunked = await app.request("/test/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamed,
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("names malformed JSON bodies", async () => {
    const cases = [
      [json("{not json"), "request body is not valid JSON"],
      [json("[1,2]"), "request body must be a JSON object"],
      [
        { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" },
        "content-type must be application/json",
      ],
    ] as const;
    for (const [init, message] of cases) {
      const response = await app.request("/test/echo", init);
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toEqual({
        message,
        type: "invalid_request_error",
        param: null,
        code: "invalid_json",
      });
    }
  });

  it("refuses bytes that are not UTF-8 and JSON nested deeper than the request bound, with 400", async () => {
    const latin1 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]); // {"a":"é"} in Latin-1
    const notUtf8 = await app.request("/test/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: latin1,
    });
    expect(notUtf8.status).toBe(400);
    expect(await errorOf(notUtf8)).toMatchObject({
      code: "invalid_json",
      message: "request body is not valid UTF-8",
    });
    const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    expect((await app.request("/test/echo", json(deep(MAX_REQUEST_DEPTH)))).status).toBe(200);
    const tooDeep = await app.request("/test/echo", json(deep(MAX_REQUEST_DEPTH + 1)));
    expect(tooDeep.status).toBe(400);
    expect(await errorOf(tooDeep)).toMatchObject({ code: "json_too_deep", type: "invalid_request_error" });
  });

  it("maps every listed error code to its status in one table, with Retry-After on 429", async () => {
    const expectations: [unknown, number, string][] = [
      [new errors.UnknownStackError(5n), 404, "unknown_stack"],
      [new errors.StackNotServedError(5n), 403, "stack_not_served"],
      [new errors.StackExhaustedError(5n, 10n, 3n), 402, "stack_exhausted"],
      [new errors.StackExpiredError(5n), 410, "stack_expired"],
      [new errors.NonceReusedError(5n, 1n), 409, "nonce_reused"],
      [new InvalidSignatureError("request is not signed by the stack owner"), 401, "invalid_signature"],
      [new errors.PromptTooLongError(5000, 4096), 400, "prompt_too_long"],
      [new errors.UnknownModelError("gpt-9"), 404, "unknown_model"],
      [new errors.QueueFullError("queue is full", 3), 429, "queue_full"],
      [new JsonTooDeepError(64), 400, "json_too_deep"],
      [new InvalidUnicodeError("a string at $.s holds an unpaired UTF-16 surrogate"), 400, "invalid_unicode"],
    ];
    for (const [error, status, code] of expectations) {
      thrown = error;
      const response = await app.request("/test/throw");
      expect(response.status).toBe(status);
      const body = await errorOf(response);
      expect(body.code).toBe(code);
      expect(body.message).toBe((error as AtomaError).shortMessage);
      if (status === 429) expect(response.headers.get("retry-after")).toBe("3");
    }
  });

  it("hides the text of unexpected errors", async () => {
    for (const error of [new Error("secret internals"), new errors.DatabaseError("pool exploded")]) {
      thrown = error;
      const response = await app.request("/test/throw");
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({
        error: { message: "internal error", type: "server_error", param: null, code: "internal_error" },
      });
    }
  });

  it("maps every client-facing error class the node defines", () => {
    // Errors that only ever mean a fault inside the node stay 500s on purpose.
    const internal = new Set([
      "config_invalid",
      "key_file_invalid",
      "key_file_permissions",
      "database_unavailable",
      "database_engine_mismatch",
      "database_mode_unsupported",
      "database_integer_range",
      "reservation_not_found",
      "units_exceed_reservation",
      "stack_busy",
      "blob_hash_mismatch",
      "blob_fetch_failed",
      "chain_reorg",
      "listener_cursor_moved",
      "chain_unavailable",
      "node_lifecycle",
      "engine_unhealthy",
    ]);
    const codes = Object.values(errors)
      .filter((value) => typeof value === "function")
      .map((Class) => (Reflect.construct(Class, ["1", "1", "1"]) as AtomaError).code);
    expect(codes.length).toBeGreaterThan(20);
    for (const code of codes) expect(internal.has(code) || code in WIRE_ERRORS, code).toBe(true);
  });

  it("counts requests by route, never by raw path, on /metrics", async () => {
    await app.request(`/v1/blobs/0x${"01".repeat(32)}`);
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('atoma_node_http_requests_total{route="/v1/blobs/:id",status="404"}');
    expect(text).toContain('atoma_node_http_requests_total{route="/health",status="200"}');
    expect(text).toContain('atoma_node_http_requests_total{route="unmatched",status="404"}');
    expect(text).not.toContain("0x0101");
  });

  it("refuses new requests with 503 while draining", async () => {
    state.draining = true;
    try {
      const response = await app.request("/v1/models");
      expect(response.status).toBe(503);
      expect(response.headers.get("connection")).toBe("close");
      expect((await errorOf(response)).code).toBe("shutting_down");
    } finally {
      state.draining = false;
    }
  });
});
