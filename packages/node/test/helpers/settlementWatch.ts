import { type AttestNetwork, eventually } from "../harness/attestNetwork.js";

/** The user's share of a node slashed for fraud, holding `collateral` (the dev parameters' 30 %). */
export const fraudUserShare = (collateral: bigint) => (collateral * 3_000n) / 10_000n;

/** Reads of an attestation network's settlements and the user's balance, and a wait for a settlement's phase. */
export function settlementWatch(net: () => AttestNetwork) {
  const read = () => net().deployment.contracts;
  const phaseOf = async (stackId: bigint) =>
    (await read().settlementManager.read.getSettlement([stackId])).phase;
  return {
    read,
    phaseOf,
    whenPhase: (stackId: bigint, phase: number) =>
      eventually(async () => ((await phaseOf(stackId)) === phase ? true : undefined), `phase ${phase}`),
    userBalance: () => read().vault.read.balanceOf([net().user.account.address]),
  };
}
