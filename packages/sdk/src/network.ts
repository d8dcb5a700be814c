import {
  type AtomaAddresses,
  type AtomaPublicClient,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaWalletClient,
} from "@atoma/chain/portable";
import { AtomaError } from "@atoma/core";
import { isAddress, type LocalAccount } from "viem";
import type { SdkErrorCode } from "./errorCodes.js";

/** Where a network is: what `atoma dev` prints after `ready ` (rpcUrl, chainId, contracts). */
export interface Network {
  rpcUrl: string;
  chainId: number;
  contracts: AtomaAddresses;
  /** The served model's id, when the description names one (`atoma dev`'s does). */
  model?: string | undefined;
  /** Task ids by name (`chat`, ...), when the description names them (`atoma dev`'s does). */
  tasks?: Record<string, string> | undefined;
  /**
   * The PEM root certificate of the network's development attestation authority (`atoma dev`'s ready line:
   * `attestation.rootCertificatePem`): a confidential client accepts the insecure dev kind under it.
   */
  devAttestationRoot?: string | undefined;
  /**
   * The network's idle bound (seconds): a node may settle a stack its owner has not used for this long (a node's
   * `settlement.idleSeconds` at or above it). A client does not hold such a settlement against the node.
   * @default 1800 (`DEFAULT_IDLE_SECONDS`, the node's default)
   */
  idleSeconds?: number | undefined;
  /**
   * The block the contracts were deployed at: task logs are read from it, not from block 0.
   * @default 0
   */
  deploymentBlock?: number | undefined;
}

/** The idle bound of a network description that names none: the node's default `settlement.idleSeconds`. */
export const DEFAULT_IDLE_SECONDS = 1_800;

/** A network description that is not JSON, or lacks what a client needs. */
export class NetworkDescriptionError extends AtomaError<SdkErrorCode> {
  override name = "NetworkDescriptionError";
  constructor(message: string) {
    super("network_description_invalid", message);
  }
}

const NEEDED = ["AtomaToken", "NodeRegistry", "TaskRegistry", "AtomaVault", "StackManager"] as const;

/** The JSON: the whole text, or the JSON after `ready ` on one of its lines (atoma dev's stdout saved). */
function parseNetworkText(text: string, source: string): Partial<Network> {
  const readyLine = text.split("\n").find((line) => line.startsWith("ready "));
  let value: unknown;
  try {
    value = JSON.parse(readyLine === undefined ? text : readyLine.slice("ready ".length));
  } catch {
    throw new NetworkDescriptionError(`${source} is neither JSON nor holds a \`ready {json}\` line`);
  }
  return typeof value === "object" && value !== null ? (value as Partial<Network>) : {};
}

/**
 * Reads and checks a network description (what `atoma dev` prints, or a file holding it). `source` names it in
 * errors ("the network file /tmp/x.json").
 */
export function parseNetwork(text: string, source = "the network description"): Network {
  const parsed = parseNetworkText(text, source);
  const contracts = (parsed.contracts ?? {}) as Record<string, unknown>;
  const bad = NEEDED.filter((name) => typeof contracts[name] !== "string" || !isAddress(contracts[name]));
  if (typeof parsed.rpcUrl !== "string" || !/^https?:\/\//.test(parsed.rpcUrl))
    throw new NetworkDescriptionError(`${source} needs rpcUrl, an http(s) URL`);
  if (!Number.isSafeInteger(parsed.chainId) || (parsed.chainId ?? 0) <= 0)
    throw new NetworkDescriptionError(`${source} needs chainId, a positive whole number`);
  if (bad.length > 0)
    throw new NetworkDescriptionError(`${source} needs the contract addresses of ${bad.join(", ")}`);
  if (
    parsed.idleSeconds !== undefined &&
    !(Number.isSafeInteger(parsed.idleSeconds) && parsed.idleSeconds > 0)
  )
    throw new NetworkDescriptionError(`${source}: idleSeconds must be a positive whole number`);
  if (
    parsed.deploymentBlock !== undefined &&
    !(Number.isSafeInteger(parsed.deploymentBlock) && parsed.deploymentBlock >= 0)
  )
    throw new NetworkDescriptionError(`${source}: deploymentBlock must be a whole number, 0 or more`);
  const tasks =
    typeof parsed.tasks === "object" && parsed.tasks !== null
      ? Object.fromEntries(Object.entries(parsed.tasks).filter(([, id]) => typeof id === "string"))
      : undefined;
  const attestation = (parsed as { attestation?: { kind?: unknown; rootCertificatePem?: unknown } })
    .attestation;
  // A Network's own field (one given as an object is read back through here), or the ready line's.
  const devRoot =
    typeof parsed.devAttestationRoot === "string"
      ? parsed.devAttestationRoot
      : attestation?.kind === "dev" && typeof attestation.rootCertificatePem === "string"
        ? attestation.rootCertificatePem
        : undefined;
  return {
    rpcUrl: parsed.rpcUrl,
    chainId: parsed.chainId!,
    contracts: contracts as unknown as AtomaAddresses,
    model: typeof parsed.model === "string" ? parsed.model : undefined,
    tasks,
    ...(devRoot !== undefined && { devAttestationRoot: devRoot }),
    ...(parsed.idleSeconds === undefined ? {} : { idleSeconds: parsed.idleSeconds }),
    ...(parsed.deploymentBlock === undefined ? {} : { deploymentBlock: parsed.deploymentBlock }),
  };
}

/** Reads the network's contracts. */
export function readContext(network: Network): {
  publicClient: AtomaPublicClient;
  addresses: AtomaAddresses;
} {
  return { publicClient: createAtomaPublicClient(network), addresses: network.contracts };
}

/** Reads and writes as `account` (a stack's owner). */
export function userContext(network: Network, account: LocalAccount): ChainContext {
  return { ...readContext(network), walletClient: createAtomaWalletClient(network, account) };
}
