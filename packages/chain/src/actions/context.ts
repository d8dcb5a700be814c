import type { Address, Hash, TransactionReceipt } from "viem";
import type { AtomaPublicClient, AtomaWalletClient } from "../clients.js";
import type { AtomaAddresses } from "../deploy.js";

/** What every action needs: a client to read and wait, a wallet to send from, and the deployment. */
export interface ChainContext {
  publicClient: AtomaPublicClient;
  walletClient: AtomaWalletClient;
  addresses: AtomaAddresses;
}

/** Fields every action result carries about its transaction. */
export interface TxInfo {
  hash: Hash;
  blockNumber: bigint;
  gasUsed: bigint;
}

export function txInfo(receipt: TransactionReceipt): TxInfo {
  return { hash: receipt.transactionHash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
}

export function sender(ctx: ChainContext): Address {
  return ctx.walletClient.account.address;
}
