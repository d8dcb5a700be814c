import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";

export interface ChainClientOptions {
  rpcUrl: string;
  chainId: number;
  /** Milliseconds between polls for blocks, logs and receipts. @default 50 */
  pollingInterval?: number | undefined;
}

export type AtomaPublicClient = PublicClient<Transport, Chain>;
export type AtomaWalletClient = WalletClient<Transport, Chain, Account>;

/** A viem chain description for any EVM chain reached over JSON-RPC. */
export function chainFor(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? "Anvil" : `Chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Short polling and no response cache: local chains mine instantly and watchers must not lag (FACTS.md). */
export function createAtomaPublicClient(options: ChainClientOptions): AtomaPublicClient {
  return createPublicClient({
    chain: chainFor(options.chainId, options.rpcUrl),
    transport: http(options.rpcUrl),
    pollingInterval: options.pollingInterval ?? 50,
    cacheTime: 0,
  });
}

export function createAtomaWalletClient(options: ChainClientOptions, account: Account): AtomaWalletClient {
  return createWalletClient({
    account,
    chain: chainFor(options.chainId, options.rpcUrl),
    transport: http(options.rpcUrl),
    pollingInterval: options.pollingInterval ?? 50,
    cacheTime: 0,
  });
}

/** The dev accounts a local node (anvil) holds the keys of and signs for. */
export function devAccounts(options: ChainClientOptions): Promise<Address[]> {
  return createWalletClient({
    chain: chainFor(options.chainId, options.rpcUrl),
    transport: http(options.rpcUrl),
  }).getAddresses();
}

/** anvil's test methods (set balances, mine, move time), for dev funding and tests. */
export function createAtomaTestClient(options: ChainClientOptions) {
  return createTestClient({
    mode: "anvil",
    chain: chainFor(options.chainId, options.rpcUrl),
    transport: http(options.rpcUrl),
    pollingInterval: options.pollingInterval ?? 50,
    cacheTime: 0,
  });
}
