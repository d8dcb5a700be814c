import { isBuiltin } from "node:module";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Node's own modules (`node:fs`, `fs`, `child_process`...) a bundle's import graph reached, with who imported them. */
export interface NodeOnlyImport {
  path: string;
  importer: string;
}

/**
 * Bundles `entry` for browsers as a mainstream bundler does (esbuild, platform browser: the `browser` export
 * condition, ESM), recording every import of a Node built-in module instead of failing on the first.
 */
export async function bundleForBrowser(
  entry: string,
  outfile?: string,
): Promise<{ nodeOnly: NodeOnlyImport[]; inputs: string[] }> {
  const nodeOnly: NodeOnlyImport[] = [];
  const recordNodeOnly: Plugin = {
    name: "record-node-only",
    setup(plugin) {
      plugin.onResolve({ filter: /.*/ }, (args) => {
        if (!isBuiltin(args.path)) return undefined;
        nodeOnly.push({ path: args.path, importer: args.importer });
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: repoRoot,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    metafile: true,
    logLevel: "silent",
    plugins: [recordNodeOnly],
    ...(outfile === undefined ? { write: false } : { outfile }),
  });
  return { nodeOnly, inputs: Object.keys(result.metafile.inputs) };
}
