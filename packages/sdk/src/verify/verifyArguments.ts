import type { AtomaAddresses, AtomaPublicClient } from "@atoma/chain/portable";
import { type Address, getAddress, isAddress } from "viem";
import { VerifyArgumentError } from "../errors.js";
import type { TaskLogStore } from "./taskLogCache.js";

/** What `verifyResponse` reads the chain through: a client and the three contracts it asks. */
export interface VerifyChain {
  publicClient: AtomaPublicClient;
  addresses: Pick<AtomaAddresses, "StackManager" | "NodeRegistry" | "SettlementManager">;
  /** The block the contracts were deployed at: the task logs are read from it. @default 0n */
  fromBlock?: bigint | undefined;
  /** Where the task logs read are kept, so that later lookups read only the blocks since (`servedTasks`). */
  taskLogs?: TaskLogStore | undefined;
}

export interface VerifyOptions {
  chain: VerifyChain;
  /** The request body as sent: without it the request hash is not checked. */
  request?: unknown;
  /** The stack the answer must be for (a bigint, or a decimal string of one). */
  stackId?: bigint | string | undefined;
  /** The stack's owner the answer must be for (through a gateway: the gateway's wallet). */
  owner?: string | undefined;
  /** The lowest security level the stack may have been bought at (0 none, 1 cross-validation, 2 consensus). */
  securityLevel?: number | undefined;
  /** Fetches the node's leaf proof. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** How long the node has to serve the proof, in milliseconds. @default 10000 */
  proofTimeoutMs?: number | undefined;
}

/** `VerifyOptions` checked and normalised. */
export interface VerifyArguments {
  response: Record<string, unknown>;
  chain: VerifyChain;
  request: { given: boolean; body: unknown };
  stackId: bigint | undefined;
  owner: Address | undefined;
  securityLevel: number | undefined;
  fetch: typeof fetch;
  proofTimeoutMs: number;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function stackIdOf(value: unknown): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "bigint" && value > 0n && value < 2n ** 256n) return value;
  if (typeof value === "string" && /^[1-9]\d{0,77}$/.test(value) && BigInt(value) < 2n ** 256n)
    return BigInt(value);
  throw new VerifyArgumentError(
    `stackId must be a positive bigint or a decimal string of one, not ${typeof value === "string" ? JSON.stringify(value) : typeof value}`,
  );
}

/** Why `chain` (named `name` in the text) is not a usable `VerifyChain`; undefined when it is. */
export function verifyChainProblem(chain: unknown, name: string): string | undefined {
  if (!isRecord(chain) || !isRecord(chain.publicClient) || !isRecord(chain.addresses))
    return `${name} must hold publicClient and addresses`;
  const chainId = (chain.publicClient as { chain?: { id?: unknown } }).chain?.id;
  if (!Number.isSafeInteger(chainId))
    return `${name}.publicClient must be made for a chain (its chain.id signs receipts)`;
  for (const contract of ["StackManager", "NodeRegistry", "SettlementManager"] as const) {
    const address = chain.addresses[contract];
    if (typeof address !== "string" || !isAddress(address))
      return `${name}.addresses.${contract} must be an address`;
  }
  return undefined;
}

/** Checks every argument before anything is read or fetched; throws `VerifyArgumentError` naming the bad one. */
export function verifyArguments(response: unknown, options: VerifyOptions): VerifyArguments {
  if (!isRecord(response))
    throw new VerifyArgumentError("response must be the JSON object an OpenAI client received");
  if (!isRecord(options)) throw new VerifyArgumentError("options must be an object with chain");
  const { chain } = options;
  const problem = verifyChainProblem(chain, "options.chain");
  if (problem !== undefined) throw new VerifyArgumentError(problem);
  if (options.owner !== undefined && (typeof options.owner !== "string" || !isAddress(options.owner)))
    throw new VerifyArgumentError("options.owner must be an address");
  const level = options.securityLevel;
  if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 3))
    throw new VerifyArgumentError("options.securityLevel must be 0, 1, 2 or 3");
  const timeout = options.proofTimeoutMs ?? 10_000;
  if (!Number.isSafeInteger(timeout) || timeout <= 0)
    throw new VerifyArgumentError("options.proofTimeoutMs must be a positive whole number of milliseconds");
  const fetcher = options.fetch ?? globalThis.fetch;
  if (typeof fetcher !== "function") throw new VerifyArgumentError("options.fetch must be a function");
  return {
    response,
    chain,
    request: { given: "request" in options && options.request !== undefined, body: options.request },
    stackId: stackIdOf(options.stackId),
    owner: options.owner === undefined ? undefined : getAddress(options.owner),
    securityLevel: level,
    fetch: fetcher,
    proofTimeoutMs: timeout,
  };
}
