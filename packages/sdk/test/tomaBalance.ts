import { createPublicClient, erc20Abi, type Hex, http } from "viem";
import type { DevNetwork } from "./devNetwork.js";

/** The TOMA `address` holds on the dev network, read from the chain now. */
export const tomaBalance = (dev: DevNetwork, address: Hex) =>
  createPublicClient({ transport: http(dev.ready.rpcUrl) }).readContract({
    address: dev.ready.contracts.AtomaToken as Hex,
    abi: erc20Abi,
    functionName: "balanceOf",
    args: [address],
  });
