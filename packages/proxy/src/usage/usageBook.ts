import { InvalidInputError } from "@atoma/core";
import { sql } from "kysely";
import { formatEther } from "viem";
import type { GatewayDb } from "../db/openGatewayDatabase.js";

/** One key's use of one model on one UTC day. */
export interface UsageRow {
  key_id: string;
  model: string;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  requests: number;
  /** Units the receipts charged (prompt and completion tokens). */
  tokens: number;
  /** In TOMA, as decimal text. */
  spend: string;
  spend_wei: string;
}

export interface UsageQuery {
  /** One key's usage; all keys' without it (the admin's view). */
  keyId?: string | undefined;
  /** The last this many UTC days, today included. @default 30 */
  days?: number | undefined;
}

const MAX_DAYS = 366;
const DAY_MS = 86_400_000;
/** The UTC day (`YYYY-MM-DD`) of Unix milliseconds. */
export const utcDayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayOf = utcDayOf;

/** The `days` query parameter: a whole number from 1 to 366. */
export function usageDays(text: string | undefined): number {
  if (text === undefined) return 30;
  const days = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
  if (!(days >= 1 && days <= MAX_DAYS))
    throw new InvalidInputError(`days must be a whole number from 1 to ${MAX_DAYS}`);
  return days;
}

/** What each key served, per model and UTC day, in the gateway's database (shared by gateways on PostgreSQL). */
export class UsageBook {
  constructor(
    private readonly db: GatewayDb,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds one served request: its units and its cost. */
  async record(keyId: string, model: string, tokens: bigint, spendWei: bigint): Promise<void> {
    await this.db
      .insertInto("usage_daily")
      .values({ key_id: keyId, model, day: dayOf(this.now()), requests: 1, tokens, spend_wei: spendWei })
      .onConflict((oc) =>
        oc.columns(["key_id", "day", "model"]).doUpdateSet({
          requests: sql`usage_daily.requests + 1`,
          tokens: sql`usage_daily.tokens + ${tokens}`,
          spend_wei: sql`usage_daily.spend_wei + ${spendWei}`,
        }),
      )
      .execute();
  }

  /** Newest day first, then model. */
  async query(query: UsageQuery = {}): Promise<UsageRow[]> {
    const days = query.days ?? 30;
    const from = dayOf(this.now() - (days - 1) * DAY_MS);
    const rows = await this.db
      .selectFrom("usage_daily")
      .selectAll()
      .where("day", ">=", from)
      .$if(query.keyId !== undefined, (q) => q.where("key_id", "=", query.keyId ?? ""))
      .orderBy("day", "desc")
      .orderBy("model")
      .orderBy("key_id")
      .execute();
    return rows.map((row) => ({
      key_id: row.key_id,
      model: row.model,
      day: row.day,
      requests: Number(row.requests),
      tokens: Number(row.tokens),
      spend: formatEther(row.spend_wei),
      spend_wei: String(row.spend_wei),
    }));
  }
}
