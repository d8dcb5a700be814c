import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { atomaDomain, type SignedRequestFields, type SignedResponseFields } from "./eip712.js";
import { InvalidSignatureError } from "./errors.js";
import {
  assertRequestSigner,
  assertResponseSigner,
  recoverRequestSigner,
  signRequest,
  signResponse,
} from "./signatures.js";

const owner = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const domain = atomaDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const request: SignedRequestFields = {
  stackId: 1n,
  reqHash: keccak256(toHex("r")),
  nonce: 5n,
  deadline: 99n,
  maxUnits: 4_096n,
};

describe("request and response signatures", () => {
  it("recovers the owner of a signed request", async () => {
    const signature = await signRequest(owner, domain, request);
    expect(await recoverRequestSigner(domain, request, signature)).toBe(owner.address);
    await assertRequestSigner(domain, request, signature, owner.address);
  });

  it("rejects a request signed by someone else, or altered after signing", async () => {
    const signature = await signRequest(stranger, domain, request);
    await expect(assertRequestSigner(domain, request, signature, owner.address)).rejects.toThrow(
      InvalidSignatureError,
    );
    const good = await signRequest(owner, domain, request);
    await expect(assertRequestSigner(domain, { ...request, nonce: 6n }, good, owner.address)).rejects.toThrow(
      InvalidSignatureError,
    );
  });

  it("binds signatures to the chain and the stacks contract", async () => {
    const signature = await signRequest(owner, domain, request);
    const otherChain = atomaDomain(1, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(await recoverRequestSigner(otherChain, request, signature)).not.toBe(owner.address);
  });

  it("turns a malformed signature into InvalidSignatureError", async () => {
    await expect(recoverRequestSigner(domain, request, "0x1234")).rejects.toThrow(InvalidSignatureError);
  });

  it("verifies a node's response signature", async () => {
    const response: SignedResponseFields = {
      stackId: 1n,
      leafIndex: 0n,
      nonce: 0n,
      reqHash: request.reqHash,
      respHash: keccak256(toHex("o")),
      units: 10n,
      cumulativeUnits: 10n,
      seed: 3n,
    };
    const signature = await signResponse(owner, domain, response);
    await assertResponseSigner(domain, response, signature, owner.address);
    await expect(
      assertResponseSigner(domain, { ...response, units: 11n }, signature, owner.address),
    ).rejects.toThrow(InvalidSignatureError);
    await expect(
      assertResponseSigner(domain, { ...response, nonce: 1n }, signature, owner.address),
    ).rejects.toThrow(InvalidSignatureError);
  });
});
