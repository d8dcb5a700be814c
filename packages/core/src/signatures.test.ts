import { type Hex, keccak256, recoverAddress, toHex } from "viem";
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount, toAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  atomaDomain,
  requestTypes,
  responseTypes,
  type SignedRequestFields,
  type SignedResponseFields,
} from "./eip712.js";
import { InvalidSignatureError } from "./errors.js";
import {
  assertRequestSigner,
  assertResponseSigner,
  recoverRequestSigner,
  recoverResponseSigner,
  responseDigest,
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

  describe("the digest-first path (own EIP-712 digest, libsecp256k1 recovery)", () => {
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const node = privateKeyToAccount(generatePrivateKey());
    const otherNode = privateKeyToAccount(generatePrivateKey());
    const response: SignedResponseFields = {
      stackId: 9n,
      leafIndex: 4n,
      nonce: 4n,
      reqHash: request.reqHash,
      respHash: keccak256(toHex("answer")),
      units: 12n,
      cumulativeUnits: 40n,
      seed: 8n,
    };
    const bend = (signature: Hex, change: (r: bigint, s: bigint, v: number) => [bigint, bigint, number]) => {
      const [r, s, v] = change(
        BigInt(`0x${signature.slice(2, 66)}`),
        BigInt(`0x${signature.slice(66, 130)}`),
        Number.parseInt(signature.slice(130), 16),
      );
      return `0x${r.toString(16).padStart(64, "0")}${s.toString(16).padStart(64, "0")}${v.toString(16)}` as Hex;
    };

    it("signs exactly what viem's signTypedData signs, for private-key and HD accounts", async () => {
      const hd = mnemonicToAccount("test test test test test test test test test test test junk");
      for (const account of [node, hd]) {
        expect(await signResponse(account, domain, response)).toBe(
          await account.signTypedData({
            domain,
            types: responseTypes,
            primaryType: "AtomaResponse",
            message: response,
          }),
        );
        expect(await signRequest(account, domain, request)).toBe(
          await account.signTypedData({
            domain,
            types: requestTypes,
            primaryType: "AtomaRequest",
            message: request,
          }),
        );
      }
    });

    it("leaves an account that only signs typed data (a custom or remote signer) to its own signTypedData", async () => {
      const seen: string[] = [];
      const custom = toAccount({
        address: node.address,
        signMessage: node.signMessage,
        signTransaction: node.signTransaction,
        signTypedData: (typedData) => {
          seen.push(String(typedData.primaryType));
          return node.signTypedData(typedData as Parameters<typeof node.signTypedData>[0]);
        },
      });
      const signature = await signResponse(custom, domain, response);
      expect(seen).toEqual(["AtomaResponse"]);
      await assertResponseSigner(domain, response, signature, node.address);
    });

    it("refuses a receipt with the wrong recovery bit, signed by another node, or for other fields", async () => {
      const good = await signResponse(node, domain, response);
      await assertResponseSigner(domain, response, good, node.address);
      const wrongBit = bend(good, (r, s, v) => [r, s, v === 27 ? 28 : 27]);
      await expect(assertResponseSigner(domain, response, wrongBit, node.address)).rejects.toThrow(
        InvalidSignatureError,
      );
      const byOther = await signResponse(otherNode, domain, response);
      await expect(assertResponseSigner(domain, response, byOther, node.address)).rejects.toThrow(
        InvalidSignatureError,
      );
      await expect(
        assertResponseSigner(domain, { ...response, cumulativeUnits: 41n }, good, node.address),
      ).rejects.toThrow(InvalidSignatureError);
      for (const broken of [bend(good, (r, _s, v) => [r, 0n, v]), bend(good, (r, _s, v) => [r, N, v])])
        await expect(assertResponseSigner(domain, response, broken, node.address)).rejects.toThrow(
          "signature is malformed",
        );
      // The malleated twin (r, N - s, other bit) recovers to the node, but the contracts refuse it: so does this.
      const highS = bend(good, (r, s, v) => [r, N - s, v === 27 ? 28 : 27]);
      expect(
        await recoverResponseSigner(
          domain,
          response,
          bend(good, (r, s, v) => [r, s, v]),
        ).catch(String),
      ).toBe(node.address);
      await expect(assertResponseSigner(domain, response, highS, node.address)).rejects.toThrow(
        "signature is malleable",
      );
      await expect(recoverResponseSigner(domain, response, highS)).rejects.toThrow(InvalidSignatureError);
      const request = { stackId: 1n, reqHash: response.reqHash, nonce: 0n, deadline: 9n, maxUnits: 9n };
      const signedRequest = await signRequest(node, domain, request);
      await expect(
        assertRequestSigner(
          domain,
          request,
          bend(signedRequest, (r, s, v) => [r, N - s, v === 27 ? 28 : 27]),
          node.address,
        ),
      ).rejects.toThrow("signature is malleable");
      // v - 27 (0/1) recovers to the node in viem, but OpenZeppelin's `tryRecover` answers address 0 for it: a
      // receipt carrying it could never convict the node on-chain, so it is no signature here.
      const yParity = bend(good, (r, s, v) => [r, s, v - 27]);
      expect(await recoverAddress({ hash: responseDigest(domain, response), signature: yParity })).toBe(
        node.address,
      );
      await expect(assertResponseSigner(domain, response, yParity, node.address)).rejects.toThrow(
        "signature is not 65 bytes with v 27 or 28",
      );
      await expect(
        assertResponseSigner(domain, response, good.slice(0, 130) as Hex, node.address),
      ).rejects.toThrow(InvalidSignatureError);
      // Fields viem cannot encode are malformed, as they were through viem's typed-data path.
      await expect(
        assertResponseSigner(domain, { ...response, units: 1n << 64n }, good, node.address),
      ).rejects.toThrow("signature is malformed");
    });
  });
});
