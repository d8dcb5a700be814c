import type { Hono } from "hono";

/** What every request's context carries. */
export type NodeEnv = { Variables: { requestId: string } };

export type NodeApp = Hono<NodeEnv>;

/** A part of the node that serves HTTP routes (the stack API, next): it adds them to the app before start. */
export type RouteInstaller = (app: NodeApp) => void;

/** One model served, as `GET /v1/models` lists it. */
export interface ModelCard {
  id: string;
  /** Unix seconds. */
  created: number;
  ownedBy: string;
}

/** Where `GET /v1/models` reads from: the configured model now, the engine's loaded models next. */
export interface ModelCatalog {
  listModels(): ModelCard[];
}

/** A dependency `/health` checks; `check` throws (or times out) when it is unwell. */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

/** Shared with the HTTP server: once draining, new requests get 503 and `/health` reports it. */
export interface ServerState {
  draining: boolean;
}
