import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ClientArgumentError,
  createAtomaClient,
  GatewayRequestError,
  parseNetwork,
  verifyChainOf,
} from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { networkDevRoot } from "../src/confidential/confidentialOptions.js";

/** In every prompt below: it must never reach the gateway in clear. */
const MARKER = "SECRET-MARKER-gateway-confidential-5521";
const address = (byte: string) => `0x${byte.repeat(20)}` as const;
/** A chain nobody reads here: the gateway below refuses the session before the client would read it. */
const CHAIN = JSON.stringify({
  rpcUrl: "http://127.0.0.1:9/",
  chainId: 31337,
  contracts: {
    AtomaToken: address("11"),
    NodeRegistry: address("22"),
    TaskRegistry: address("33"),
    AtomaVault: address("44"),
    StackManager: address("55"),
    SettlementManager: address("77"),
  },
});

/** Every request a stand-in gateway received: path and body. */
const captured: { path: string; body: string }[] = [];
let gateway: Server;
let url: string;

beforeAll(async () => {
  // A gateway that records everything and serves nothing (no node): what a client sent it is all it ever gets.
  gateway = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    captured.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString() });
    res.writeHead(503, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ error: { message: "no node", type: "server_error", code: "no_node_available" } }),
    );
  });
  await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});

afterAll(() => {
  gateway?.close();
});

const ask = (content: string) => ({ model: "m", messages: [{ role: "user", content }] });

describe("createAtomaClient through a gateway with confidential: true", () => {
  it("never sends the prompt in clear: it asks the gateway for a session, and nothing else carries the prompt", async () => {
    captured.length = 0;
    const client = createAtomaClient({
      gateway: { url, apiKey: "sk-test" },
      chain: CHAIN,
      // Given, so that nothing is read before the request (the chain above answers nothing).
      gatewayAddress: address("66"),
      securityLevel: 3,
      confidential: true,
    });
    for (const call of [
      () => client.chat(ask(MARKER)),
      () => client.chatStream(ask(MARKER), () => {}),
      () => client.completions({ model: "m", prompt: MARKER }),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GatewayRequestError);
      expect((error as GatewayRequestError).gatewayCode).toBe("no_node_available");
    }
    expect(captured.length).toBeGreaterThan(0);
    for (const { path, body } of captured) {
      expect(path).toBe("/v1/confidential/sessions");
      expect(body).not.toContain(MARKER);
    }
  });

  it("refuses at construction what cannot seal: no chain, a chain it cannot read the network of, embeddings", async () => {
    expect(() =>
      createAtomaClient({ gateway: { url, apiKey: "sk-test" }, verify: false, confidential: true }),
    ).toThrow(ClientArgumentError);
    expect(() =>
      createAtomaClient({
        gateway: { url, apiKey: "sk-test" },
        chain: verifyChainOf(parseNetwork(CHAIN)),
        confidential: true,
      }),
    ).toThrow(/confidential/);
    expect(() =>
      createAtomaClient({ gateway: { url, apiKey: "sk-test" }, chain: CHAIN, confidential: "yes" as never }),
    ).toThrow(ClientArgumentError);
    captured.length = 0;
    const client = createAtomaClient({
      gateway: { url, apiKey: "sk-test" },
      chain: CHAIN,
      confidential: true,
    });
    await expect(client.embeddings({ model: "m", input: MARKER })).rejects.toThrow(ClientArgumentError);
    expect(captured).toEqual([]);
  });
});

describe("dev evidence from a network description", () => {
  it("is accepted only on a local dev chain or with allowDev: a network file for another chain cannot turn it on", () => {
    const root = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    expect(networkDevRoot({ chainId: 8453, devAttestationRoot: root }, undefined)).toBeUndefined();
    expect(networkDevRoot({ chainId: 8453, devAttestationRoot: root }, true)).toBe(root);
    expect(networkDevRoot({ chainId: 31337, devAttestationRoot: root }, undefined)).toBe(root);
    expect(networkDevRoot({ chainId: 31337, devAttestationRoot: root }, false)).toBeUndefined();
    expect(() =>
      createAtomaClient({
        gateway: { url, apiKey: "sk-test" },
        chain: CHAIN,
        confidential: { allowDev: "yes" as never },
      }),
    ).toThrow(ClientArgumentError);
    expect(() =>
      createAtomaClient({
        gateway: { url, apiKey: "sk-test" },
        chain: CHAIN,
        confidential: { minTcbEvaluationDataNumber: 0 },
      }),
    ).toThrow(/minTcbEvaluationDataNumber/);
  });
});
