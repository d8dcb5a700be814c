import { InvalidInputError } from "@atoma/core";
import type { Updateable } from "kysely";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import type { ApiKeysTable } from "../db/schema.js";
import { KeyNotFoundError } from "../errors.js";
import { hashApiKey, isKeyId, newKeySecret } from "./apiKeySecret.js";
import { KeyCache } from "./keyCache.js";
import { type KeyRecord, type KeyView, keyRecordOf, keyView } from "./keyRecord.js";
import {
  type KeyChangesInput,
  keyChangesSchema,
  type NewKeyInput,
  newKeySchema,
  parseTerms,
} from "./keyTerms.js";

/** What creating a key returns: the key itself, shown this once, and how it is stored. */
export interface CreatedKey {
  key: string;
  view: KeyView;
}

/** The operations on keys that both the admin API and `atoma proxy keys` offer. */
export interface KeyAdmin {
  create(input: NewKeyInput): Promise<CreatedKey>;
  list(): Promise<KeyView[]>;
  get(keyId: string): Promise<KeyView>;
  update(keyId: string, changes: KeyChangesInput): Promise<KeyView>;
  revoke(keyId: string): Promise<KeyView>;
}

/**
 * API keys in the gateway's database: only their hashes are stored. Inputs are validated here, once. Keys found
 * by `findByKey` are remembered for `cacheMs` (by hash): a change this process makes (update, revoke) forgets
 * them at once; one another gateway over the same PostgreSQL makes is seen here within `cacheMs`.
 */
export class KeyStore implements KeyAdmin {
  readonly #found = new KeyCache();
  /** Keys being read again in the background. */
  readonly #refreshing = new Set<string>();

  constructor(
    private readonly db: GatewayDb,
    private readonly now: () => number = Date.now,
    /** How long a key found stays remembered (0: never). @default 1000 */
    private readonly cacheMs = 1_000,
  ) {}

  async create(input: NewKeyInput | Record<string, unknown>): Promise<CreatedKey> {
    const terms = parseTerms(newKeySchema, input);
    const now = this.now();
    if (terms.expiresAt != null && terms.expiresAt <= now)
      throw new InvalidInputError("expiresAt must lie in the future");
    const secret = newKeySecret();
    const row = await this.db
      .insertInto("api_keys")
      .values({
        key_id: secret.keyId,
        name: terms.name,
        key_hash: secret.keyHash,
        key_prefix: secret.keyPrefix,
        budget_wei: terms.budget ?? null,
        requests_per_minute: terms.requestsPerMinute ?? null,
        tokens_per_minute: terms.tokensPerMinute ?? null,
        allowed_models: terms.models == null ? null : JSON.stringify(terms.models),
        expires_at_ms: terms.expiresAt ?? null,
        created_at_ms: now,
        updated_at_ms: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { key: secret.key, view: keyView(keyRecordOf(row), now) };
  }

  async list(): Promise<KeyView[]> {
    const rows = await this.db.selectFrom("api_keys").selectAll().orderBy("created_at_ms").execute();
    const now = this.now();
    return rows.map((row) => keyView(keyRecordOf(row), now));
  }

  async get(keyId: string): Promise<KeyView> {
    return keyView(await this.record(keyId), this.now());
  }

  /** The key's record; `KeyNotFoundError` for an id of another shape or none stored. */
  async record(keyId: string): Promise<KeyRecord> {
    if (!isKeyId(keyId)) throw new KeyNotFoundError(undefined);
    const row = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("key_id", "=", keyId)
      .executeTakeFirst();
    if (!row) throw new KeyNotFoundError(keyId);
    return keyRecordOf(row);
  }

  /**
   * The key whose hash this is, whatever its state (the caller decides what revoked or expired means). A key
   * remembered for less than half of `cacheMs` more is read again in the background (the request goes on with
   * the one remembered), so a key in steady use is never looked up on a request's path.
   */
  async findByKey(key: string): Promise<KeyRecord | undefined> {
    const hash = hashApiKey(key);
    // The cache's clock is the process's own: `now` tells keys' expiry, and tests may hold it still.
    const now = performance.now();
    const remembered = this.#found.entry(hash, now);
    if (!remembered) return this.#read(hash);
    if (remembered.until - now < this.cacheMs / 2 && !this.#refreshing.has(hash)) {
      this.#refreshing.add(hash);
      // A failed read leaves the key as remembered, until its time is up.
      this.#read(hash)
        .catch(() => undefined)
        .finally(() => this.#refreshing.delete(hash));
    }
    return remembered.record;
  }

  /** Reads the key and remembers it for `cacheMs` from when the read began (never longer). */
  async #read(hash: string): Promise<KeyRecord | undefined> {
    const generation = this.#found.generation;
    const readAt = performance.now();
    const row = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("key_hash", "=", hash)
      .executeTakeFirst();
    const record = row && keyRecordOf(row);
    // A change made while the row was read may be newer than it: then it is not remembered.
    if (record && this.cacheMs > 0 && generation === this.#found.generation)
      this.#found.set(hash, record, readAt + this.cacheMs);
    return record;
  }

  async update(keyId: string, input: KeyChangesInput | Record<string, unknown>): Promise<KeyView> {
    const changes = parseTerms(keyChangesSchema, input);
    if (Object.keys(changes).length === 0) throw new InvalidInputError("nothing to change");
    const now = this.now();
    const values: Updateable<ApiKeysTable> = { updated_at_ms: now };
    if (changes.name !== undefined) values.name = changes.name;
    if (changes.budget !== undefined) values.budget_wei = changes.budget;
    if (changes.requestsPerMinute !== undefined) values.requests_per_minute = changes.requestsPerMinute;
    if (changes.tokensPerMinute !== undefined) values.tokens_per_minute = changes.tokensPerMinute;
    if (changes.models !== undefined)
      values.allowed_models = changes.models === null ? null : JSON.stringify(changes.models);
    if (changes.expiresAt !== undefined) values.expires_at_ms = changes.expiresAt;
    return this.#write(keyId, values);
  }

  /** Revokes at once and for good; revoking again keeps the first time. */
  async revoke(keyId: string): Promise<KeyView> {
    const now = this.now();
    await this.record(keyId);
    this.#found.clear();
    await this.db
      .updateTable("api_keys")
      .set({ revoked_at_ms: now, updated_at_ms: now })
      .where("key_id", "=", keyId)
      .where("revoked_at_ms", "is", null)
      .execute();
    this.#found.clear();
    return this.get(keyId);
  }

  async #write(keyId: string, values: Updateable<ApiKeysTable>): Promise<KeyView> {
    if (!isKeyId(keyId)) throw new KeyNotFoundError(undefined);
    this.#found.clear();
    const row = await this.db
      .updateTable("api_keys")
      .set(values)
      .where("key_id", "=", keyId)
      .returningAll()
      .executeTakeFirst();
    this.#found.clear();
    if (!row) throw new KeyNotFoundError(keyId);
    return keyView(keyRecordOf(row), this.now());
  }
}
