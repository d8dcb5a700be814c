import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { AnvilStartError } from "../errors.js";

const platforms: Record<string, string> = { linux: "linux", darwin: "darwin", win32: "win32" };
const archs: Record<string, string> = { x64: "amd64", arm64: "arm64" };

/** Path of the anvil binary shipped in the `@foundry-rs/anvil-<os>-<arch>` npm package. */
export function anvilBinaryPath(): string {
  const os = platforms[process.platform];
  const arch = archs[process.arch];
  if (!os || !arch) throw new AnvilStartError(`no anvil build for ${process.platform}/${process.arch}`);
  const packageName = `@foundry-rs/anvil-${os}-${arch}`;
  const require = createRequire(createRequire(import.meta.url).resolve("@foundry-rs/anvil/package.json"));
  let packageDir: string;
  try {
    packageDir = dirname(require.resolve(`${packageName}/package.json`));
  } catch (cause) {
    throw new AnvilStartError(`${packageName} is not installed`, {
      details: "run npm install; the binary ships as an optional dependency of @foundry-rs/anvil",
      cause,
    });
  }
  const binary = join(packageDir, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
  if (!existsSync(binary)) throw new AnvilStartError(`${binary} is missing`);
  return binary;
}
