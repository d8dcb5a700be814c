import type { HealthCheck, NodeApp, ServerState } from "../nodeEnv.js";

const CHECK_TIMEOUT_MS = 2_000;

async function run(check: HealthCheck): Promise<"ok" | "failing"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("health check timed out")), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return "ok";
  } catch {
    return "failing";
  } finally {
    clearTimeout(timer);
  }
}

/** `GET /health`: 200 `{status:"ok"}` when every check passes; 503 while draining or when one fails. */
export function healthRoute(app: NodeApp, state: ServerState, checks: HealthCheck[]): void {
  app.get("/health", async (c) => {
    const results = Object.fromEntries(
      await Promise.all(checks.map(async (check) => [check.name, await run(check)] as const)),
    );
    const failing = Object.values(results).includes("failing");
    const status = state.draining ? "draining" : failing ? "degraded" : "ok";
    return c.json({ status, checks: results }, status === "ok" ? 200 : 503);
  });
}
