import { describe, expect, it } from "vitest";
import { openExplorer } from "../../../testing/explorerPage.js";

const somewhere = "0x0000000000000000000000000000000000000001";
const contracts = Object.fromEntries(
  ["AtomaToken", "NodeRegistry", "TaskRegistry", "AtomaVault", "StackManager"].map((name) => [
    name,
    somewhere,
  ]),
);

/** The explorer in Chromium when what it is given does not hold: it says why instead of a blank page. */
describe("the explorer without a usable network", () => {
  it("names a network description it cannot use", async () => {
    const explorer = await openExplorer({ rpcUrl: "ftp://nowhere", chainId: 31337, contracts });
    try {
      await expect
        .poll(() => explorer.tab.locator('[data-testid="config-error"]').textContent())
        .toMatch(/needs rpcUrl, an http\(s\) URL/);
    } finally {
      await explorer.close();
    }
  }, 30_000);

  it("says which chain it cannot reach, and still computes the economics", async () => {
    const explorer = await openExplorer(
      { rpcUrl: "http://127.0.0.1:9", chainId: 31337, contracts },
      "#/economics",
    );
    try {
      const { tab } = explorer;
      await expect
        .poll(() => tab.locator('[data-testid="chain-error"]').textContent(), { timeout: 15_000 })
        .toMatch(/^cannot read the chain at http:\/\/127\.0\.0\.1:9: /);
      expect(await tab.locator('[data-testid="theorem"]').textContent()).toMatch(/^\d/);
    } finally {
      await explorer.close();
    }
  }, 30_000);
});
