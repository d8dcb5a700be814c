import { servedEvidenceTypedData } from "@atoma/chain/portable";
import { type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { statementSigner } from "./statementSigner.js";

const node = privateKeyToAccount(keccak256(toHex("statement signer node key")));
const CHAIN_ID = 31_337;
const REGISTRY = "0x00000000000000000000000000000000000a77e5" as const;
const statement = { nodeId: 7n, epoch: 3n, evidenceHash: keccak256(toHex("evidence")) };
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const N = HALF_N * 2n + 1n;

async function signed(): Promise<Hex> {
  return node.signTypedData(servedEvidenceTypedData(CHAIN_ID, REGISTRY, statement));
}

/** The same signature with v written 0/1: viem recovers the same signer, `AttestationRegistry` recovers address 0. */
function lowV(signature: Hex): Hex {
  const v = Number.parseInt(signature.slice(130), 16) - 27;
  return `${signature.slice(0, 130)}0${v}` as Hex;
}

/** The malleated twin (r, N - s, the other v): the same signer to plain recovery, refused by OpenZeppelin's ECDSA. */
function highS(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16) === 27 ? 28 : 27;
  return `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${v.toString(16)}` as Hex;
}

// Follow-up b of issue 12: a node serving its `ServedEvidence` statement with v 0/1 or a high s (both recover to it
// off-chain) hands the holder a statement the contract refuses: a refund claim built on it can only fail. Such a
// statement is no statement, as every other signature the SDK checks.
describe("a served statement's signer", () => {
  it("is the node for its own signature", async () => {
    expect(await statementSigner(CHAIN_ID, REGISTRY, { ...statement, signature: await signed() })).toBe(
      node.address,
    );
  });

  it("is nobody for the same signature with v 0/1, or its high-s twin", async () => {
    const signature = await signed();
    expect(await statementSigner(CHAIN_ID, REGISTRY, { ...statement, signature: lowV(signature) })).toBe(
      undefined,
    );
    expect(await statementSigner(CHAIN_ID, REGISTRY, { ...statement, signature: highS(signature) })).toBe(
      undefined,
    );
    expect(await statementSigner(CHAIN_ID, REGISTRY, { ...statement, signature: "0x1234" })).toBe(undefined);
  });
});
