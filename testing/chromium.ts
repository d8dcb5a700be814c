import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Where Debian's `chromium` package puts the browser; `.ci/run` installs it when missing. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function chromiumAvailable(): boolean {
  return existsSync(chromiumPath);
}

// Flags that keep a headless Chromium quiet on a machine with no route out: without the background-networking
// ones it keeps dialling Google's hosts and filling the log with refused connections.
const quietFlags = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Starts the machine's Chromium headless; Playwright gives it a fresh profile and removes it on close. */
export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(
      `no Chromium at ${chromiumPath}: install Debian's chromium package (.ci/run does) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: quietFlags });
}
