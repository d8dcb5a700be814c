import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { atomaDomain } from "./eip712.js";
import { requestHash } from "./hash.js";
import { signRequest } from "./signatures.js";
import { leafHash } from "./stackLeaf.js";
import { stackRoot } from "./stackTree.js";
import {
  decodeTranscript,
  encodeTranscript,
  type InputsTranscript,
  InvalidTranscriptError,
  NonceNotLeafIndexError,
  RepeatedNonceError,
  RepeatedRequestError,
  RunningTotalError,
  type TranscriptLeafEntry,
  TranscriptRootMismatchError,
  transcriptId,
  UnitsOverSignedError,
  verifyTranscript,
} from "./transcript.js";

const owner = privateKeyToAccount(generatePrivateKey());
const stacks = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const domain = atomaDomain(31337, stacks);
const respHash = `0x${"ab".repeat(32)}` as const;

async function entry(
  body: Record<string, unknown>,
  nonce: bigint,
  units: bigint,
  cumulative: bigint,
  signer = owner,
  maxUnits = 1_000n,
): Promise<TranscriptLeafEntry> {
  const signature = await signRequest(signer, domain, {
    stackId: 3n,
    reqHash: requestHash(body),
    nonce,
    deadline: 99n,
    maxUnits,
  });
  return {
    body,
    nonce: nonce.toString(),
    deadline: "99",
    max_units: maxUnits.toString(),
    signature,
    response_hash: respHash,
    units: units.toString(),
    cumulative_units: cumulative.toString(),
  };
}

async function transcript(): Promise<InputsTranscript> {
  return {
    version: 2,
    chainId: 31337,
    stacks,
    stackId: "3",
    requests: [
      await entry({ model: "m", prompt: "a" }, 0n, 100n, 100n),
      await entry({ prompt: "b", model: "m" }, 1n, 90n, 190n),
    ],
  };
}

const expected = { owner: owner.address, stackId: 3n, domain };

describe("inputs transcript", () => {
  it("round-trips through canonical bytes with a stable id", async () => {
    const t = await transcript();
    const bytes = encodeTranscript(t);
    expect(decodeTranscript(bytes)).toEqual(JSON.parse(new TextDecoder().decode(bytes)));
    expect(transcriptId(decodeTranscript(bytes))).toBe(transcriptId(t));
  });

  it("rebuilds every leaf and the root, and checks them against the settlement", async () => {
    const t = await transcript();
    const audited = await verifyTranscript(t, expected);
    expect(audited.reqHashes).toEqual([
      requestHash({ model: "m", prompt: "a" }),
      requestHash({ model: "m", prompt: "b" }),
    ]);
    expect(audited.leaves[1]).toEqual({
      leafIndex: 1n,
      nonce: 1n,
      reqHash: audited.reqHashes[1],
      respHash,
      units: 90n,
      cumulativeUnits: 190n,
    });
    expect(audited.root).toBe(stackRoot(audited.leaves.map(leafHash)));
    await verifyTranscript(t, { ...expected, root: audited.root, units: 190n, requestCount: 2n });
    await expect(verifyTranscript(t, { ...expected, units: 1_000_000n })).rejects.toThrow(RunningTotalError);
    await expect(verifyTranscript(t, { ...expected, requestCount: 3n })).rejects.toThrow(/claims 3/);
    await expect(verifyTranscript(t, { ...expected, root: respHash })).rejects.toThrow(
      TranscriptRootMismatchError,
    );
  });

  it("rejects a signed request copied to bill it again, by signature and by nonce", async () => {
    const t = await transcript();
    const copy = { ...t.requests[1]!, cumulative_units: "280" };
    await expect(verifyTranscript({ ...t, requests: [...t.requests, copy] }, expected)).rejects.toThrow(
      RepeatedRequestError,
    );
    // The same request signed again with the same nonce (another body): a second bill for one position.
    const resigned = await entry({ model: "m", prompt: "b2" }, 1n, 90n, 280n);
    await expect(verifyTranscript({ ...t, requests: [...t.requests, resigned] }, expected)).rejects.toThrow(
      RepeatedNonceError,
    );
  });

  it("rejects a nonce that is not its leaf index", async () => {
    const t = await transcript();
    t.requests.push(await entry({ prompt: "c" }, 7n, 1n, 191n));
    await expect(verifyTranscript(t, expected)).rejects.toThrow(NonceNotLeafIndexError);
  });

  it("rejects a leaf that claims more units than its owner-signed request allows", async () => {
    const t = await transcript();
    // The owner signed a 10-unit bound; the node billed the rest of the stack for it.
    t.requests.push(await entry({ prompt: "c" }, 2n, 810n, 1_000n, owner, 10n));
    await expect(verifyTranscript(t, expected)).rejects.toThrow(UnitsOverSignedError);
    // An attester sampled elsewhere checks what it was sampled for; leaf 2 is the owner's to challenge.
    const audited = await verifyTranscript(t, { ...expected, boundsCheckedAt: new Set([0n, 1n]) });
    expect(audited.units).toBe(1_000n);
    await expect(verifyTranscript(t, { ...expected, boundsCheckedAt: new Set([2n]) })).rejects.toThrow(
      UnitsOverSignedError,
    );
    // A bound raised after signing is not the owner's signature.
    t.requests[2] = { ...t.requests[2]!, max_units: "1000" };
    await expect(verifyTranscript(t, expected)).rejects.toThrow(/not signed by the stack owner/);
  });

  it("rejects running totals that do not add up, from the first leaf on", async () => {
    const first = await entry({ prompt: "a" }, 0n, 100n, 1_000_000n);
    await expect(verifyTranscript({ ...(await transcript()), requests: [first] }, expected)).rejects.toThrow(
      RunningTotalError,
    );
  });

  it("rejects a request the owner did not sign, and a transcript for another stack", async () => {
    const t = await transcript();
    t.requests.push(
      await entry({ prompt: "padding" }, 2n, 1n, 191n, privateKeyToAccount(generatePrivateKey())),
    );
    await expect(verifyTranscript(t, expected)).rejects.toThrow(/request 2/);
    await expect(verifyTranscript(await transcript(), { ...expected, stackId: 4n })).rejects.toThrow(
      InvalidTranscriptError,
    );
  });

  it.each([
    ["not JSON", new TextEncoder().encode("{")],
    ["version 1", new TextEncoder().encode('{"version":1}')],
    [
      "a malformed request",
      new TextEncoder().encode(
        `{"version":2,"chainId":1,"stacks":"${stacks}","stackId":"1","requests":[{"body":1}]}`,
      ),
    ],
  ])("rejects %s", (_, bytes) => {
    expect(() => decodeTranscript(bytes)).toThrow(InvalidTranscriptError);
  });

  it("rejects an entry without the leaf's units", async () => {
    const t = await transcript();
    const { units: _, ...withoutUnits } = t.requests[0]!;
    const bytes = new TextEncoder().encode(JSON.stringify({ ...t, requests: [withoutUnits] }));
    expect(() => decodeTranscript(bytes)).toThrow(/request 0 is malformed/);
  });

  it("bounds the size it accepts", async () => {
    const bytes = encodeTranscript(await transcript());
    expect(() => decodeTranscript(bytes, { maxBytes: 10 })).toThrow(/too large/);
  });
});
