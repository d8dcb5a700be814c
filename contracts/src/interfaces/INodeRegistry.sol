// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the other Atoma contracts need of the node registry.
interface INodeRegistry {
    enum NodeStatus {
        None,
        Active,
        Deregistered,
        Slashed
    }

    /// Laid out for the draws, which read every subscriber's eligibility: two slots (echelon, status and
    /// reputation in the operator's; collateral, bonds and registration epoch in another). Obligations stay beside
    /// the reputation, so that closing a stack writes one slot. 112 bits hold any collateral (the stake's own cap).
    struct Node {
        address operator;
        uint32 echelon;
        NodeStatus status;
        uint8 reputation;
        uint32 obligations;
        address signer;
        uint32 deregisteredEpoch;
        uint112 collateral;
        /// Collateral bonded to the node's task subscriptions (never more than the collateral when bonded).
        uint112 bonded;
        uint32 registeredEpoch;
        string url;
    }

    /// What selection needs per node, in one call for many nodes.
    struct NodeState {
        bool eligible;
        /// Can be drawn to check others (attester, committee member): active, past its registration epoch, in an
        /// approved echelon, holding collateral. Unlike `eligible`, falling below the minimum or its bonds (a
        /// timeout slash) does not take it out at once: a node cannot leave the checking pool by getting itself
        /// slashed. Such a fall puts all its subscriptions on exit notice instead (`TaskRegistry.startExitAll`),
        /// so it checks until the notice ends and no longer after.
        bool checkable;
        uint8 reputation;
        uint32 echelon;
    }

    function GENESIS() external view returns (uint256);
    function EPOCH_LENGTH() external view returns (uint256);
    function currentEpoch() external view returns (uint256);

    function getNode(uint256 nodeId) external view returns (Node memory);
    function isEligible(uint256 nodeId) external view returns (bool);
    /// Holds at least the minimum collateral and all it bonded to its subscriptions.
    function isFunded(uint256 nodeId) external view returns (bool);
    function nodeStates(uint256[] calldata nodeIds) external view returns (NodeState[] memory);
    function isNodeActor(uint256 nodeId, address account) external view returns (bool);
    function nodeIdOfSigner(address signer) external view returns (uint256);
    function signerOf(uint256 nodeId) external view returns (address);
    function operatorOf(uint256 nodeId) external view returns (address);
    function echelonOf(uint256 nodeId) external view returns (uint32);
    function isRegistered(uint256 nodeId) external view returns (bool);
    function echelonFingerprint(uint32 echelon) external view returns (bytes32);
    function stakeAt(uint256 nodeId, uint256 epoch) external view returns (uint256);

    function addObligation(uint256 nodeId) external;
    function removeObligation(uint256 nodeId) external;
    function rewardHonest(uint256 nodeId) external;
    function releaseObligation(uint256 nodeId, bool honest) external;
    function bondSubscription(uint256 nodeId, uint256 amount) external;
    function unbondSubscription(uint256 nodeId, uint256 amount) external;
    function slashTimeout(uint256 nodeId, address user) external returns (uint256 taken);
    function slashTimeoutUpTo(uint256 nodeId, address user, uint256 maxUserShare, bool penalize)
        external
        returns (uint256 taken, uint256 userShare);
    function slashFraud(uint256 nodeId, address user, uint256[] calldata honestNodeIds)
        external
        returns (uint256 taken);
}
