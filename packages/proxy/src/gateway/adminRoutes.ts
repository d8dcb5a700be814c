import type { Hono } from "hono";
import type { KeyStore } from "../keys/keyStore.js";
import { bearerGate } from "./bearerGate.js";
import { readJsonBody } from "./readJsonBody.js";

/**
 * The admin API, behind `Authorization: Bearer <admin token>`: `GET /admin/v1/keys`, `POST /admin/v1/keys`
 * (the key is in the answer, this once), `GET|PATCH /admin/v1/keys/{id}`, `POST /admin/v1/keys/{id}/revoke`.
 */
export function adminRoutes(app: Hono, keys: KeyStore, adminToken: string): void {
  const check = bearerGate(adminToken);
  app.use("/admin/*", async (c, next) => {
    check(c);
    await next();
  });
  app.get("/admin/v1/keys", async (c) => c.json({ object: "list", data: await keys.list() }));
  app.post("/admin/v1/keys", async (c) => {
    const created = await keys.create(await readJsonBody(c));
    return c.json({ ...created.view, key: created.key }, 201);
  });
  app.get("/admin/v1/keys/:id", async (c) => c.json(await keys.get(c.req.param("id"))));
  app.patch("/admin/v1/keys/:id", async (c) =>
    c.json(await keys.update(c.req.param("id"), await readJsonBody(c))),
  );
  app.post("/admin/v1/keys/:id/revoke", async (c) => c.json(await keys.revoke(c.req.param("id"))));
}
