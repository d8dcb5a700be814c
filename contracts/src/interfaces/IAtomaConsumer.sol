// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Implemented by contracts that ask the network through ConsensusRequests: the agreed output comes back
/// here, called with the gas stipend the request named. A revert or out-of-gas here does not undo delivery.
interface IAtomaConsumer {
    function onAtomaResult(uint256 requestId, bytes calldata output) external;
}
