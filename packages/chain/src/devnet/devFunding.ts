import { privateKeyAccount } from "@atoma/core";
import { type Account, type Address, type Hex, type LocalAccount, parseEther } from "viem";
import { generatePrivateKey } from "viem/accounts";
import type { ChainContext } from "../actions/context.js";
import { createAtomaWalletClient } from "../clients.js";
import type { DevnetBase } from "./devnetBase.js";

/** TOMA a fresh dev account holds unless told otherwise. */
export const DEV_ACCOUNT_TOMA = parseEther("100000");
/** Ether a funded dev account holds for gas unless told otherwise. */
export const DEV_ACCOUNT_ETH = parseEther("100");

/** A funded account of the dev network: its key, and its action context. */
export interface DevAccount {
  account: LocalAccount;
  privateKey: Hex;
  ctx: ChainContext;
}

export interface DevFunding {
  /** Sends `address` `toma` TOMA from the genesis holder, and sets its ether to `eth` when given (anvil's test method). */
  fund(address: Address, toma: bigint, eth?: bigint): Promise<void>;
  /** A funded account: a fresh key unless `privateKey` is given. @default 100,000 TOMA and 100 ether */
  account(
    toma?: bigint,
    options?: { privateKey?: Hex | undefined; eth?: bigint | undefined },
  ): Promise<DevAccount>;
  /** The action context of `account` on this network. */
  contextOf(account: Account): ChainContext;
}

export function devFunding(base: DevnetBase): DevFunding {
  const { admin, publicClient, testClient, rpc, deployment } = base;
  const fund = async (address: Address, toma: bigint, eth?: bigint) => {
    if (eth !== undefined) await testClient.setBalance({ address, value: eth });
    if (toma === 0n) return;
    // Nobody can mint outside the emission schedule: the deployer received the genesis supply and pays it out.
    await publicClient.waitForTransactionReceipt({
      hash: await deployment.contracts.token.write.transfer([address, toma]),
    });
  };
  const contextOf = (account: Account): ChainContext => ({
    publicClient,
    walletClient: createAtomaWalletClient(rpc, account),
    addresses: admin.addresses,
  });
  return {
    fund,
    contextOf,
    async account(toma = DEV_ACCOUNT_TOMA, options = {}) {
      const privateKey = options.privateKey ?? generatePrivateKey();
      const account = privateKeyAccount(privateKey);
      await fund(account.address, toma, options.eth ?? DEV_ACCOUNT_ETH);
      return { account, privateKey, ctx: contextOf(account) };
    },
  };
}
