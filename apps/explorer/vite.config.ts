import { builtinModules } from "node:module";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

const PREFIX = "\0node-builtin-unused:";
const identifier = /^[A-Za-z_$][\w$]*$/;

/**
 * `@atoma/chain`'s index also exports the anvil launcher (node:child_process, node:fs), which the explorer never
 * calls. Each Node built-in becomes a module with the same export names whose functions throw when called, so the
 * shared packages bundle as they are and any accidental use fails loudly.
 */
function nodeBuiltinsUnused(): Plugin {
  const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
  return {
    name: "atoma-node-builtins-unused",
    enforce: "pre",
    resolveId: (id) => (builtins.has(id) ? `${PREFIX}${id}` : undefined),
    async load(id) {
      if (!id.startsWith(PREFIX)) return undefined;
      const name = id.slice(PREFIX.length);
      const names = Object.keys(await import(name)).filter(
        (key) => key !== "default" && identifier.test(key),
      );
      const thrower = `() => { throw new Error(${JSON.stringify(`${name} is not available in the browser`)}); }`;
      return [
        `const unavailable = ${thrower};`,
        "export default {};",
        ...names.map((key) => `export const ${key} = unavailable;`),
      ].join("\n");
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [nodeBuiltinsUnused(), react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 4096 },
});
