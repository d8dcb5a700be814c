// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the other Atoma contracts need of the task registry.
interface ITaskRegistry {
    enum SecurityLevel {
        None,
        CrossValidation,
        Consensus,
        Confidential
    }

    struct Task {
        bytes32 modelId;
        uint8 role;
        SecurityLevel securityLevel;
        uint8 minReputation;
        uint8 attesters;
        uint16 sampleSize;
        bool active;
        uint32 replicationPpm;
        address creator;
    }

    struct Subscription {
        uint128 pricePerMillion;
        uint64 capacity;
        uint64 reserved;
        bool active;
        /// The node's collateral bonded to this subscription: the value of its unsettled stacks never exceeds it.
        uint128 collateral;
        /// When the node is leaving the task (`active` false): the end of its notice, until which it is still a
        /// checking candidate (attester, committee) with its bond in place. 0 when not leaving.
        uint64 exitAt;
    }

    /// A draw among a task's subscribers. `echelon` of type(uint32).max means any echelon, `maxPrice` of
    /// type(uint256).max any price, and `units` of 0 no capacity condition. `checking` draws (attester and
    /// committee candidates) also take subscriptions still in their exit notice; a draw for new work (a stack's
    /// node, a consensus seat, the peers counted at a purchase) takes only active ones.
    struct Draw {
        uint256 taskId;
        uint32 echelon;
        uint256 count;
        uint256 maxPrice;
        uint64 units;
        uint256[] exclude;
        uint256 seed;
        bool checking;
    }

    /// A subscriber that may take new work on a task now, as a purchase sees it (`offers`): its echelon, its
    /// price, and whether it is offered at the purchase's cap and units (price at most the cap, room for the units
    /// within its capacity and its subscription's bond).
    struct Offer {
        uint64 nodeId;
        uint32 echelon;
        bool offered;
        uint128 pricePerMillion;
    }

    function getTask(uint256 taskId) external view returns (Task memory);
    function getSubscription(uint256 taskId, uint256 nodeId) external view returns (Subscription memory);
    function draw(Draw calldata d) external view returns (uint256[] memory nodeIds);
    /// In one pass, the subscribers a draw for new work at any price and capacity would take, each as an `Offer`
    /// at `maxPrice` and `units`.
    function offers(uint256 taskId, uint64 units, uint256 maxPrice) external view returns (Offer[] memory pool);
    /// True unless the task is confidential and the attestation registry does not accept the node now.
    function attested(uint256 taskId, uint256 nodeId) external view returns (bool);
    /// As `attested`, but reverts with the attestation registry's reason.
    function checkAttested(uint256 taskId, uint256 nodeId) external view;
    function reserve(uint256 taskId, uint256 nodeId, uint64 units) external;
    function release(uint256 taskId, uint256 nodeId, uint64 units) external;
    function removeBarred(uint256 taskId, uint256 nodeId) external;
    /// Every active subscription of the node starts its exit notice (its collateral fell below the minimum or its
    /// bonds).
    function startExitAll(uint256 nodeId) external;
    /// Seconds a node stays bound after it leaves: a subscription's exit notice, and the wait before collateral is
    /// withdrawable after deregistration and after the node's last obligation.
    function exitNotice() external view returns (uint64);
    /// Whether every one of `nodeIds` holds an active subscription to `taskId` (reads only that of each).
    function allActive(uint256 taskId, uint256[] calldata nodeIds) external view returns (bool);
    /// Whether the node ever subscribed to a confidential task (security level 3): only such a node can have served
    /// a stack a lying attestation statement refunds, so only its collateral waits for the refund window.
    function tookConfidential(uint256 nodeId) external view returns (bool);
}
