// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Sampling Consensus commitments for n-node requests (whitepaper §2.6), as `consensusCommitment.ts` in
/// the core package: leaf_i = H(O ‖ uint64 units ‖ uint256 i) for the 1-based index i, root = H(leaf_1 ‖ … ‖
/// leaf_n), and the seal a seat commits before any seat reveals, H(requestId, i, root, leaf, salt) (abi.encode).
library ConsensusCommitment {
    function leaf(bytes memory output, uint64 units, uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(output, units, index));
    }

    function root(bytes memory output, uint64 units, uint256 n) internal pure returns (bytes32) {
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            leaves[i] = leaf(output, units, i + 1);
        }
        return keccak256(abi.encodePacked(leaves));
    }

    function rootOfLeaves(bytes32[] memory leaves) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(leaves));
    }

    function seal(uint256 requestId, uint256 index, bytes32 root_, bytes32 leaf_, bytes32 salt)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(requestId, index, root_, leaf_, salt));
    }
}
