import { type Address, getAddress, isAddress, type LocalAccount } from "viem";
import { ClientArgumentError } from "../errors.js";

const UINT256_LIMIT = 2n ** 256n;

/** How a value reads in an error: its type, and its text when short (never a key: accounts are not printed). */
function shown(value: unknown): string {
  if (typeof value === "string") return value.length <= 80 ? JSON.stringify(value) : "a long string";
  if (typeof value === "number") return `the number ${value}`;
  if (value === null) return "null";
  return typeof value;
}

/** A stack id: a positive bigint below 2^256. Numbers and strings are refused (a number loses digits past 2^53). */
export function checkStackId(value: unknown, name = "stackId"): bigint {
  if (typeof value !== "bigint" || value <= 0n || value >= UINT256_LIMIT)
    throw new ClientArgumentError(
      `${name} must be a positive bigint (write 1n, or BigInt("1")), not ${shown(value)}; stack ids come from boughtStack, reusableStack or givenStack`,
    );
  return value;
}

/** An optional node id (or any other bigint that may be 0, a price): a bigint below 2^256. */
export function checkNodeId(value: unknown, name = "nodeId"): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "bigint" || value < 0n || value >= UINT256_LIMIT)
    throw new ClientArgumentError(`${name} must be a bigint, not ${shown(value)}`);
  return value;
}

/** Units, a price or a duration: a positive bigint. */
export function checkPositive(value: unknown, name: string): bigint {
  if (typeof value !== "bigint" || value <= 0n || value >= UINT256_LIMIT)
    throw new ClientArgumentError(`${name} must be a positive bigint, not ${shown(value)}`);
  return value;
}

export function checkAddress(value: unknown, name: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false }))
    throw new ClientArgumentError(
      `${name} must be a 20-byte hex address (0x and 40 hex digits), not ${shown(value)}`,
    );
  return getAddress(value);
}

export function checkHttpUrl(value: unknown, name: string): string {
  if (typeof value === "string" && /^https?:\/\/[^\s]+$/.test(value)) {
    try {
      return new URL(value).toString();
    } catch {
      // falls through to the error
    }
  }
  throw new ClientArgumentError(`${name} must be an http(s) URL, not ${shown(value)}`);
}

export function checkChainId(value: unknown, name = "chainId"): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
    throw new ClientArgumentError(`${name} must be a positive whole number, not ${shown(value)}`);
  return value;
}

/** A viem local account: one that signs typed data itself (a private key account, a mnemonic account). */
export function checkAccount(value: unknown, name = "account"): LocalAccount {
  const account = value as Partial<LocalAccount> | undefined;
  if (
    typeof account !== "object" ||
    account === null ||
    typeof account.signTypedData !== "function" ||
    typeof account.address !== "string" ||
    !isAddress(account.address)
  )
    throw new ClientArgumentError(
      `${name} must be a viem LocalAccount (privateKeyToAccount(key), mnemonicToAccount(words)), not ${shown(value)}`,
    );
  return account as LocalAccount;
}

export function checkPositiveInteger(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
    throw new ClientArgumentError(`${name} must be a positive whole number, not ${shown(value)}`);
  return value;
}

/** The OpenAI endpoints a client calls, and the field each body must carry besides `model`. */
export type Endpoint = "chat" | "completions" | "embeddings";

const NEEDED: Record<Endpoint, { path: string; field: string; valid: (value: unknown) => boolean }> = {
  chat: { path: "/v1/chat/completions", field: "messages", valid: (v) => Array.isArray(v) && v.length > 0 },
  completions: {
    path: "/v1/completions",
    field: "prompt",
    valid: (v) => typeof v === "string" || Array.isArray(v),
  },
  embeddings: {
    path: "/v1/embeddings",
    field: "input",
    valid: (v) => typeof v === "string" || Array.isArray(v),
  },
};

export const endpointPath = (endpoint: Endpoint): string => NEEDED[endpoint].path;

/** An OpenAI request body for `endpoint`: an object with a model name and its messages, prompt or input. */
export function checkBody(endpoint: Endpoint, body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ClientArgumentError(`the ${endpoint} request must be a JSON object, not ${shown(body)}`);
  const record = body as Record<string, unknown>;
  if (typeof record.model !== "string" || record.model.length === 0 || record.model.length > 256)
    throw new ClientArgumentError(`the ${endpoint} request needs model, the model's name`);
  const needed = NEEDED[endpoint];
  if (!needed.valid(record[needed.field]))
    throw new ClientArgumentError(
      `the ${endpoint} request needs ${needed.field}${needed.field === "messages" ? ", a non-empty array" : ""}`,
    );
  return record;
}

/** Stream limits: each, when given, a positive whole number (0 or a string would stop or turn off the limit). */
export function checkStreamLimits(limits: unknown, name = "streamLimits"): void {
  if (limits === undefined) return;
  if (typeof limits !== "object" || limits === null || Array.isArray(limits))
    throw new ClientArgumentError(`${name} must be { maxEventBytes?, maxTotalBytes? }`);
  for (const key of ["maxEventBytes", "maxTotalBytes"] as const) {
    const value = (limits as Record<string, unknown>)[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0))
      throw new ClientArgumentError(`${name}.${key} must be a positive whole number of bytes`);
  }
}
