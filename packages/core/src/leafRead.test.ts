import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { atomaDomain } from "./eip712.js";
import { InvalidSignatureError } from "./errors.js";
import {
  assertLeafReadSigner,
  leafReadTypes,
  NO_REQUEST_NAMED,
  namedLeafReadTypes,
  signLeafRead,
} from "./leafRead.js";
import { recoverRequestSigner } from "./signatures.js";

const domain = atomaDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const owner = privateKeyToAccount(generatePrivateKey());
const fields = {
  stackId: 5n,
  nonce: 3n,
  deadline: 1_900_000_000n,
  salt: keccak256(toHex("salt")),
  reqHash: keccak256(toHex("req")),
};

describe("AtomaLeafRead", () => {
  it("is the owner's signature, as viem's typed-data path makes it, refused for anyone else", async () => {
    const signature = await signLeafRead(owner, domain, fields);
    expect(signature).toBe(
      await owner.signTypedData({
        domain,
        types: namedLeafReadTypes,
        primaryType: "AtomaLeafReadOf",
        message: fields,
      }),
    );
    await assertLeafReadSigner(domain, fields, signature, owner.address);
    const stranger = privateKeyToAccount(generatePrivateKey());
    await expect(assertLeafReadSigner(domain, fields, signature, stranger.address)).rejects.toThrow(
      InvalidSignatureError,
    );
    await expect(
      assertLeafReadSigner(domain, { ...fields, nonce: 4n }, signature, owner.address),
    ).rejects.toThrow(InvalidSignatureError);
  });

  // Clients and nodes from before named reads sign and check `AtomaLeafRead` over these four fields: a read naming
  // no request is that very signature still, both ways (else each refuses the other's reads, 401).
  it("is, naming no request, the AtomaLeafRead of before named reads", async () => {
    const { reqHash: _, ...unnamed } = fields;
    const before = await owner.signTypedData({
      domain,
      types: {
        AtomaLeafRead: [
          { name: "stackId", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint64" },
          { name: "salt", type: "bytes32" },
        ],
      },
      primaryType: "AtomaLeafRead",
      message: unnamed,
    });
    expect(before).toBe(await signLeafRead(owner, domain, { ...fields, reqHash: NO_REQUEST_NAMED }));
    expect(leafReadTypes.AtomaLeafRead.map((f) => f.name)).toEqual(["stackId", "nonce", "deadline", "salt"]);
    await assertLeafReadSigner(domain, { ...fields, reqHash: NO_REQUEST_NAMED }, before, owner.address);
    // Named, it is another signature: a node cannot read an unnamed read as one naming a request, nor back.
    await expect(assertLeafReadSigner(domain, fields, before, owner.address)).rejects.toThrow(
      InvalidSignatureError,
    );
  });

  it("never reads as a request signed at that nonce (its own type)", async () => {
    const signature = await signLeafRead(owner, domain, fields);
    const asRequest = {
      stackId: 5n,
      reqHash: fields.salt,
      nonce: 3n,
      deadline: fields.deadline,
      maxUnits: 0n,
    };
    expect(await recoverRequestSigner(domain, asRequest, signature)).not.toBe(owner.address);
  });
});
