import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { parseNodeConfig } from "../config/loadConfig.js";
import { createNodeChainClient } from "./chainClient.js";
import { openNodeSeat } from "./nodeSeat.js";

const configWith = (settlement: Record<string, string>) =>
  parseNodeConfig(
    {
      chain: { rpcUrl: "http://127.0.0.1:1", chainId: 31337, contracts: {} },
      node: { keyFile: "/nonexistent/node.key", port: 0, dataDir: "/tmp" },
      model: { path: "/nonexistent/model.gguf", id: "m" },
      settlement,
    },
    "/tmp",
  );

describe("the node's seat", () => {
  it("keeps the fee caps to the settlement worker's sender: transactions with a slashing deadline are never capped", async () => {
    const config = configWith({ maxFeePerGas: "7", maxPriorityFeePerGas: "1" });
    const client = createNodeChainClient({
      rpcUrl: config.chain.rpcUrl,
      chainId: 31337,
      pollingIntervalMs: 100,
    });
    const seat = await openNodeSeat(config, privateKeyToAccount(generatePrivateKey()), client);
    expect(seat.walletClient.chain?.prepareTransactionRequest).toBeUndefined();
    expect(seat.feeCapped.walletClient.chain?.prepareTransactionRequest).toBeDefined();
    expect(seat.feeCapped.feeCapped).toBe(seat.feeCapped);
    expect(seat.feeCapped.addresses).toBe(seat.addresses);
  });

  it("is its own capped seat when no cap is set", async () => {
    const config = configWith({});
    const client = createNodeChainClient({
      rpcUrl: config.chain.rpcUrl,
      chainId: 31337,
      pollingIntervalMs: 100,
    });
    const seat = await openNodeSeat(config, privateKeyToAccount(generatePrivateKey()), client);
    expect(seat.feeCapped).toBe(seat);
  });
});
