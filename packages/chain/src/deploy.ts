import { atomaTokenAbi, atomaTokenBytecode } from "@atoma/contracts";
import { type Logger, silentLogger } from "@atoma/core";
import { type Abi, type Address, getContract, type Hex } from "viem";
import type { AtomaPublicClient, AtomaWalletClient } from "./clients.js";
import { DeploymentError } from "./errors.js";

export interface DeployOptions {
  /** Receives every admin role; defaults to the deploying account. */
  admin?: Address | undefined;
  logger?: Logger | undefined;
}

export interface AtomaAddresses {
  AtomaToken: Address;
}

async function deployOne(
  publicClient: AtomaPublicClient,
  walletClient: AtomaWalletClient,
  name: string,
  abi: Abi,
  bytecode: Hex,
  args: readonly unknown[],
): Promise<Address> {
  try {
    const hash = await walletClient.deployContract({ abi, bytecode, args });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success" || !receipt.contractAddress)
      throw new Error(`receipt status ${receipt.status}`);
    return receipt.contractAddress;
  } catch (cause) {
    throw new DeploymentError(`deploying ${name} failed`, { cause });
  }
}

/** Deploys every Atoma contract in dependency order and wires their roles. */
export async function deployContracts(
  publicClient: AtomaPublicClient,
  walletClient: AtomaWalletClient,
  options: DeployOptions = {},
) {
  const logger = (options.logger ?? silentLogger).child({ module: "deploy" });
  const admin = options.admin ?? walletClient.account.address;
  const addresses: AtomaAddresses = {
    AtomaToken: await deployOne(publicClient, walletClient, "AtomaToken", atomaTokenAbi, atomaTokenBytecode, [
      admin,
    ]),
  };
  logger.info({ addresses }, "contracts deployed");
  return { addresses, contracts: atomaContracts(addresses, publicClient, walletClient) };
}

/** Typed contract instances over already-deployed addresses. */
export function atomaContracts(
  addresses: AtomaAddresses,
  publicClient: AtomaPublicClient,
  walletClient: AtomaWalletClient,
) {
  const client = { public: publicClient, wallet: walletClient };
  return {
    token: getContract({ address: addresses.AtomaToken, abi: atomaTokenAbi, client }),
  };
}

export type AtomaContracts = ReturnType<typeof atomaContracts>;
