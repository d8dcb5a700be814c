import { join } from "node:path";
import { type Logger, privateKeyAccount } from "@atoma/core";
import { parseProxyConfig, startGateway } from "@atoma/proxy";
import type { Network } from "@atoma/sdk";
import { type Hex, parseEther } from "viem";
import type { ServiceStack } from "../lifecycle.js";

/**
 * The wallet of `atoma dev`'s gateway: anvil's fourth well-known dev account (a public key, no secret). The
 * second is the demo user's and the third is left to a gateway the user starts with `atoma proxy start`, so no
 * two processes share a wallet's nonces.
 */
export const DEV_GATEWAY_PRIVATE_KEY: Hex =
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

export interface DevGatewayOptions {
  network: Network;
  /** The served model: listed by the gateway even before a node answers its `/v1/models`. */
  model: string;
  /** The embedded database lives under `{dataDir}/db`. */
  dataDir: string;
  /** Funds the gateway's wallet when the chain has not yet (a fresh chain gives dev accounts TOMA already). */
  fund: (address: Hex, toma: bigint, eth: bigint) => Promise<void>;
  balanceOf: (address: Hex) => Promise<bigint>;
}

export interface DevGateway {
  url: string;
  /** A key with no limits, made at this start (keys are stored hashed: an earlier run's cannot be shown). */
  apiKey: string;
  /** The gateway's wallet: the owner of every stack its answers come from (also at `GET /v1/gateway`). */
  address: Hex;
}

/** Starts the OpenAI-compatible gateway in front of the dev nodes, with a demo API key. */
export async function startDevGateway(
  options: DevGatewayOptions,
  services: ServiceStack,
  logger: Logger,
): Promise<DevGateway> {
  const account = privateKeyAccount(DEV_GATEWAY_PRIVATE_KEY);
  if ((await options.balanceOf(account.address)) === 0n)
    await options.fund(account.address, parseEther("1000000"), parseEther("1000"));
  const config = parseProxyConfig(
    {
      server: { port: 0 },
      database: { dataDir: options.dataDir },
      // Small stacks, so the demo's wallet spreads over the nodes instead of locking TOMA in one.
      stacks: { units: "200000", maxPerModel: 4 },
      // The dev nodes listen on this host.
      catalog: { models: [options.model], allowPrivateNodeUrls: true },
    },
    options.network,
  );
  const gateway = await startGateway(config, { account, logger: logger.child({ part: "proxy" }) });
  services.add({ name: "gateway", stop: () => gateway.stop() });
  const created = await gateway.keys.create({ name: "atoma dev demo" });
  return { url: gateway.url, apiKey: created.key, address: account.address };
}

/** Where the dev gateway keeps its database: in the state directory when there is one. */
export const devGatewayDir = (baseDir: string) => join(baseDir, "proxy");
