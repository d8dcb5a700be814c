import { useEffect, useState } from "react";

export interface Health {
  status: string;
  latencyMs: number | undefined;
}

const EVERY_MS = 3_000;
const TIMEOUT_MS = 2_000;

/** Asks each node's `GET /health` every few seconds, timing the answer. */
export function useHealth(urls: readonly string[]): Map<string, Health> {
  const [health, setHealth] = useState(new Map<string, Health>());
  const key = urls.join("\n");
  useEffect(() => {
    let live = true;
    const probe = async (url: string): Promise<[string, Health]> => {
      const started = performance.now();
      try {
        const response = await fetch(`${url.replace(/\/$/, "")}/health`, {
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        const body = (await response.json().catch(() => ({}))) as { status?: unknown };
        const status = typeof body.status === "string" ? body.status : `http ${response.status}`;
        return [url, { status, latencyMs: Math.round(performance.now() - started) }];
      } catch {
        return [url, { status: "unreachable", latencyMs: undefined }];
      }
    };
    const round = async () => {
      const results = await Promise.all(key.split("\n").filter(Boolean).map(probe));
      if (live) setHealth(new Map(results));
    };
    void round();
    const timer = setInterval(() => void round(), EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [key]);
  return health;
}
