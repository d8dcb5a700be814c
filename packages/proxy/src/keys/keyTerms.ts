import { InvalidInputError } from "@atoma/core";
import { parseEther } from "viem";
import { z } from "zod";

/** Printable text: no control characters (they would reach terminals and logs). */
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "must not hold control characters");

/** A model id a key may use. */
export const modelName = printable(256);

const toma = z
  .string()
  .regex(/^\d{1,30}(\.\d{1,18})?$/, "must be an amount of TOMA such as 10 or 0.5")
  .transform((text) => parseEther(text));

const perMinute = (max: number) => z.number().int().min(1).max(max);

const instant = z.iso
  .datetime({ offset: true })
  .transform((text) => Date.parse(text))
  .refine(Number.isFinite, "must be a date and time");

const termsShape = {
  /** TOMA the key may spend, in total. */
  budget: toma.nullable(),
  requestsPerMinute: perMinute(1_000_000).nullable(),
  tokensPerMinute: perMinute(1_000_000_000).nullable(),
  /** The only models the key may use. */
  models: z.array(modelName).min(1).max(100).nullable(),
  /** When the key stops working (ISO 8601 with an offset). */
  expiresAt: instant.nullable(),
};

export const newKeySchema = z.strictObject({
  name: printable(100),
  budget: termsShape.budget.optional(),
  requestsPerMinute: termsShape.requestsPerMinute.optional(),
  tokensPerMinute: termsShape.tokensPerMinute.optional(),
  models: termsShape.models.optional(),
  expiresAt: termsShape.expiresAt.optional(),
});

/** A change to a key: each field given replaces the current one, `null` lifts the limit. */
export const keyChangesSchema = z.strictObject({
  name: printable(100).optional(),
  budget: termsShape.budget.optional(),
  requestsPerMinute: termsShape.requestsPerMinute.optional(),
  tokensPerMinute: termsShape.tokensPerMinute.optional(),
  models: termsShape.models.optional(),
  expiresAt: termsShape.expiresAt.optional(),
});

export type NewKeyTerms = z.output<typeof newKeySchema>;
export type KeyChanges = z.output<typeof keyChangesSchema>;
export type NewKeyInput = z.input<typeof newKeySchema>;
export type KeyChangesInput = z.input<typeof keyChangesSchema>;

/** Validates with `schema`, throwing one `InvalidInputError` that names the first bad field (never its value). */
export function parseTerms<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === "unrecognized_keys")
    throw new InvalidInputError(`unknown field ${issue.keys.join(", ")}`);
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "the key's terms";
  throw new InvalidInputError(`${where}: ${issue?.message ?? "invalid"}`);
}
