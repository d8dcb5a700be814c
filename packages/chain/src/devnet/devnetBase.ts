import type { Address } from "viem";
import type { ChainContext } from "../actions/context.js";
import type { Anvil } from "../anvil/startAnvil.js";
import type { AtomaPublicClient, ChainClientOptions, createAtomaTestClient } from "../clients.js";
import type { Deployment } from "../deploy.js";

export type AtomaTestClient = ReturnType<typeof createAtomaTestClient>;

/** What the dev network's helpers stand on: anvil, its clients, and the deployment. */
export interface DevnetBase {
  anvil: Anvil;
  /** How to reach the chain, with the polling interval the network's clients use. */
  rpc: ChainClientOptions;
  publicClient: AtomaPublicClient;
  /** anvil's test methods: balances, mining, time. */
  testClient: AtomaTestClient;
  /** anvil's dev accounts; the first deployed the contracts and received the genesis supply. */
  devAccounts: readonly Address[];
  /** The deployer, admin and governor of every contract, as an action context. */
  admin: ChainContext;
  deployment: Pick<Deployment, "addresses" | "contracts">;
  /** The deployment was kept in anvil's state from an earlier run rather than deployed now. */
  reused: boolean;
  /**
   * The first block the deployment may have logged in (the head before it, plus one): logs are read from it. Undefined
   * for a deployment kept from an earlier run (its caller saved it then).
   */
  deploymentBlock?: bigint | undefined;
}
