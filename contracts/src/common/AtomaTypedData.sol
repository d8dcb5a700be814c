// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice EIP-712 struct hashes of the signatures tied to stacks, as `eip712.ts` in @atoma/core defines them.
/// The domain is {name: "Atoma", version: "1", chainId, verifyingContract: StackManager}.
library AtomaTypedData {
    bytes32 internal constant REQUEST_TYPEHASH =
        keccak256("AtomaRequest(uint256 stackId,bytes32 reqHash,uint256 nonce,uint64 deadline)");
    bytes32 internal constant RESPONSE_TYPEHASH = keccak256(
        "AtomaResponse(uint256 stackId,uint256 leafIndex,bytes32 reqHash,bytes32 respHash,uint64 units,uint64 cumulativeUnits,uint64 seed)"
    );

    /// The stack owner's authorisation of one request.
    struct Request {
        uint256 stackId;
        bytes32 reqHash;
        uint256 nonce;
        uint64 deadline;
    }

    /// The node's signature on one response; `cumulativeUnits` is the stack's total after it.
    struct Response {
        uint256 stackId;
        uint256 leafIndex;
        bytes32 reqHash;
        bytes32 respHash;
        uint64 units;
        uint64 cumulativeUnits;
        uint64 seed;
    }

    function hashRequest(Request memory r) internal pure returns (bytes32) {
        return keccak256(abi.encode(REQUEST_TYPEHASH, r.stackId, r.reqHash, r.nonce, r.deadline));
    }

    function hashResponse(Response memory r) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RESPONSE_TYPEHASH, r.stackId, r.leafIndex, r.reqHash, r.respHash, r.units, r.cumulativeUnits, r.seed
            )
        );
    }

    /// leaf_k = H(reqHash_k ‖ respHash_k), the leaf of request k in a stack's Merkle tree.
    function leaf(bytes32 reqHash, bytes32 respHash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(reqHash, respHash));
    }
}
