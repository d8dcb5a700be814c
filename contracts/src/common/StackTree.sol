// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice A stack's positional Merkle tree, as `stackTree.ts` in @atoma/core builds it: the leaves in index order,
/// padded with zero to the next power of two, each parent H(left ‖ right) with no sorting. A proof is the siblings
/// from the bottom up and must be exactly log2(width) long, so a root has one leaf per index.
library StackTree {
    /// log2 of the next power of two at or above `count` (0 for one leaf); `count` is at least 1.
    function depth(uint256 count) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < count) ++d;
    }

    /// True when `proof` shows `leaf` at `index` of the tree of `count` leaves whose root is `root`.
    function verify(bytes32[] memory proof, bytes32 root, bytes32 leaf, uint256 index, uint256 count)
        internal
        pure
        returns (bool)
    {
        if (index >= count || proof.length != depth(count)) return false;
        bytes32 node = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            node = index & 1 == 0 ? _parent(node, proof[i]) : _parent(proof[i], node);
            index >>= 1;
        }
        return node == root;
    }

    function _parent(bytes32 left, bytes32 right) private pure returns (bytes32 parent) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            parent := keccak256(0x00, 0x40)
        }
    }
}
