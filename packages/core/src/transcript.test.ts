import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { atomaDomain } from "./eip712.js";
import { requestHash } from "./hash.js";
import { signRequest } from "./signatures.js";
import {
  decodeTranscript,
  encodeTranscript,
  type InputsTranscript,
  InvalidTranscriptError,
  transcriptId,
  verifyTranscript,
} from "./transcript.js";

const owner = privateKeyToAccount(generatePrivateKey());
const stacks = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const domain = atomaDomain(31337, stacks);

async function entry(body: Record<string, unknown>, nonce: bigint, signer = owner) {
  const signature = await signRequest(signer, domain, {
    stackId: 3n,
    reqHash: requestHash(body),
    nonce,
    deadline: 99n,
  });
  return { body, nonce: nonce.toString(), deadline: "99", signature };
}

async function transcript(): Promise<InputsTranscript> {
  return {
    version: 1,
    chainId: 31337,
    stacks,
    stackId: "3",
    requests: [await entry({ model: "m", prompt: "a" }, 1n), await entry({ prompt: "b", model: "m" }, 2n)],
  };
}

describe("inputs transcript", () => {
  it("round-trips through canonical bytes with a stable id", async () => {
    const t = await transcript();
    const bytes = encodeTranscript(t);
    expect(decodeTranscript(bytes)).toEqual(JSON.parse(new TextDecoder().decode(bytes)));
    expect(transcriptId(decodeTranscript(bytes))).toBe(transcriptId(t));
  });

  it("verifies every owner signature and returns the request hashes in order", async () => {
    const t = await transcript();
    const hashes = await verifyTranscript(t, { owner: owner.address, stackId: 3n, domain });
    expect(hashes).toEqual([
      requestHash({ model: "m", prompt: "a" }),
      requestHash({ model: "m", prompt: "b" }),
    ]);
  });

  it("rejects a request the owner did not sign, and a transcript for another stack", async () => {
    const t = await transcript();
    t.requests.push(await entry({ prompt: "padding" }, 3n, privateKeyToAccount(generatePrivateKey())));
    await expect(verifyTranscript(t, { owner: owner.address, stackId: 3n, domain })).rejects.toThrow(
      /request 2/,
    );
    await expect(
      verifyTranscript(await transcript(), { owner: owner.address, stackId: 4n, domain }),
    ).rejects.toThrow(InvalidTranscriptError);
  });

  it.each([
    ["not JSON", new TextEncoder().encode("{")],
    ["a wrong version", new TextEncoder().encode('{"version":2}')],
    [
      "a malformed request",
      new TextEncoder().encode(
        `{"version":1,"chainId":1,"stacks":"${stacks}","stackId":"1","requests":[{"body":1}]}`,
      ),
    ],
  ])("rejects %s", (_, bytes) => {
    expect(() => decodeTranscript(bytes)).toThrow(InvalidTranscriptError);
  });

  it("bounds the size it accepts", async () => {
    const bytes = encodeTranscript(await transcript());
    expect(() => decodeTranscript(bytes, { maxBytes: 10 })).toThrow(/too large/);
  });
});
