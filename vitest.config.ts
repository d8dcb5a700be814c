import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Tests import workspace packages from their TypeScript sources, so no build is needed to run them. */
export const workspaceAliases = {
  "@atoma/contracts": here("./contracts/generated/index.ts"),
  "@atoma/core": here("./packages/core/src/index.ts"),
  "@atoma/confidential": here("./packages/confidential/src/index.ts"),
  "@atoma/embedded-db": here("./packages/embedded-db/src/index.ts"),
  // A subpath entry comes before its package: an alias also matches what starts with its name and a slash.
  "@atoma/chain/devnet": here("./packages/chain/src/devnet/index.ts"),
  "@atoma/chain/portable": here("./packages/chain/src/portable.ts"),
  "@atoma/chain": here("./packages/chain/src/index.ts"),
  "@atoma/engine": here("./packages/engine/src/index.ts"),
  "@atoma/node/devnet": here("./packages/node/src/devnet/index.ts"),
  "@atoma/node": here("./packages/node/src/index.ts"),
  "@atoma/proxy": here("./packages/proxy/src/index.ts"),
  "@atoma/sdk/gateway-confidential": here("./packages/sdk/src/client/gatewayConfidential.ts"),
  "@atoma/sdk/node": here("./packages/sdk/src/node/index.ts"),
  "@atoma/sdk": here("./packages/sdk/src/index.ts"),
  "@atoma/simulate": here("./packages/simulate/src/index.ts"),
  "@atoma/cli": here("./packages/cli/src/index.ts"),
};

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "contracts/scripts/**/*.test.ts",
      "bench/**/*.test.ts",
      "testing/**/*.test.ts",
    ],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
