import { type Hex, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { atomaDomain, requestTypes } from "./eip712.js";
import { nativeSecp256k1 } from "./nativeSecp256k1.js";
import { privateKeyAccount } from "./privateKeyAccount.js";
import { assertRequestSigner, signRequest } from "./signatures.js";

/** The group order: a digest at or above it makes libsecp256k1 and noble derive different nonces. */
const N_HEX = "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

describe("a private-key account signing digests in libsecp256k1", () => {
  it("makes byte for byte viem's signature, for random keys and digests and the edge keys", async () => {
    expect(nativeSecp256k1()).not.toBeNull();
    const keys: Hex[] = [
      ...Array.from({ length: 30 }, () => generatePrivateKey()),
      `0x${"00".repeat(31)}01`,
      "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
    ];
    for (const [i, key] of keys.entries()) {
      const ours = privateKeyAccount(key);
      const viem = privateKeyToAccount(key);
      expect(ours.address).toBe(viem.address);
      const edges = [`0x${"00".repeat(32)}`, `0x${"ff".repeat(32)}`, N_HEX, `${N_HEX.slice(0, -1)}0`];
      for (const hash of [keccak256(toHex(i)), ...edges] as Hex[])
        expect(await ours.sign({ hash })).toBe(await viem.sign({ hash }));
    }
  });

  it("signs a stack request the node verifies, as viem's signTypedData would", async () => {
    const key = generatePrivateKey();
    const domain = atomaDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const fields = { stackId: 3n, reqHash: keccak256("0x07"), nonce: 1n, deadline: 9n, maxUnits: 64n };
    const signature = await signRequest(privateKeyAccount(key), domain, fields);
    expect(signature).toBe(
      await privateKeyToAccount(key).signTypedData({
        domain,
        types: requestTypes,
        primaryType: "AtomaRequest",
        message: fields,
      }),
    );
    await assertRequestSigner(domain, fields, signature, privateKeyToAccount(key).address);
  });

  it("leaves anything but a 32-byte hex digest to viem, which refuses it as before", async () => {
    const key = generatePrivateKey();
    for (const hash of ["0x1234", `0x${"zz".repeat(32)}`] as Hex[]) {
      const ours = await privateKeyAccount(key)
        .sign({ hash })
        .then(String, () => "threw");
      const viem = await privateKeyToAccount(key)
        .sign({ hash })
        .then(String, () => "threw");
      expect(ours).toBe(viem);
    }
  });
});
