// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the settlement and consensus contracts need of the dispute manager.
interface IDisputeManager {
    /// Opened by the settlement manager when an attester's commitment does not match the revealed responses.
    struct AttestationCase {
        uint256 stackId;
        uint256 taskId;
        uint32 echelon;
        address user;
        uint256 serverNodeId;
        bytes32 serverResult;
        uint256[] agreeing;
        uint256[] dissenting;
    }

    function openAttestationDispute(AttestationCase calldata c) external returns (uint256 disputeId);

    /// Opened by the consensus contract when the n nodes of a request committed different roots.
    function openConsensusDispute(
        uint256 requestId,
        uint256 taskId,
        uint32 echelon,
        address user,
        uint256[] calldata nodeIds,
        bytes32[] calldata roots
    ) external returns (uint256 disputeId);
}

/// @notice Contracts whose disputes the dispute manager resolves for them.
interface IConsensusDisputeOrigin {
    function onDisputeResolved(uint256 requestId, bool decided, bytes32 winner) external;
}
