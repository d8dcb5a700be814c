import { servedEvidenceTypedData } from "@atoma/chain";
import { type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { signedStatement } from "./servedStatement.js";

const node = privateKeyToAccount(keccak256(toHex("served statement node key")));
const domain = { chainId: 31_337, registry: "0x00000000000000000000000000000000000a77e5" as const };
const fields = { nodeId: 9n, epoch: 4n, evidenceHash: keccak256(toHex("served evidence")) };

// Follow-up b of issue 12: the gateway keeps a served statement to claim a refund with; one whose signature the
// contract refuses (v 0/1 here, recovered by viem all the same) would only make a claim that fails.
describe("a served statement kept by the gateway", () => {
  it("is kept with the node's signature, and refused with the same signature's v written 0/1", async () => {
    const signature = await node.signTypedData(
      servedEvidenceTypedData(domain.chainId, domain.registry, fields),
    );
    const expected = { nodeId: 9n, signer: node.address };
    expect(await signedStatement({ ...fields, signature }, expected, domain)).toEqual({
      ...fields,
      signature,
    });
    const v = Number.parseInt(signature.slice(130), 16) - 27;
    const lowV = `${signature.slice(0, 130)}0${v}` as Hex;
    expect(await signedStatement({ ...fields, signature: lowV }, expected, domain)).toBeUndefined();
  });
});
