import {
  type Address,
  encodeAbiParameters,
  type Hex,
  hashMessage,
  keccak256,
  type LocalAccount,
  recoverMessageAddress,
  stringToBytes,
} from "viem";
import type { Hash } from "./hash.js";

/** Where a signer binding applies: the chain, the node registry, and the operator the key lets register it. */
export interface SignerBindingFields {
  chainId: number | bigint;
  registry: Address;
  operator: Address;
}

const SIGNER_BINDING_TAG = keccak256(stringToBytes("AtomaSigner"));

/**
 * What a node's signing key signs to let `operator` register it in `registry` (NodeRegistry's `SignerBinding`):
 * keccak256(abi.encode(keccak256("AtomaSigner"), chainId, registry, operator)). Without it anyone could register
 * a key it does not hold and block that key for good.
 */
export function signerBindingHash(fields: SignerBindingFields): Hash {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "uint256" }, { type: "address" }, { type: "address" }],
      [SIGNER_BINDING_TAG, BigInt(fields.chainId), fields.registry, fields.operator],
    ),
  );
}

/** The digest the registry recovers the signer from: the binding hash as an EIP-191 personal message. */
export function signerBindingDigest(fields: SignerBindingFields): Hash {
  return hashMessage({ raw: signerBindingHash(fields) });
}

/** The signer's proof for `NodeRegistry.register`, signed with the node's key. */
export function signSignerBinding(signer: LocalAccount, fields: SignerBindingFields): Promise<Hex> {
  return signer.signMessage({ message: { raw: signerBindingHash(fields) } });
}

/** The address that signed a binding proof. */
export function recoverSignerBinding(fields: SignerBindingFields, proof: Hex): Promise<Address> {
  return recoverMessageAddress({ message: { raw: signerBindingHash(fields) }, signature: proof });
}
