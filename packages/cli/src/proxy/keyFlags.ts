import type { KeyChangesInput, NewKeyInput } from "@atoma/proxy";
import { CliUsageError } from "../errors.js";
import { integerOption } from "../options.js";

/** The terms a key command takes, as typed (checked here for shape, by the gateway for meaning). */
export interface KeyTermFlags {
  name?: string;
  budget?: string;
  rpm?: string;
  tpm?: string;
  models?: string;
  expires?: string;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Words that lift a limit in `keys update`. */
const LIFT = new Set(["none", "unlimited", "all", "never"]);

/** `--expires`: an ISO date and time with an offset, or a span from now (`30d`, `12h`, `90m`). */
export function expiryOf(text: string, now = Date.now()): string {
  const span = /^(\d{1,6})([mhd])$/.exec(text);
  if (span) return new Date(now + Number(span[1]) * (UNITS[span[2] ?? "d"] ?? 0)).toISOString();
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(text) && Number.isFinite(Date.parse(text)))
    return text;
  throw new CliUsageError(
    `--expires must be a date and time such as 2030-01-01T00:00:00Z or a span such as 30d, got "${text}"`,
  );
}

function budgetOf(text: string): string {
  if (!/^\d{1,30}(\.\d{1,18})?$/.test(text))
    throw new CliUsageError(`--budget must be an amount of TOMA such as 10 or 0.5, got "${text}"`);
  return text;
}

function modelsOf(text: string): string[] {
  const models = text.split(",").map((model) => model.trim());
  if (models.some((model) => model === ""))
    throw new CliUsageError(`--models must be names separated by commas`);
  return models;
}

const perMinute = (name: string, text: string) => integerOption(name, 1, 1_000_000_000)(text);

/** The terms of `keys create`. */
export function newKeyTerms(flags: KeyTermFlags): NewKeyInput {
  if (flags.name === undefined) throw new CliUsageError("give --name <name>");
  return {
    name: flags.name,
    ...(flags.budget !== undefined && { budget: budgetOf(flags.budget) }),
    ...(flags.rpm !== undefined && { requestsPerMinute: perMinute("--rpm", flags.rpm) }),
    ...(flags.tpm !== undefined && { tokensPerMinute: perMinute("--tpm", flags.tpm) }),
    ...(flags.models !== undefined && { models: modelsOf(flags.models) }),
    ...(flags.expires !== undefined && { expiresAt: expiryOf(flags.expires) }),
  };
}

/** The changes of `keys update`: `none` (or `all`, `never`) lifts a limit. */
export function keyChanges(flags: KeyTermFlags): KeyChangesInput {
  const lift = <T>(text: string, parse: (text: string) => T): T | null =>
    LIFT.has(text) ? null : parse(text);
  const changes: KeyChangesInput = {
    ...(flags.name !== undefined && { name: flags.name }),
    ...(flags.budget !== undefined && { budget: lift(flags.budget, budgetOf) }),
    ...(flags.rpm !== undefined && { requestsPerMinute: lift(flags.rpm, (t) => perMinute("--rpm", t)) }),
    ...(flags.tpm !== undefined && { tokensPerMinute: lift(flags.tpm, (t) => perMinute("--tpm", t)) }),
    ...(flags.models !== undefined && { models: lift(flags.models, modelsOf) }),
    ...(flags.expires !== undefined && { expiresAt: lift(flags.expires, (t) => expiryOf(t)) }),
  };
  if (Object.keys(changes).length === 0)
    throw new CliUsageError("give at least one of --name, --budget, --rpm, --tpm, --models, --expires");
  return changes;
}
