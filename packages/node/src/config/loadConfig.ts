import { readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { ConfigError } from "../errors.js";
import { envName, overlayEnvironment } from "./env.js";
import { type NodeConfigInput, nodeConfigSchema, type ParsedNodeConfig } from "./schema.js";

export type EmbeddedDatabaseConfig = {
  kind: "embedded";
  dir: string;
  /** @default "sqlite"; "pglite" opens a directory written by a node from before the SQLite store. */
  engine?: "sqlite" | "pglite" | undefined;
  /** SQLite only: `full` syncs every commit to disk (the default), `normal` only at checkpoints. */
  synchronous?: "full" | "normal" | undefined;
};
export type PostgresDatabaseConfig = { kind: "postgres"; url: string; schema: string; poolSize: number };

/** The validated configuration, with defaults applied and every path absolute. */
export interface NodeConfig {
  chain: ParsedNodeConfig["chain"];
  node: ParsedNodeConfig["node"];
  database: EmbeddedDatabaseConfig | PostgresDatabaseConfig;
  blobs: { dir: string };
  model: ParsedNodeConfig["model"] & { id: string; path: string };
  limits: ParsedNodeConfig["limits"];
  settlement: ParsedNodeConfig["settlement"];
  metrics: ParsedNodeConfig["metrics"];
  confidential: ParsedNodeConfig["confidential"];
}

export interface LoadConfigOptions {
  /** `node.toml` to read; without it only the environment is used. */
  file?: string | undefined;
  /** Variables to read `ATOMA_NODE_*` from. @default process.env */
  env?: Record<string, string | undefined> | undefined;
}

/**
 * Reads `node.toml` (if given), lays the `ATOMA_NODE_*` environment variables over it, and validates the result.
 * Relative paths resolve against the file's directory (the working directory without a file).
 * Throws `ConfigError` naming each bad or missing option and its variable; values are never echoed.
 */
export function loadNodeConfig(options: LoadConfigOptions = {}): NodeConfig {
  const raw = options.file === undefined ? {} : readTomlFile(options.file);
  const merged = overlayEnvironment(raw, options.env ?? process.env);
  const baseDir = options.file === undefined ? process.cwd() : dirname(resolve(options.file));
  return parseNodeConfig(merged, baseDir);
}

function readTomlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(`cannot read config file ${file} (${code})`);
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (cause) {
    // smol-toml's own message quotes the offending line, which may hold a secret: give the position only.
    const where = cause instanceof TomlError ? ` at line ${cause.line}, column ${cause.column}` : "";
    throw new ConfigError(`config file ${file} is not valid TOML${where}`);
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const [section, key] = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const where = issue.path.length === 0 ? "" : `${issue.path.join(".")}.`;
    return issue.keys.map((name) => `unknown option ${where}${name}`).join("; ");
  }
  const name = issue.path.join(".") || "(top level)";
  const env = section !== undefined && key !== undefined ? ` (${envName(section, key)})` : "";
  const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
  return `option ${name}${env} ${missing ? "is required" : issue.message.toLowerCase()}`;
}

/** Validates an already-merged raw configuration; relative paths resolve against `baseDir`. */
export function parseNodeConfig(raw: unknown, baseDir: string): NodeConfig {
  // A missing section is validated as an empty one, so each of its required options is named.
  const sections =
    typeof raw === "object" && raw !== null && !Array.isArray(raw)
      ? { ...Object.fromEntries(Object.keys(nodeConfigSchema.shape).map((name) => [name, {}])), ...raw }
      : raw;
  const result = nodeConfigSchema.safeParse(sections);
  if (!result.success) {
    const lines = result.error.issues.map(describeIssue);
    const more = lines.length > 1 ? ` (and ${lines.length - 1} more problems)` : "";
    throw new ConfigError(`${lines[0] ?? "invalid configuration"}${more}`, {
      details: lines.length > 1 ? lines.join("\n") : undefined,
    });
  }
  return resolveConfig(result.data, baseDir);
}

function resolveConfig(parsed: ParsedNodeConfig, baseDir: string): NodeConfig {
  const path = (value: string) => (isAbsolute(value) ? value : resolve(baseDir, value));
  const dataDir = path(parsed.node.dataDir);
  const { url, dir, schema, poolSize, engine, synchronous } = parsed.database;
  const modelPath = path(parsed.model.path ?? sourceDownloadPath(parsed.model.source!, dataDir));
  return {
    chain: parsed.chain,
    node: { ...parsed.node, dataDir, keyFile: path(parsed.node.keyFile) },
    database:
      url === undefined
        ? {
            kind: "embedded",
            dir: dir === undefined ? join(dataDir, "db") : path(dir),
            ...(engine === undefined ? {} : { engine }),
            ...(synchronous === undefined ? {} : { synchronous }),
          }
        : { kind: "postgres", url, schema, poolSize },
    blobs: { dir: join(dataDir, "blobs") },
    model: {
      ...parsed.model,
      path: modelPath,
      id: parsed.model.id ?? basename(modelPath).replace(/\.gguf$/i, ""),
    },
    limits: parsed.limits,
    settlement: parsed.settlement,
    metrics: parsed.metrics,
    confidential: {
      ...parsed.confidential,
      ...(parsed.confidential.collateralFile
        ? { collateralFile: path(parsed.confidential.collateralFile) }
        : {}),
      ...(parsed.confidential.devKeyFile ? { devKeyFile: path(parsed.confidential.devKeyFile) } : {}),
      ...(parsed.confidential.gpuTokenCommand
        ? { gpuTokenCommand: commandPath(parsed.confidential.gpuTokenCommand, path) }
        : {}),
    },
  };
}

export type { NodeConfigInput };

/** A command's executable as written, or the config directory's when it is a relative path (`./x`, `bin/x`). */
function commandPath(command: string[], path: (value: string) => string): string[] {
  const [file, ...args] = command;
  return [file!.includes("/") ? path(file!) : file!, ...args];
}

/** Where a `hf:<owner>/<repo>/<file>` source is downloaded when no path is given. */
function sourceDownloadPath(source: string, dataDir: string): string {
  const [owner, repo, ...file] = source.slice("hf:".length).split("/");
  return join(dataDir, "models", owner!, repo!, basename(file.join("/")));
}
