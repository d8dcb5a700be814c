import type { Context } from "hono";
import { formatEther } from "viem";
import { ModelNotFoundError } from "../errors.js";
import { authenticate, keyAllows } from "../keys/authenticate.js";
import type { GatewayParts } from "./gatewayParts.js";
import type { ModelListing } from "./upstream.js";

function modelCard(model: ModelListing) {
  return {
    id: model.id,
    object: "model",
    created: model.created,
    owned_by: "atoma",
    atoma: {
      nodes: model.nodeIds.map(String),
      price_per_million_units: model.price && {
        cheapest: formatEther(model.price.cheapest),
        median: formatEther(model.price.median),
      },
    },
  };
}

/** `GET /v1/models`: the models the key may use that the network serves, with their nodes and prices (TOMA). */
export function modelsRoute(parts: GatewayParts) {
  return async (c: Context): Promise<Response> => {
    const key = await authenticate(parts.keys, c.req.header("authorization"), parts.now());
    const models = parts.upstream.models().filter((model) => keyAllows(key, model.id));
    return c.json({ object: "list", data: models.map(modelCard) });
  };
}

/** `GET /v1/models/{id}` (`client.models.retrieve`): one model's card, 404 `model_not_found` when the key may not use it. */
export function modelRoute(parts: GatewayParts) {
  return async (c: Context): Promise<Response> => {
    const key = await authenticate(parts.keys, c.req.header("authorization"), parts.now());
    const model = parts.upstream.model(c.req.param("id") ?? "");
    if (!model || !keyAllows(key, model.id)) throw new ModelNotFoundError();
    return c.json(modelCard(model));
  };
}
