import type { ModelCatalog, NodeApp } from "../nodeEnv.js";

/** `GET /v1/models`: the served models in OpenAI's list shape. */
export function modelsRoute(app: NodeApp, catalog: ModelCatalog): void {
  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: catalog.listModels().map((model) => ({
        id: model.id,
        object: "model",
        created: model.created,
        owned_by: model.ownedBy,
      })),
    }),
  );
}
