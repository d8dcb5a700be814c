import { AtomaError } from "@atoma/core";
import type { KeyView } from "../keys/keyRecord.js";
import type { CreatedKey, KeyAdmin } from "../keys/keyStore.js";
import type { KeyChangesInput, NewKeyInput } from "../keys/keyTerms.js";
import type { UsageQuery, UsageRow } from "../usage/usageBook.js";

/** An error the admin API answered, with its code as sent. */
export class AdminRequestError extends AtomaError {
  override name = "AdminRequestError";
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** `KeyAdmin` over a running gateway's admin API (`atoma proxy keys --admin-url`). */
export class AdminClient implements KeyAdmin {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async create(input: NewKeyInput): Promise<CreatedKey> {
    const { key, ...view } = await this.#call<KeyView & { key: string }>("POST", "/admin/v1/keys", input);
    return { key, view };
  }

  async list(): Promise<KeyView[]> {
    return (await this.#call<{ data: KeyView[] }>("GET", "/admin/v1/keys")).data;
  }

  get(keyId: string): Promise<KeyView> {
    return this.#call("GET", `/admin/v1/keys/${encodeURIComponent(keyId)}`);
  }

  update(keyId: string, changes: KeyChangesInput): Promise<KeyView> {
    return this.#call("PATCH", `/admin/v1/keys/${encodeURIComponent(keyId)}`, changes);
  }

  revoke(keyId: string): Promise<KeyView> {
    return this.#call("POST", `/admin/v1/keys/${encodeURIComponent(keyId)}/revoke`);
  }

  /** Every key's usage, or one key's, per model and UTC day. */
  async usage(query: UsageQuery = {}): Promise<UsageRow[]> {
    const params = new URLSearchParams({ days: String(query.days ?? 30) });
    if (query.keyId !== undefined) params.set("key_id", query.keyId);
    return (await this.#call<{ data: UsageRow[] }>("GET", `/admin/v1/usage?${params}`)).data;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.fetchImpl(new URL(path, this.baseUrl), {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const parsed = (await answer.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    if (!answer.ok)
      throw new AdminRequestError(
        answer.status,
        parsed.error?.code ?? `http_${answer.status}`,
        `the gateway answered ${answer.status}: ${parsed.error?.message ?? answer.statusText}`,
      );
    return parsed as T;
  }
}
