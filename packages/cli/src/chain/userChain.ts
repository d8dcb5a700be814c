import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  type AtomaAddresses,
  type AtomaPublicClient,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaWalletClient,
} from "@atoma/chain";
import { AtomaError } from "@atoma/core";
import { loadKeyFile } from "@atoma/node";
import { isAddress, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { CliUsageError } from "../errors.js";

/** Where the network is: what `atoma dev` prints after `ready ` (rpcUrl, chainId, contracts) saved to a file. */
export interface Network {
  rpcUrl: string;
  chainId: number;
  contracts: AtomaAddresses;
  /** The served model's id, when the file names one (`atoma dev` does). */
  model?: string | undefined;
  /** Task ids by name (`chat`, ...), when the file names them (`atoma dev` does). */
  tasks?: Record<string, string> | undefined;
}

/** The file's JSON: the whole file, or the JSON after `ready ` on one of its lines (atoma dev's stdout saved). */
function parseNetworkText(text: string): Partial<Network> {
  const readyLine = text.split("\n").find((line) => line.startsWith("ready "));
  const value: unknown = JSON.parse(readyLine === undefined ? text : readyLine.slice("ready ".length));
  return typeof value === "object" && value !== null ? (value as Partial<Network>) : {};
}

const NEEDED = ["AtomaToken", "NodeRegistry", "TaskRegistry", "AtomaVault", "StackManager"] as const;

/** Reads and checks a network file (`--network`, or the ATOMA_NETWORK variable). */
export function loadNetwork(file: string | undefined): Network {
  const path = file ?? process.env.ATOMA_NETWORK;
  if (!path) throw new CliUsageError("give --network <file> (the JSON atoma dev prints after `ready `)");
  let parsed: Partial<Network>;
  try {
    parsed = parseNetworkText(readFileSync(resolve(path), "utf8"));
  } catch (cause) {
    const reason =
      cause instanceof SyntaxError ? "is neither JSON nor holds a `ready {json}` line" : "cannot be read";
    throw new CliUsageError(`the network file ${path} ${reason}`);
  }
  const contracts = (parsed.contracts ?? {}) as Record<string, unknown>;
  const bad = NEEDED.filter((name) => typeof contracts[name] !== "string" || !isAddress(contracts[name]));
  if (typeof parsed.rpcUrl !== "string" || !/^https?:\/\//.test(parsed.rpcUrl))
    throw new CliUsageError(`the network file ${path} needs rpcUrl, an http(s) URL`);
  if (!Number.isSafeInteger(parsed.chainId) || (parsed.chainId ?? 0) <= 0)
    throw new CliUsageError(`the network file ${path} needs chainId, a positive whole number`);
  if (bad.length > 0)
    throw new CliUsageError(`the network file ${path} needs the contract addresses of ${bad.join(", ")}`);
  const tasks =
    typeof parsed.tasks === "object" && parsed.tasks !== null
      ? Object.fromEntries(Object.entries(parsed.tasks).filter(([, id]) => typeof id === "string"))
      : undefined;
  return {
    rpcUrl: parsed.rpcUrl,
    chainId: parsed.chainId!,
    contracts: contracts as unknown as AtomaAddresses,
    model: typeof parsed.model === "string" ? parsed.model : undefined,
    tasks,
  };
}

/** The buyer's key: `--key-file` (mode 0600), else the ATOMA_PRIVATE_KEY variable. Never echoed. */
export function loadUserAccount(keyFile: string | undefined): LocalAccount {
  if (keyFile !== undefined) {
    try {
      return loadKeyFile(resolve(keyFile));
    } catch (error) {
      if (error instanceof AtomaError && error.code.startsWith("KEY_FILE"))
        throw new CliUsageError(error.shortMessage.replace("(node.keyFile)", "(--key-file)"));
      throw error;
    }
  }
  const key = process.env.ATOMA_PRIVATE_KEY?.trim();
  if (!key) throw new CliUsageError("give --key-file <file> or set ATOMA_PRIVATE_KEY");
  const hex = key.startsWith("0x") ? key : `0x${key}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
    throw new CliUsageError("ATOMA_PRIVATE_KEY is not a 32-byte hex private key");
  return privateKeyToAccount(hex as `0x${string}`);
}

export function readContext(network: Network): {
  publicClient: AtomaPublicClient;
  addresses: AtomaAddresses;
} {
  return { publicClient: createAtomaPublicClient(network), addresses: network.contracts };
}

export function userContext(network: Network, account: LocalAccount): ChainContext {
  return { ...readContext(network), walletClient: createAtomaWalletClient(network, account) };
}
