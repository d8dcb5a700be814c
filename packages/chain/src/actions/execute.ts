import { type Abi, type Address, BaseError, type TransactionReceipt } from "viem";
import { ContractRevertError, MissingEventError, TransactionFailedError } from "../errors.js";
import { decodeRevert, describeRevert } from "../revert.js";
import type { ChainContext } from "./context.js";

export interface Call {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

/** Turns a failed call into a ContractRevertError naming the contract's custom error when there is one. */
export function toCallError(functionName: string, error: unknown): Error {
  const decoded = decodeRevert(error);
  if (decoded) {
    return new ContractRevertError(functionName, decoded.errorName, decoded.args, {
      cause: error,
      details: describeRevert(error),
    });
  }
  return new TransactionFailedError(`${functionName} failed`, {
    cause: error,
    details: error instanceof BaseError ? error.shortMessage : undefined,
  });
}

/**
 * Simulates the call (so a revert is reported with the contract's custom error before anything is sent), sends
 * it from the context's wallet, and waits for its receipt.
 */
export async function execute(ctx: ChainContext, call: Call): Promise<TransactionReceipt> {
  const request = {
    address: call.address,
    abi: call.abi,
    functionName: call.functionName,
    args: call.args,
    account: ctx.walletClient.account,
    chain: ctx.walletClient.chain,
  } as never;
  let hash: `0x${string}`;
  try {
    await ctx.publicClient.simulateContract(request);
    hash = await ctx.walletClient.writeContract(request);
  } catch (error) {
    throw toCallError(call.functionName, error);
  }
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") {
    throw new TransactionFailedError(`${call.functionName} was mined but reverted`, { details: hash });
  }
  return receipt;
}

/** The first of `logs`, or a MissingEventError naming the event. */
export function single<T>(logs: readonly T[], eventName: string): T {
  const first = logs[0];
  if (first === undefined) throw new MissingEventError(eventName);
  return first;
}
