// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Every random choice the protocol makes (serving node, attesters, request indices, committees) draws
/// from `_random`, so a VRF can replace it in one place.
/// @dev Limits, stated plainly: the value mixes `block.prevrandao` and the block number with a nonce, the
/// caller's context, which names what is drawn for (a stack, a dispute, a request, a replacement round) and is
/// never used twice by one contract, so no storage is spent on a counter. A block producer (or a sequencer on an L2) knows prevrandao before publishing its block and can
/// withhold or reorder transactions to bias a draw; anyone can predict a draw once the block is known. That is
/// adequate for a local or permissioned chain and for stakes below a block reward, not against a validator who is
/// also a node. Replace with a VRF (request/fulfil) before relying on it where producers are adversarial.
abstract contract RandomSource {
    function _random(bytes32 context) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(block.prevrandao, block.number, context, address(this))));
    }
}
