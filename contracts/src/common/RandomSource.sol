// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice The same-block random value, for draws not yet moved to `DeferredRandom`.
/// @dev Limits, stated plainly: the value mixes `block.prevrandao` and the block number with a nonce, the
/// caller's context, which names what is drawn for and is never used twice by one contract. Whoever sends the
/// transaction that draws can simulate it and choose its block, and a block producer knows prevrandao before
/// publishing, so a party that triggers such a draw can steer it. The stack's serving node and a settlement's
/// attesters are drawn with `DeferredRandom` instead (armed by the trigger, seeded by a later block's view of the
/// trigger block's hash); a draw that still uses this one names it in its own documentation.
abstract contract RandomSource {
    function _random(bytes32 context) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(block.prevrandao, block.number, context, address(this))));
    }
}
