import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/**
 * The demo user of `atoma dev`: anvil's second well-known dev account (from its public test mnemonic, so the
 * key is no secret), funded with ether and TOMA so a user can buy a stack at once.
 */
export const DEMO_USER_PRIVATE_KEY: Hex =
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

export const demoUser = () => {
  const account = privateKeyToAccount(DEMO_USER_PRIVATE_KEY);
  return { address: account.address, privateKey: DEMO_USER_PRIVATE_KEY, account };
};
