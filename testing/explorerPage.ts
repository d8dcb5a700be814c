import type { Browser, Page } from "playwright-core";
import {
  type ExplorerServer,
  explorerDist,
  startExplorerServer,
} from "../packages/cli/src/dev/explorerServer.js";
import { launchChromium } from "./chromium.js";

export interface ExplorerPage {
  tab: Page;
  url: string;
  close(): Promise<void>;
}

/**
 * The built explorer (`npm run build` builds it) served for `network` (rpcUrl, chainId, contracts: what `atoma dev`
 * prints) and opened at `hash` in the machine's Chromium.
 */
export async function openExplorer(network: unknown, hash = "#/network"): Promise<ExplorerPage> {
  const dist = explorerDist();
  if (dist === undefined) throw new Error("apps/explorer is not built: run npm run build first");
  let server: ExplorerServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startExplorerServer(dist, network);
    browser = await launchChromium();
    const tab = await browser.newPage();
    await tab.goto(`${server.url}/${hash}`);
    const opened = { server, browser };
    return {
      tab,
      url: server.url,
      close: async () => {
        await opened.browser.close();
        await opened.server.stop();
      },
    };
  } catch (error) {
    await browser?.close();
    await server?.stop();
    throw error;
  }
}
