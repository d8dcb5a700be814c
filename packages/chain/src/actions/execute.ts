import { type Abi, type Address, BaseError, NonceTooLowError, type TransactionReceipt } from "viem";
import { ContractRevertError, MissingEventError, TransactionFailedError } from "../errors.js";
import { decodeRevert, describeRevert } from "../revert.js";
import type { ChainContext } from "./context.js";
import { withSenderLock } from "./senderLock.js";

export interface Call {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  /**
   * Gas limit; omitted, the node estimates it. Give one for calls whose gas depends on an on-chain random draw
   * (a settlement that may or may not sample attesters): the estimate can come from the cheaper branch.
   */
  gas?: bigint | undefined;
  /**
   * Gas added to the margin over the estimate: what another sender's transaction, landing first in the same block,
   * can add to this call's path (the last attester's opening also compares the openings and may open a dispute,
   * while the estimate saw an opening that was not the last).
   */
  extraGas?: bigint | undefined;
  /**
   * The block to simulate and estimate on. "pending" for calls that are valid only from the block after the
   * latest (a draw seeded with the hash of the block its trigger was in): the transaction lands there at the
   * earliest. @default "latest"
   */
  blockTag?: "latest" | "pending" | undefined;
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
 * Headroom over the node's gas estimate. The estimate runs against the latest block, but the transaction runs
 * in a later one: random draws (serving node, attesters) may take another branch, and concurrent senders may
 * have changed the state (the last attester's commit also opens the reveal), so an exact estimate can run out.
 */
const GAS_MARGIN_PERCENT = 130n;
const GAS_MARGIN_FLAT = 25_000n;

/** Broadcasts of one call tried before a nonce another process keeps taking is reported. */
const NONCE_ATTEMPTS = 4;

/**
 * The node refused the broadcast because another sender of this key holds its nonce: one mined already ("nonce too
 * low"), or one still waiting in the pool with the same fees ("replacement transaction underpriced", which a
 * shared chain under load returns while the other transaction waits for its block).
 */
function tookNonce(error: unknown): boolean {
  return (
    error instanceof BaseError &&
    error.walk(
      (cause) =>
        cause instanceof NonceTooLowError ||
        (cause instanceof BaseError && /replacement transaction underpriced/i.test(cause.details ?? "")),
    ) !== null
  );
}

/**
 * Simulates the call (so a revert is reported with the contract's custom error before anything is sent), sends
 * it from the context's wallet with a gas limit above the estimate, and waits for its receipt. Sends of one key in
 * this process are broadcast one after another (`withSenderLock`), so a node's workers never clash on a nonce; a
 * nonce another process with the key took first is read again and the call sent again.
 */
export async function execute(ctx: ChainContext, call: Call): Promise<TransactionReceipt> {
  const request = {
    address: call.address,
    abi: call.abi,
    functionName: call.functionName,
    args: call.args,
    account: ctx.walletClient.account,
    chain: ctx.walletClient.chain,
  };
  const simulation = call.blockTag === "pending" ? { ...request, blockTag: "pending" as const } : request;
  let hash: `0x${string}`;
  try {
    hash = await withSenderLock(ctx.walletClient.account.address, async () => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await ctx.publicClient.simulateContract(simulation as never);
          const gas =
            call.gas ??
            ((await ctx.publicClient.estimateContractGas(simulation as never)) * GAS_MARGIN_PERCENT) / 100n +
              GAS_MARGIN_FLAT +
              (call.extraGas ?? 0n);
          return await ctx.walletClient.writeContract({ ...request, gas } as never);
        } catch (error) {
          // Another process sending from this key took the nonce between our read and our broadcast: ours was
          // never accepted, so sending again (simulated again on the state that transaction left) acts once.
          if (attempt >= NONCE_ATTEMPTS || !tookNonce(error)) throw error;
        }
      }
    });
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
