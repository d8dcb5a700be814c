// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Draws that the party who triggers them cannot steer. The triggering transaction (a stack bought, a
/// settlement submitted, attesters timed out) arms the draw on its own block; the draw is a separate call in a
/// later block, seeded with the hash of the armed block, which nobody knew when the trigger was sent. The EVM
/// keeps only the last 256 block hashes: a draw older than that has `expired` and must be re-armed on the current
/// block (the caller learns nothing from re-arming: the new block's hash is again unknown to it).
/// @dev What is left, stated plainly: the producer of the armed block chooses its hash (it may withhold the block),
/// so a validator that is also a party can bias a draw by discarding blocks; and the candidates must be frozen at
/// the trigger (callers keep a hash of them), or a party that reads the hash could still reshape the set.
library DeferredRandom {
    /// Blocks whose hash the EVM still returns.
    uint256 internal constant HORIZON = 256;

    /// The draw was armed on this block or a later one: its hash is not known yet.
    error DrawTooEarly(uint256 armedAt, uint256 blockNumber);

    /// The seed of a draw armed on block `armedAt` for `context` (what is drawn for, never reused), or
    /// `expired` when that block's hash is gone.
    function seed(uint256 armedAt, bytes32 context) internal view returns (uint256 value, bool expired) {
        if (block.number <= armedAt) revert DrawTooEarly(armedAt, block.number);
        if (block.number - armedAt > HORIZON) return (0, true);
        value = uint256(keccak256(abi.encode(blockhash(armedAt), context, address(this))));
    }

    /// Position `i` of a seeded permutation of `length` items, advanced one step (Fisher–Yates on `order`, which
    /// holds 0..length-1 initially): callers walk i = 0, 1, … and take `order[i]` after each call.
    function step(uint256[] memory order, uint256 value, uint256 i) internal pure {
        uint256 j = i + uint256(keccak256(abi.encode(value, i))) % (order.length - i);
        (order[i], order[j]) = (order[j], order[i]);
    }

    /// 0, 1, …, length-1.
    function identity(uint256 length) internal pure returns (uint256[] memory order) {
        order = new uint256[](length);
        for (uint256 i = 0; i < length; ++i) order[i] = i;
    }
}
