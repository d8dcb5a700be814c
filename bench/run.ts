import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const benches = readdirSync(dir)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts" && !file.endsWith(".test.ts"))
  .map((file) => file.slice(0, -3))
  .sort();

const summary = (name: string) => {
  const firstLine = readFileSync(`${dir}/${name}.ts`, "utf8").split("\n")[0] ?? "";
  return firstLine.startsWith("//") ? firstLine.slice(2).trim() : "";
};

const [name, ...args] = process.argv.slice(2);
if (!name) {
  console.log("benchmarks (npm run bench -- NAME):");
  for (const bench of benches) console.log(`  ${bench.padEnd(12)} ${summary(bench)}`);
} else if (!benches.includes(name)) {
  console.error(`no benchmark named "${name}"; known: ${benches.join(", ")}`);
  process.exitCode = 2;
} else {
  const result = spawnSync(process.execPath, ["--import", "tsx", `${dir}/${name}.ts`, ...args], {
    stdio: "inherit",
  });
  process.exitCode = result.status ?? 1;
}
