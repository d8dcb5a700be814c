import type { Selectable } from "kysely";
import { formatEther } from "viem";
import type { ApiKeysTable } from "../db/schema.js";

/** A key as the gateway uses it (amounts in wei, times in Unix milliseconds). */
export interface KeyRecord {
  keyId: string;
  name: string;
  keyPrefix: string;
  budgetWei: bigint | null;
  spentWei: bigint;
  reservedWei: bigint;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  models: string[] | null;
  expiresAtMs: number | null;
  revokedAtMs: number | null;
  createdAtMs: number;
}

export type KeyStatus = "active" | "revoked" | "expired";

/** A key as the admin API and `atoma proxy keys` show it: TOMA amounts as decimal text, ISO times. */
export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  status: KeyStatus;
  budget: string | null;
  spent: string;
  reserved: string;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  models: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

const optional = <T, R>(value: T | null, map: (value: T) => R): R | null =>
  value === null ? null : map(value);

export function keyRecordOf(row: Selectable<ApiKeysTable>): KeyRecord {
  return {
    keyId: row.key_id,
    name: row.name,
    keyPrefix: row.key_prefix,
    budgetWei: row.budget_wei,
    spentWei: row.spent_wei,
    reservedWei: row.reserved_wei,
    requestsPerMinute: row.requests_per_minute,
    tokensPerMinute: row.tokens_per_minute,
    models: row.allowed_models,
    expiresAtMs: optional(row.expires_at_ms, Number),
    revokedAtMs: optional(row.revoked_at_ms, Number),
    createdAtMs: Number(row.created_at_ms),
  };
}

export function keyStatus(key: KeyRecord, nowMs: number): KeyStatus {
  if (key.revokedAtMs !== null) return "revoked";
  if (key.expiresAtMs !== null && key.expiresAtMs <= nowMs) return "expired";
  return "active";
}

const iso = (ms: number) => new Date(ms).toISOString();

export function keyView(key: KeyRecord, nowMs: number): KeyView {
  return {
    id: key.keyId,
    name: key.name,
    prefix: key.keyPrefix,
    status: keyStatus(key, nowMs),
    budget: optional(key.budgetWei, formatEther),
    spent: formatEther(key.spentWei),
    reserved: formatEther(key.reservedWei),
    requestsPerMinute: key.requestsPerMinute,
    tokensPerMinute: key.tokensPerMinute,
    models: key.models,
    expiresAt: optional(key.expiresAtMs, iso),
    revokedAt: optional(key.revokedAtMs, iso),
    createdAt: iso(key.createdAtMs),
  };
}
