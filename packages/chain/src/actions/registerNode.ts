import { nodeRegistryAbi } from "@atoma/contracts";
import { signerBindingHash } from "@atoma/core";
import { type Address, type Hex, isAddressEqual, type LocalAccount, parseEventLogs } from "viem";
import { SignerProofMissingError } from "../errors.js";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, sender, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface RegisterNodeParams {
  /**
   * The key the node signs responses with (and may send protocol transactions from). Its proof that it lets this
   * operator register it is signed here when it is a local account, or when it is the sending account itself;
   * otherwise pass `signerProof` (`signSignerBinding` in @atoma/core, made where the key is).
   */
  signer: Address | LocalAccount;
  signerProof?: Hex | undefined;
  /** Public URL of the node's API. */
  url: string;
  /** Hardware class, one governance approved: attesters and committees come from the same echelon. */
  echelon: number;
  /** TOMA (wei) staked; at least the registry's minimum. Approved for the registry when needed. */
  collateral: bigint;
}

export interface RegisterNodeResult extends TxInfo {
  nodeId: bigint;
  eligibleFromEpoch: bigint;
}

/** The signer's proof that it lets the context's account register it in this deployment's registry. */
export async function signerProofFor(ctx: ChainContext, signer: Address | LocalAccount): Promise<Hex> {
  const raw = signerBindingHash({
    chainId: await ctx.publicClient.getChainId(),
    registry: ctx.addresses.NodeRegistry,
    operator: sender(ctx),
  });
  if (typeof signer !== "string") return signer.signMessage({ message: { raw } });
  if (isAddressEqual(signer, sender(ctx))) return ctx.walletClient.signMessage({ message: { raw } });
  throw new SignerProofMissingError(signer);
}

/** Stakes collateral and registers the context's account as the operator of a node signing with `signer`. */
export async function registerNode(
  ctx: ChainContext,
  params: RegisterNodeParams,
): Promise<RegisterNodeResult> {
  const signer = typeof params.signer === "string" ? params.signer : params.signer.address;
  const proof = params.signerProof ?? (await signerProofFor(ctx, params.signer));
  await ensureAllowance(ctx, ctx.addresses.NodeRegistry, params.collateral);
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "register",
    args: [signer, params.url, params.echelon, params.collateral, proof],
  });
  const event = single(
    parseEventLogs({ abi: nodeRegistryAbi, logs: receipt.logs, eventName: "NodeRegistered" }),
    "NodeRegistered",
  );
  return { ...txInfo(receipt), nodeId: event.args.nodeId, eligibleFromEpoch: event.args.eligibleFromEpoch };
}
