import type { Context } from "hono";
import { isKeyId } from "../keys/apiKeySecret.js";
import { authenticate } from "../keys/authenticate.js";
import { usageDays } from "../usage/usageBook.js";
import { bearerGate } from "./bearerGate.js";
import type { GatewayParts } from "./gatewayParts.js";

/** `GET /v1/usage?days=N`: the calling key's requests, tokens and spend per model and UTC day, newest first. */
export function usageRoute(parts: GatewayParts) {
  return async (c: Context): Promise<Response> => {
    const key = await authenticate(parts.keys, c.req.header("authorization"), parts.now());
    const days = usageDays(c.req.query("days"));
    const data = (await parts.usage?.query({ keyId: key.keyId, days })) ?? [];
    return c.json({ object: "list", days, data });
  };
}

/** `GET /admin/v1/usage?days=N&key_id=…`: every key's usage, or one key's (behind the admin token). */
export function adminUsageRoute(parts: GatewayParts) {
  return async (c: Context): Promise<Response> => {
    const days = usageDays(c.req.query("days"));
    const keyId = c.req.query("key_id");
    const data =
      keyId !== undefined && !isKeyId(keyId) ? [] : ((await parts.usage?.query({ keyId, days })) ?? []);
    return c.json({ object: "list", days, data });
  };
}

/** `GET /metrics`: Prometheus's text format. */
export function metricsRoute(parts: GatewayParts, token?: string | undefined) {
  const check = token === undefined ? undefined : bearerGate(token);
  return async (c: Context): Promise<Response> => {
    check?.(c);
    const registry = parts.metrics?.registry;
    if (!registry) return c.text("", 404);
    return c.text(await registry.metrics(), 200, { "content-type": registry.contentType });
  };
}
