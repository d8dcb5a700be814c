import type { z } from "zod";
import { ConfigError } from "../errors.js";
import { nodeConfigSchema } from "./schema.js";

/** Prefix of every environment variable the node reads. */
export const ENV_PREFIX = "ATOMA_NODE_";

type Kind = "string" | "number" | "boolean" | "json";

/** One option: where it sits in `node.toml`, its environment variable, and how that variable's text is read. */
export interface ConfigOption {
  section: string;
  key: string;
  /** `section.key`, the name errors use. */
  path: string;
  env: string;
  kind: Kind;
}

const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/** The environment variable of an option: `ATOMA_NODE_<SECTION>_<KEY>` in upper snake case. */
export function envName(section: string, key: string): string {
  return `${ENV_PREFIX}${snake(section)}_${snake(key)}`;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  shape?: Record<string, z.ZodType>;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Unwraps defaults, optionals and pipes down to the type that reads the raw value. */
function baseDef(schema: z.ZodType): Def {
  let def = defOf(schema);
  for (;;) {
    if (def.innerType) def = defOf(def.innerType);
    else if (def.type === "pipe" && def.in) def = defOf(def.in);
    else return def;
  }
}

function kindOf(schema: z.ZodType): Kind {
  const def = baseDef(schema);
  switch (def.type) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "union":
      return (def.options ?? []).some((option) => baseDef(option).type === "string") ? "string" : "json";
    default:
      return "json";
  }
}

/** Every option of the schema, in order, with its environment variable: the single source the docs list. */
export function configOptions(): ConfigOption[] {
  const options: ConfigOption[] = [];
  for (const [section, sectionSchema] of Object.entries(nodeConfigSchema.shape)) {
    const shape = baseDef(sectionSchema as z.ZodType).shape ?? {};
    for (const [key, schema] of Object.entries(shape))
      options.push({
        section,
        key,
        path: `${section}.${key}`,
        env: envName(section, key),
        kind: kindOf(schema),
      });
  }
  return options;
}

function readValue(option: ConfigOption, text: string): unknown {
  switch (option.kind) {
    case "string":
      return text;
    case "number":
      if (!/^-?\d+(\.\d+)?$/.test(text.trim()))
        throw new ConfigError(`${option.env} (option ${option.path}) must be a number`);
      return Number(text.trim());
    case "boolean": {
      const value = text.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off"].includes(value)) return false;
      throw new ConfigError(`${option.env} (option ${option.path}) must be true or false`);
    }
    case "json":
      try {
        return JSON.parse(text);
      } catch {
        throw new ConfigError(`${option.env} (option ${option.path}) must be JSON`);
      }
  }
}

/**
 * Lays the `ATOMA_NODE_*` variables of `env` over `raw` (the parsed TOML), returning a new object. An empty
 * variable counts as unset; an `ATOMA_NODE_*` variable that names no option is an error (a typo would otherwise
 * be ignored silently).
 */
export function overlayEnvironment(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const options = configOptions();
  const known = new Set(options.map((option) => option.env));
  const unknown = Object.keys(env).filter((name) => name.startsWith(ENV_PREFIX) && !known.has(name));
  if (unknown.length > 0)
    throw new ConfigError(`unknown environment variable ${unknown.sort().join(", ")}`, {
      details: `known variables: ${[...known].join(", ")}`,
    });
  const result: Record<string, unknown> = { ...raw };
  for (const option of options) {
    const text = env[option.env];
    if (text === undefined || text === "") continue;
    const current = result[option.section];
    const section =
      typeof current === "object" && current !== null && !Array.isArray(current)
        ? { ...(current as Record<string, unknown>) }
        : {};
    section[option.key] = readValue(option, text);
    result[option.section] = section;
  }
  return result;
}
