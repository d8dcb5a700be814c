import { DevnetTimeoutError } from "./devnetTimeoutError.js";

/**
 * Polls `probe` every 100 ms until it returns a value other than undefined or false, or fails after `timeoutMs`
 * (generous for a busy machine).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 150_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new DevnetTimeoutError(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
