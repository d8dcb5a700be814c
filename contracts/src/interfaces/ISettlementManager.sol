// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISettlementDraw} from "./ISettlementDraw.sol";

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
        TimedOut,
        /// Waiting for its attester draw (a first draw or replacements) in a later block: `SettlementDraw`.
        Drawing,
        /// The server revealed: the attesters open their commitments (result and salt) until the deadline.
        Opening
    }

    /// Packed so that an unsampled settlement takes two storage slots; the transcript id lives in the event.
    struct Settlement {
        bytes32 root;
        uint64 units;
        uint32 requestCount;
        uint64 deadline;
        uint64 windowEnds;
        Phase phase;
        uint16 sampleCount;
        uint8 replacementsLeft;
        uint64 dataDeadline;
        uint128 seed;
        bool dataRequested;
        bool dataPosted;
    }

    function getSettlement(uint256 stackId) external view returns (Settlement memory);
    function sampledIndices(uint256 stackId) external view returns (uint256[] memory);
    function draws() external view returns (ISettlementDraw);
    function revealedRequests(uint256 stackId) external view returns (bytes32);
    /// The node ids of a settlement's attesters, in the order drawn (removed ones included).
    function attesterIdsOf(uint256 stackId) external view returns (uint256[] memory);
    function applyDraw(
        uint256 stackId,
        uint256 seed,
        bool sampled,
        bool available,
        uint16 sampleSize,
        uint256[] calldata chosen,
        bytes32[] calldata commitments
    ) external;
    function markDataPosted(uint256 stackId, bytes32 postedHash) external;
    function markChallenged(uint256 stackId) external;
    /// `attestersPaid`: whether the attesters who disagreed with a losing server share the surcharge (only when a
    /// decision went against it; an undecided dispute pays them nothing).
    function onDisputeResolved(uint256 stackId, bool serverWon, bool attestersPaid) external;
    function onReceiptFraud(uint256 stackId) external returns (uint256 refunded);
    /// `ReceiptFraud` proved the stack's node signed what it did not serve (set whatever the settlement's phase).
    function fraudProven(uint256 stackId) external view returns (bool);
}
