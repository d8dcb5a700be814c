import { readFileSync } from "node:fs";
import { CliUsageError } from "./errors.js";

/** The gateway's settings no flag sets: read from `atoma proxy start --settings <file>`. */
const FILE_SECTIONS = ["routing", "confidential"] as const;

export type ProxySettingsFile = Partial<Record<(typeof FILE_SECTIONS)[number], Record<string, unknown>>>;

/**
 * Reads a JSON settings file holding only `routing` and `confidential` (the rest are flags, and secrets come from the
 * environment). Their values are checked with the rest of the gateway's settings; here only the file's shape is.
 */
export function readProxySettingsFile(file: string): ProxySettingsFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliUsageError(
      `--settings: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliUsageError(`--settings: ${file} is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new CliUsageError(`--settings: ${file} must hold a JSON object`);
  const settings: ProxySettingsFile = {};
  for (const [section, value] of Object.entries(parsed)) {
    if (!(FILE_SECTIONS as readonly string[]).includes(section))
      throw new CliUsageError(
        `--settings: ${JSON.stringify(section).slice(0, 40)} is not read from a settings file (only ${FILE_SECTIONS.join(" and ")}; the rest are flags or environment variables)`,
      );
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new CliUsageError(`--settings: ${section} must be a JSON object`);
    settings[section as keyof ProxySettingsFile] = value as Record<string, unknown>;
  }
  return settings;
}
