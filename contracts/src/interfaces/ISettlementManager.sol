// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the dispute manager needs of the settlement manager.
interface ISettlementManager {
    enum Phase {
        None,
        Commit,
        Reveal,
        Disputed,
        Accepted,
        Finalized,
        Failed,
        TimedOut
    }

    struct Settlement {
        bytes32 root;
        bytes32 transcriptId;
        uint64 units;
        uint64 requestCount;
        uint64 deadline;
        uint64 windowEnds;
        uint64 dataDeadline;
        Phase phase;
        uint8 replacementsLeft;
        uint16 sampleCount;
        bool dataRequested;
        bool dataPosted;
        uint256 seed;
    }

    function getSettlement(uint256 stackId) external view returns (Settlement memory);
    function markChallenged(uint256 stackId) external;
    function onDisputeResolved(uint256 stackId, bool serverWon) external;
}
