// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice EIP-712 struct hashes of the signatures tied to stacks, and a stack's leaf, as @atoma/core defines them
/// (`eip712.ts`, `stackLeaf.ts`). The domain is {name: "Atoma", version: "1", chainId, verifyingContract:
/// StackManager}.
library AtomaTypedData {
    bytes32 internal constant REQUEST_TYPEHASH =
        keccak256("AtomaRequest(uint256 stackId,bytes32 reqHash,uint256 nonce,uint64 deadline,uint64 maxUnits)");
    bytes32 internal constant RESPONSE_TYPEHASH = keccak256(
        "AtomaResponse(uint256 stackId,uint256 leafIndex,uint256 nonce,bytes32 reqHash,bytes32 respHash,uint64 units,uint64 cumulativeUnits,uint64 seed)"
    );

    bytes32 internal constant LEAF_DENIAL_TYPEHASH =
        keccak256("AtomaLeafDenial(uint256 stackId,uint256 nonce,bytes32 reqHash)");

    /// The stack owner's authorisation of one request; its k-th request carries nonce k. `maxUnits` bounds the
    /// units the node may claim for the request's leaf: a leaf proven with this signature above it is fraud.
    struct Request {
        uint256 stackId;
        bytes32 reqHash;
        uint256 nonce;
        uint64 deadline;
        uint64 maxUnits;
    }

    /// The node's signature on one response: `nonce` is the request's (equal to `leafIndex`), `cumulativeUnits`
    /// the stack's total after it.
    struct Response {
        uint256 stackId;
        uint256 leafIndex;
        uint256 nonce;
        bytes32 reqHash;
        bytes32 respHash;
        uint64 units;
        uint64 cumulativeUnits;
        uint64 seed;
    }

    /// One leaf of a stack's tree: what a response commits to, without the stack id and the seed.
    struct Leaf {
        uint256 leafIndex;
        uint256 nonce;
        bytes32 reqHash;
        bytes32 respHash;
        uint64 units;
        uint64 cumulativeUnits;
    }

    /// The node's word that no leaf answers request `reqHash` at `nonce` of the stack, and none ever will.
    struct LeafDenial {
        uint256 stackId;
        uint256 nonce;
        bytes32 reqHash;
    }

    function hashLeafDenial(LeafDenial memory d) internal pure returns (bytes32) {
        return keccak256(abi.encode(LEAF_DENIAL_TYPEHASH, d));
    }

    function hashRequest(Request memory r) internal pure returns (bytes32) {
        return keccak256(abi.encode(REQUEST_TYPEHASH, r.stackId, r.reqHash, r.nonce, r.deadline, r.maxUnits));
    }

    /// Every field is a static word, so encoding the struct whole is the EIP-712 encoding of its fields.
    function hashResponse(Response memory r) internal pure returns (bytes32) {
        return keccak256(abi.encode(RESPONSE_TYPEHASH, r));
    }

    /// leaf = H(abi.encode(leafIndex, nonce, reqHash, respHash, units, cumulativeUnits)).
    function leafHash(Leaf memory l) internal pure returns (bytes32) {
        return keccak256(abi.encode(l));
    }

    /// The leaf a signed response stands for.
    function leafOf(Response memory r) internal pure returns (Leaf memory) {
        return Leaf({
            leafIndex: r.leafIndex,
            nonce: r.nonce,
            reqHash: r.reqHash,
            respHash: r.respHash,
            units: r.units,
            cumulativeUnits: r.cumulativeUnits
        });
    }
}
