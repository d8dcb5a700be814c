import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { atomaDomain } from "./eip712.js";
import { InvalidSignatureError } from "./errors.js";
import { leafDenialToWire, leafDenialTypes, signLeafDenial, verifyLeafDenial } from "./leafDenial.js";
import { recoverRequestSigner } from "./signatures.js";

const domain = atomaDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const node = privateKeyToAccount(generatePrivateKey());
const fields = { stackId: 5n, nonce: 3n, reqHash: keccak256(toHex("the cut request")) };

describe("AtomaLeafDenial", () => {
  it("is the node's typed-data signature, checked for exactly the stack, nonce and request asked about", async () => {
    const signature = await signLeafDenial(node, domain, fields);
    expect(signature).toBe(
      await node.signTypedData({
        domain,
        types: leafDenialTypes,
        primaryType: "AtomaLeafDenial",
        message: fields,
      }),
    );
    const wire = leafDenialToWire({ fields, signature });
    expect(await verifyLeafDenial(domain, wire, fields, node.address)).toEqual({ fields, signature });
  });

  it("refuses a denial signed by anyone else, for another stack, nonce or request, or malformed", async () => {
    const wire = leafDenialToWire({ fields, signature: await signLeafDenial(node, domain, fields) });
    const stranger = privateKeyToAccount(generatePrivateKey());
    const forged = leafDenialToWire({ fields, signature: await signLeafDenial(stranger, domain, fields) });
    const refused = [
      verifyLeafDenial(domain, forged, fields, node.address),
      verifyLeafDenial(domain, wire, { ...fields, stackId: 6n }, node.address),
      verifyLeafDenial(domain, wire, { ...fields, nonce: 4n }, node.address),
      verifyLeafDenial(domain, wire, { ...fields, reqHash: keccak256(toHex("another")) }, node.address),
      // Rewritten to name another stack, the signature no longer recovers to the node.
      verifyLeafDenial(domain, { ...wire, stack_id: "6" }, { ...fields, stackId: 6n }, node.address),
      // Another chain's (or StackManager's) domain.
      verifyLeafDenial(
        atomaDomain(1, "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        wire,
        fields,
        node.address,
      ),
      verifyLeafDenial(domain, undefined, fields, node.address),
      verifyLeafDenial(domain, { ...wire, signature: "0x00" }, fields, node.address),
      verifyLeafDenial(domain, { ...wire, nonce: "03" }, fields, node.address),
      // v - 27: viem recovers the node from it, the contract (OpenZeppelin's tryRecover) address 0, so it could
      // never convict the node: no denial.
      verifyLeafDenial(
        domain,
        {
          ...wire,
          signature: `${wire.signature.slice(0, 130)}0${Number.parseInt(wire.signature.slice(130), 16) - 27}`,
        },
        fields,
        node.address,
      ),
    ];
    for (const check of refused) await expect(check).rejects.toThrow(InvalidSignatureError);
  });

  it("never reads as a request the owner signed (its own type)", async () => {
    const signature = await signLeafDenial(node, domain, fields);
    const asRequest = { stackId: 5n, reqHash: fields.reqHash, nonce: 3n, deadline: 0n, maxUnits: 0n };
    expect(await recoverRequestSigner(domain, asRequest, signature)).not.toBe(node.address);
  });
});
