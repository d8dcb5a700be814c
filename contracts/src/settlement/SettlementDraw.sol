// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {DeferredRandom} from "../common/DeferredRandom.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementDraw} from "../interfaces/ISettlementDraw.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @title SettlementDraw: whether a settlement is checked, and by whom, drawn where its server cannot steer it.
/// @notice A settlement (or a timeout of its attesters) arms a draw on its block and freezes the candidates: the
/// task's eligible subscribers in the server's echelon, never the server. `drawAttesters`, which anyone may call
/// in a later block, seeds the draw with the armed block's hash: with probability p the settlement is sampled, and
/// the attesters are drawn uniformly among the frozen candidates that can still attest (a node that joined,
/// subscribed or was topped up after the trigger is not among them; one whose exit notice has ended is passed
/// over, one still in its notice is not: leaving a task keeps a node a checking candidate for the notice). A draw left
/// for more than 256 blocks has lost its seed: it is re-armed on the current block, and a first draw that
/// expired samples the settlement with certainty, so a server that waits only makes its check certain.
contract SettlementDraw is ISettlementDraw, AtomaAccess, ReentrancyGuardTransient {
    uint256 internal constant PPM = 1_000_000;

    struct Armed {
        /// The settlement's block, where `AttesterCandidatesFrozen` lists the candidates.
        uint64 frozenAt;
        uint64 armedAt;
        /// 0 for the first draw, then one more per replacement draw.
        uint8 round;
        /// Replacements wanted (a first draw wants the task's attesters).
        uint8 count;
        /// The first draw expired once: the settlement is sampled whatever the seed.
        bool certain;
        bytes32 candidatesHash;
    }

    ISettlementManager public immutable settlementManager;
    IStackManager public immutable stackManager;
    ITaskRegistry public immutable taskRegistry;
    INodeRegistry public immutable nodeRegistry;

    mapping(uint256 stackId => Armed) internal _armed;

    /// The frozen attester candidates of a settlement (what `drawAttesters` must be given).
    event AttesterCandidatesFrozen(uint256 indexed stackId, uint256[] candidates);
    event AttesterDrawArmed(uint256 indexed stackId, uint64 armedAt, uint8 round, uint8 count);
    event AttesterDrawRearmed(uint256 indexed stackId, uint64 armedAt, bool certain);

    error NothingToDraw(uint256 stackId);
    error WrongCandidates(uint256 stackId);

    constructor(
        address admin,
        ISettlementManager settlementManager_,
        IStackManager stackManager_,
        ITaskRegistry taskRegistry_,
        INodeRegistry nodeRegistry_
    ) AtomaAccess(admin) {
        if (
            address(settlementManager_) == address(0) || address(stackManager_) == address(0)
                || address(taskRegistry_) == address(0) || address(nodeRegistry_) == address(0)
        ) revert ZeroAddress();
        settlementManager = settlementManager_;
        stackManager = stackManager_;
        taskRegistry = taskRegistry_;
        nodeRegistry = nodeRegistry_;
    }

    // ---------------------------------------------------------------- the settlement manager

    function arm(uint256 stackId, uint256 taskId, uint256 serverNodeId) external onlyRole(PROTOCOL_ROLE) {
        uint256[] memory candidates = candidatesFor(taskId, serverNodeId);
        _armed[stackId] = Armed({
            frozenAt: uint64(block.number),
            armedAt: uint64(block.number),
            round: 0,
            count: 0,
            certain: false,
            candidatesHash: keccak256(abi.encode(candidates))
        });
        emit AttesterCandidatesFrozen(stackId, candidates);
        emit AttesterDrawArmed(stackId, uint64(block.number), 0, 0);
    }

    function armReplacement(uint256 stackId, uint8 count) external onlyRole(PROTOCOL_ROLE) {
        Armed storage a = _armed[stackId];
        a.armedAt = uint64(block.number);
        a.round += 1;
        a.count = count;
        emit AttesterDrawArmed(stackId, uint64(block.number), a.round, count);
    }

    // ---------------------------------------------------------------- anyone

    /// Runs the armed draw of `stackId` with its frozen `candidates` (as `AttesterCandidatesFrozen` listed them),
    /// in a block after it was armed; re-arms it instead when its block is more than 256 blocks old.
    function drawAttesters(uint256 stackId, uint256[] calldata candidates) external nonReentrant {
        Armed storage a = _armed[stackId];
        if (a.armedAt == 0) revert NothingToDraw(stackId);
        (uint256 seed, bool expired) = DeferredRandom.seed(a.armedAt, keccak256(abi.encode(stackId, a.round)));
        if (expired) {
            a.armedAt = uint64(block.number);
            if (a.round == 0) a.certain = true;
            emit AttesterDrawRearmed(stackId, uint64(block.number), a.certain);
            return;
        }
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        a.armedAt = 0;
        ITaskRegistry.Task memory task = taskRegistry.getTask(stackManager.getStack(stackId).taskId);
        bool first = a.round == 0;
        bool sampled = !first || a.certain || seed % PPM < task.replicationPpm;
        uint256 wanted = !first ? a.count : sampled ? task.attesters : 1;
        uint256[] memory chosen = _choose(stackId, task, candidates, seed, wanted);
        bool available = chosen.length > 0;
        if (!sampled) {
            assembly ("memory-safe") {
                mstore(chosen, 0)
            }
        }
        settlementManager.applyDraw(stackId, seed, sampled, available, task.sampleSize, chosen);
    }

    // ---------------------------------------------------------------- views

    /// The attester candidates a settlement by `serverNodeId` on `taskId` would freeze now: the task's eligible
    /// subscribers (reputation at the task's minimum) in the server's echelon, other than the server, those in their
    /// exit notice included.
    function candidatesFor(uint256 taskId, uint256 serverNodeId) public view returns (uint256[] memory) {
        uint256[] memory exclude = new uint256[](1);
        exclude[0] = serverNodeId;
        return taskRegistry.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: nodeRegistry.echelonOf(serverNodeId),
                count: type(uint256).max,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: exclude,
                seed: 0,
                checking: true
            })
        );
    }

    /// `count` distinct request indices in [0, requestCount) drawn from `seed`, in the order attesters commit to
    /// them (`SettlementManager.sampledIndices`).
    function sampleIndices(uint256 seed, uint256 requestCount, uint256 count)
        external
        pure
        returns (uint256[] memory indices)
    {
        uint256 n = requestCount;
        indices = new uint256[](count);
        if (n <= 256) {
            uint256[] memory all = new uint256[](n);
            for (uint256 i = 0; i < n; ++i) all[i] = i;
            for (uint256 i = 0; i < count; ++i) {
                uint256 j = i + uint256(keccak256(abi.encode(seed, "index", i))) % (n - i);
                (all[i], all[j]) = (all[j], all[i]);
                indices[i] = all[i];
            }
            return indices;
        }
        uint256 found;
        for (uint256 j = 0; found < count; ++j) {
            uint256 candidate = uint256(keccak256(abi.encode(seed, "index", j))) % n;
            bool seen;
            for (uint256 k = 0; k < found; ++k) {
                if (indices[k] == candidate) {
                    seen = true;
                    break;
                }
            }
            if (!seen) indices[found++] = candidate;
        }
    }

    function armedOf(uint256 stackId) external view returns (Armed memory) {
        return _armed[stackId];
    }

    // ---------------------------------------------------------------- internals

    /// Up to `wanted` candidates, in the seed's order, that can still attest and are not attesters of the
    /// settlement already.
    function _choose(
        uint256 stackId,
        ITaskRegistry.Task memory task,
        uint256[] calldata candidates,
        uint256 seed,
        uint256 wanted
    ) internal view returns (uint256[] memory chosen) {
        uint256[] memory taken = settlementManager.attesterIdsOf(stackId);
        uint256 taskId = stackManager.getStack(stackId).taskId;
        chosen = new uint256[](wanted);
        uint256 found;
        uint256[] memory order = DeferredRandom.identity(candidates.length);
        for (uint256 i = 0; i < order.length && found < wanted; ++i) {
            DeferredRandom.step(order, seed, i);
            uint256 nodeId = candidates[order[i]];
            if (_contains(taken, nodeId) || !_canAttest(taskId, task.minReputation, nodeId)) continue;
            chosen[found++] = nodeId;
        }
        assembly ("memory-safe") {
            mstore(chosen, found)
        }
    }

    function _canAttest(uint256 taskId, uint8 minReputation, uint256 nodeId) internal view returns (bool) {
        uint256[] memory one = new uint256[](1);
        one[0] = nodeId;
        INodeRegistry.NodeState memory state = nodeRegistry.nodeStates(one)[0];
        ITaskRegistry.Subscription memory sub = taskRegistry.getSubscription(taskId, nodeId);
        return state.eligible && state.reputation >= minReputation && (sub.active || block.timestamp < sub.exitAt);
    }

    function _contains(uint256[] memory list, uint256 value) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
