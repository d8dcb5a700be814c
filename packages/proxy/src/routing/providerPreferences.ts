import { InvalidInputError } from "@atoma/core";
import { parseEther } from "viem";
import { z } from "zod";

export type RouteSort = "price" | "latency" | "throughput";

/** How one request wants its node chosen: OpenRouter's `provider` object, with node ids for provider names. */
export interface ProviderPreferences {
  /** Rank by this alone (ties by the balanced score); absent: the balanced score. */
  sort?: RouteSort | undefined;
  /** Nodes above this price per million units (wei of TOMA) are not used. */
  maxPricePerMillion?: bigint | undefined;
  /** Nodes tried first, in this order. */
  order?: bigint[] | undefined;
  /** Only these nodes. */
  only?: bigint[] | undefined;
  ignore?: bigint[] | undefined;
  /** False: no node beyond `order` (or beyond the first choice without one) is tried. @default true */
  allowFallbacks: boolean;
}

const MAX_NODE_IDS = 1_000;
const UINT256_MAX = 2n ** 256n - 1n;

const nodeId = z
  .union([
    z.string().regex(/^(0|[1-9]\d{0,77})$/),
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ])
  .transform((value) => BigInt(value))
  .refine((value) => value <= UINT256_MAX);
const nodeIds = z.array(nodeId).max(MAX_NODE_IDS);

/** TOMA per million units, as a number or decimal text; becomes wei. */
const toma = z
  .union([z.number().finite().nonnegative().max(1e12), z.string().regex(/^\d{1,12}(\.\d{1,18})?$/)])
  .transform((value) => parseEther(typeof value === "number" ? value.toFixed(18) : value));

/** OpenRouter prices prompt and completion tokens apart; a unit here is either, so the lower cap holds for both. */
const maxPrice = z.union([
  toma,
  z
    .strictObject({ prompt: toma.optional(), completion: toma.optional() })
    .transform(({ prompt, completion }) => {
      const caps = [prompt, completion].filter((cap): cap is bigint => cap !== undefined);
      return caps.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
    }),
]);

const providerSchema = z.strictObject({
  sort: z.enum(["price", "latency", "throughput"]).optional(),
  max_price: maxPrice.optional(),
  order: nodeIds.optional(),
  only: nodeIds.optional(),
  ignore: nodeIds.optional(),
  allow_fallbacks: z.boolean().default(true),
});

/**
 * A request's `provider` object, validated. Throws `InvalidInputError` naming the field at fault (never its value:
 * the message goes back to the client and into logs).
 */
export function parseProviderPreferences(value: unknown): ProviderPreferences {
  if (value === undefined || value === null) return { allowFallbacks: true };
  const parsed = providerSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `provider.${issue.path.join(".")}` : "provider";
    const what =
      issue?.code === "unrecognized_keys"
        ? `has a field this gateway does not know (${issue.keys.filter(isPlainName).join(", ")})`
        : "is invalid";
    throw new InvalidInputError(
      `${where} ${what}: provider takes sort (price, latency, throughput), max_price (TOMA per million units), order, only, ignore (node ids) and allow_fallbacks`,
    );
  }
  const { sort, max_price, order, only, ignore, allow_fallbacks } = parsed.data;
  return {
    ...(sort !== undefined && { sort }),
    ...(max_price !== undefined && { maxPricePerMillion: max_price }),
    ...(order !== undefined && { order }),
    ...(only !== undefined && { only }),
    ...(ignore !== undefined && { ignore }),
    allowFallbacks: allow_fallbacks,
  };
}

/** Field names echoed back only when they are plain identifiers. */
const isPlainName = (name: string) => /^[a-z_]{1,40}$/.test(name);
