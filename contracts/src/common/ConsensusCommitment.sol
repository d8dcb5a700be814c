// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Sampling Consensus commitments for n-node requests (whitepaper §2.6), as `consensusCommitment.ts`
/// in the core package: leaf_i = H(O ‖ uint256(i)) for the 1-based index i, root = H(leaf_1 ‖ … ‖ leaf_n).
library ConsensusCommitment {
    function leaf(bytes memory output, uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(output, index));
    }

    function root(bytes memory output, uint256 n) internal pure returns (bytes32) {
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) leaves[i] = leaf(output, i + 1);
        return keccak256(abi.encodePacked(leaves));
    }

    function rootOfLeaves(bytes32[] memory leaves) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(leaves));
    }
}
