// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Epochs: fixed periods of `EPOCH_LENGTH` seconds counted from `GENESIS`, epoch 0 first. Both are
/// immutable: changing the length would renumber the past. Contracts that need the clock copy the registry's.
abstract contract EpochClock {
    uint256 public immutable GENESIS;
    uint256 public immutable EPOCH_LENGTH;

    error InvalidEpochLength(uint256 length);

    constructor(uint256 genesis, uint256 epochLength) {
        if (epochLength == 0 || epochLength > 365 days) revert InvalidEpochLength(epochLength);
        GENESIS = genesis;
        EPOCH_LENGTH = epochLength;
    }

    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - GENESIS) / EPOCH_LENGTH;
    }

    /// Unix time at which `epoch` ends (and the next begins).
    function epochEnd(uint256 epoch) public view returns (uint256) {
        return GENESIS + (epoch + 1) * EPOCH_LENGTH;
    }
}
