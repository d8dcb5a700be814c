import type { Chain } from "viem";

/** The most the node pays per gas (`settlement.maxFeePerGas`, `settlement.maxPriorityFeePerGas`); unset: no cap. */
export interface FeeCaps {
  maxFeePerGas?: bigint | undefined;
  maxPriorityFeePerGas?: bigint | undefined;
}

interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

const min = (a: bigint, b: bigint | undefined) => (b !== undefined && b < a ? b : a);

/** The estimate lowered to the caps; the tip never exceeds the fee cap. */
export function cappedFees(estimate: Fees, caps: FeeCaps): Fees {
  const maxFeePerGas = min(estimate.maxFeePerGas, caps.maxFeePerGas);
  return {
    maxFeePerGas,
    maxPriorityFeePerGas: min(min(estimate.maxPriorityFeePerGas, caps.maxPriorityFeePerGas), maxFeePerGas),
  };
}

/**
 * `chain` with the caps applied to every transaction once viem has filled it (its own estimate, or the node's
 * `eth_fillTransaction`, which viem prefers over the chain's fee hooks). Without caps, `chain` unchanged.
 */
export function chainWithFeeCaps(chain: Chain, caps: FeeCaps): Chain {
  if (caps.maxFeePerGas === undefined && caps.maxPriorityFeePerGas === undefined) return chain;
  const capRequest = async <T extends object>(request: T): Promise<T> => {
    const { maxFeePerGas, maxPriorityFeePerGas } = request as Partial<Fees>;
    if (typeof maxFeePerGas !== "bigint" || typeof maxPriorityFeePerGas !== "bigint") return request;
    return { ...request, ...cappedFees({ maxFeePerGas, maxPriorityFeePerGas }, caps) };
  };
  return { ...chain, prepareTransactionRequest: [capRequest, { runAt: ["afterFillParameters"] }] };
}
