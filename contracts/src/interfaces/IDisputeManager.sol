// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// The part of the DisputeManager's `params` getter read by the stack and consensus contracts (its first two
/// fields): how many nodes a dispute committee must have at least.
interface IDisputeParams {
    function params() external view returns (uint8 committeeSize, uint8 minCommittee);
}

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

    /// One owner-signed request of a disputed sample, as the server posts it for the committee (the same shape as
    /// the settlement manager's posted requests).
    struct EvidenceRequest {
        bytes body;
        uint256 nonce;
        uint64 deadline;
        uint64 maxUnits;
        bytes signature;
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

    /// The root the request's nodes commit to for `shown` = output ‖ uint64 units (what a committee member's
    /// shown bytes must match).
    function outputRoot(uint256 requestId, bytes calldata shown) external view returns (bytes32);
}

/// @notice The private committee selection (DisputeSelection) as the dispute manager consults it in each of a
/// dispute's draw rounds, when a deployment turned it on.
interface IDisputeSelection {
    /// What the current draw round does next (only the dispute manager may ask): OPENED, the window just opened
    /// (nothing to draw yet); FORMED, `members` sit already committed with `commitments` (each a
    /// bytes32 vote commitment, as uint256: one array type to decode keeps the manager within EIP-170); REARM, too few selected
    /// themselves: arm the public draw on this block (after the window); PUBLIC, draw publicly. Reverts while the
    /// window is open or before the evidence is complete.
    function take(uint256 disputeId)
        external
        returns (uint8 step, uint256[] memory members, uint256[] memory commitments);
}
