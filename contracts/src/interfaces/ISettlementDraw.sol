// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the settlement manager needs of the attester draw.
interface ISettlementDraw {
    /// Arms the first draw of a settlement (its attesters, and whether it is sampled at all) on this block, with
    /// the attester candidates frozen as they are now.
    function arm(uint256 stackId, uint256 taskId, uint256 serverNodeId) external;
    /// Arms a draw of `count` replacement attesters on this block, among the same frozen candidates.
    function armReplacement(uint256 stackId, uint8 count) external;
    /// A settlement's private self-selection.
    struct Selection {
        bytes32 seed;
        /// When the window closes; 0 until `drawAttesters` (or the first `selfSelect`) opens it.
        uint64 endsAt;
        /// A candidate asked for the sampled requests on chain: the server posts them by then (0: nobody asked).
        uint64 dataDeadline;
        /// Selection threshold, as `VrfSortition.isSelected` takes it.
        uint128 numerator;
        uint128 denominator;
        uint64[] nodeIds;
        bytes32[] commitments;
    }

    function selectionOf(uint256 stackId) external view returns (Selection memory);
    /// The request indices a private selection window's seed samples.
    function selectionIndices(uint256 stackId) external view returns (uint256[] memory);
    /// The sampled requests the open window asked the server for, and the deadline (zero: not asked).
    function dataAsked(uint256 stackId) external view returns (uint256[] memory indices, uint256 deadline);
    /// `count` distinct request indices in [0, requestCount) drawn from `seed`.
    function sampleIndices(uint256 seed, uint256 requestCount, uint256 count)
        external
        pure
        returns (uint256[] memory);
}
