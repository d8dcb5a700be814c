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
import {EcVrf} from "../vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../vrf/VrfSortition.sol";

/// @title SettlementDraw: whether a settlement is checked, and by whom, drawn where its server cannot steer it.
/// @notice A settlement (or a timeout of its attesters) arms a draw on its block and freezes the candidates: the
/// task's eligible subscribers in the server's echelon, never the server. `drawAttesters`, which anyone may call
/// in a later block, seeds the draw with the armed block's hash: with probability p the settlement is sampled, and
/// the attesters are drawn uniformly among the frozen candidates that can still attest (a node that joined,
/// subscribed or was topped up after the trigger is not among them; one whose exit notice has ended is passed
/// over, one still in its notice is not: leaving a task keeps a node a checking candidate for the notice). A draw left
/// for more than 256 blocks has lost its seed: it is re-armed on the current block, and a first draw that
/// expired samples the settlement with certainty, so a server that waits only makes its check certain.
///
/// Private self-selection (docs/vrf.md, issue 16), once governance sets a VRF key registry: the first draw is not
/// public. `drawAttesters` in a later block only opens a selection window on the seed
/// `VrfSortition.seed("atoma.vrf.attest", stackId, blockhash(armed block))`; every candidate evaluates its own VRF on
/// it, and one whose output falls under p·N/n (N/n for a settlement that must be checked) selects itself with
/// `selfSelect`, carrying its VRF proof and its attestation commitment at once. Nobody but the node can tell whether
/// it was selected, so the server learns that it is checked only when a selected attester has already committed.
/// After the window (or once `selectionCap` have selected themselves) `drawAttesters` hands the self-selected
/// attesters, committed, to the settlement manager. Nobody selected: an ordinary settlement is not checked (it
/// happens with probability (1 − pN/n)^n ≤ e^(−pN), the sampling itself); one that must be checked (p = 1, or a
/// first draw that expired: threshold N/n, so nobody selected with probability (1 − N/n)^n ≤ e^(−N)) falls back to
/// a public draw armed on a block after the window (so nobody knew its attesters while the window was open).
/// Replacement rounds stay public.
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

    /// A settlement's private self-selection.
    struct Selection {
        bytes32 seed;
        /// When the window closes; 0 until `drawAttesters` (or the first `selfSelect`) opens it.
        uint64 endsAt;
        /// Selection threshold, as `VrfSortition.isSelected` takes it.
        uint128 numerator;
        uint128 denominator;
        uint64[] nodeIds;
        bytes32[] commitments;
    }

    /// The VRF keys of private self-selection; unset, every first draw is public.
    VrfKeyRegistry public vrfKeys;
    /// Seconds a selection window stays open.
    uint64 public selectionWindow;
    /// The most attesters that may select themselves for one settlement (the committee-size bound).
    uint8 public selectionCap;

    mapping(uint256 stackId => Selection) internal _selections;

    /// The frozen attester candidates of a settlement (what `drawAttesters` must be given).
    event AttesterCandidatesFrozen(uint256 indexed stackId, uint256[] candidates);
    event AttesterDrawArmed(uint256 indexed stackId, uint64 armedAt, uint8 round, uint8 count);
    event AttesterDrawRearmed(uint256 indexed stackId, uint64 armedAt, bool certain);

    /// The selection window of `stackId` opened on `seed`: a candidate whose VRF output on it is below
    /// numerator/denominator may select itself until `endsAt`.
    event SelectionOpened(uint256 indexed stackId, bytes32 seed, uint64 endsAt, uint256 numerator, uint256 denominator);
    /// `nodeId` proved that it selected itself, and committed `commitment` (SettlementManager.commitAttestation's).
    event AttesterSelfSelected(uint256 indexed stackId, uint256 indexed nodeId, bytes32 commitment);
    /// The window closed with nobody selected on a settlement that must be checked: a public draw is armed.
    event SelectionFallback(uint256 indexed stackId, uint64 armedAt);
    event PrivateSelectionSet(address vrfKeys, uint64 window, uint8 cap);

    error NothingToDraw(uint256 stackId);
    error WrongCandidates(uint256 stackId);
    /// No selection window is open for `stackId` (not private, not opened yet, or closed).
    error SelectionNotOpen(uint256 stackId);
    error SelectionWindowOpen(uint256 stackId, uint64 endsAt);
    error SelectionFull(uint256 stackId);
    error AlreadySelected(uint256 stackId, uint256 nodeId);
    /// `nodeId` is not among the settlement's frozen candidates that can still attest (the server never is).
    error NotCandidate(uint256 stackId, uint256 nodeId);
    error NotNodeActor(uint256 nodeId, address caller);

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

    /// Turns private self-selection on (a key registry) or off (address 0). The window must close well within the
    /// keeper slack the settlement manager's span allows the draw (`SettlementManager.KEEPER_SLACK`, 1 hour).
    function setPrivateSelection(VrfKeyRegistry keys, uint64 window, uint8 cap) external onlyRole(GOVERNOR_ROLE) {
        _check(window >= 2 && window <= 30 minutes, "selectionWindow", window);
        _check(cap >= 1 && cap <= 32, "selectionCap", cap);
        vrfKeys = keys;
        selectionWindow = window;
        selectionCap = cap;
        emit PrivateSelectionSet(address(keys), window, cap);
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
        if (a.round == 0 && (address(vrfKeys) != address(0) || _selections[stackId].endsAt != 0)) {
            return _drawPrivately(stackId, a, candidates);
        }
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
        uint256[] memory chosen = _choose(stackId, candidates, seed, wanted);
        bool available = chosen.length > 0;
        if (!sampled) {
            assembly ("memory-safe") {
                mstore(chosen, 0)
            }
        }
        settlementManager.applyDraw(stackId, seed, sampled, available, task.sampleSize, chosen, new bytes32[](0));
    }

    /// Node `nodeId` selects itself as an attester of `stackId` in its open window: `proof` (with `hints`) is its
    /// VRF proof on the window's seed, under its registered key, with an output under the window's threshold;
    /// `commitment` is its attestation commitment (as `SettlementManager.commitAttestation` takes it; zero to
    /// commit there later, e.g. after declaring the transcript unavailable). Opens the window if nobody has.
    function selfSelect(
        uint256 stackId,
        uint256 nodeId,
        uint256[] calldata candidates,
        bytes calldata proof,
        EcVrf.Hints calldata hints,
        bytes32 commitment
    ) external nonReentrant {
        Armed storage a = _armed[stackId];
        Selection storage sel = _selections[stackId];
        if (sel.endsAt == 0 && a.armedAt != 0 && a.round == 0 && address(vrfKeys) != address(0)) {
            if (_open(stackId, a, candidates)) revert SelectionNotOpen(stackId);
        }
        if (sel.endsAt == 0 || block.timestamp > sel.endsAt || a.armedAt == 0 || a.round != 0) {
            revert SelectionNotOpen(stackId);
        }
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        if (!_contains(candidates, nodeId) || !_canAttest(stackManager.getStack(stackId).taskId, nodeId)) {
            revert NotCandidate(stackId, nodeId);
        }
        uint256 count = sel.nodeIds.length;
        for (uint256 i = 0; i < count; ++i) {
            if (sel.nodeIds[i] == nodeId) revert AlreadySelected(stackId, nodeId);
        }
        if (count >= selectionCap) revert SelectionFull(stackId);
        vrfKeys.proveSelection(nodeId, sel.seed, proof, hints, sel.numerator, sel.denominator);
        sel.nodeIds.push(uint64(nodeId));
        sel.commitments.push(commitment);
        emit AttesterSelfSelected(stackId, nodeId, commitment);
    }

    // ---------------------------------------------------------------- views

    function selectionOf(uint256 stackId) external view returns (Selection memory) {
        return _selections[stackId];
    }

    /// The selection threshold numerator/denominator for `candidateCount` candidates: p·N/n, or N/n when the
    /// settlement must be checked (capped at 1).
    function selectionThreshold(uint256 taskId, uint256 candidateCount, bool certain)
        public
        view
        returns (uint256 numerator, uint256 denominator)
    {
        ITaskRegistry.Task memory task = taskRegistry.getTask(taskId);
        numerator = certain ? task.attesters : uint256(task.replicationPpm) * task.attesters;
        denominator = certain ? candidateCount : PPM * candidateCount;
        if (numerator > denominator) numerator = denominator;
    }

    /// The attester candidates a settlement by `serverNodeId` on `taskId` would freeze now: the task's subscribers
    /// that can check (`INodeRegistry.NodeState.checkable`: a timeout slash does not take a node out) in the
    /// server's echelon, other than the server, those in their exit notice included.
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

    /// The first draw under private selection: opens the window, or closes it (`SelectionWindowOpen` before).
    function _drawPrivately(uint256 stackId, Armed storage a, uint256[] calldata candidates) internal {
        Selection storage sel = _selections[stackId];
        if (sel.endsAt == 0) {
            _open(stackId, a, candidates);
            return;
        }
        uint256 count = sel.nodeIds.length;
        if (block.timestamp <= sel.endsAt && count < selectionCap) revert SelectionWindowOpen(stackId, sel.endsAt);
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        ITaskRegistry.Task memory task = taskRegistry.getTask(stackManager.getStack(stackId).taskId);
        if (count == 0 && (a.certain || task.replicationPpm >= PPM)) {
            // Must be checked (p = 1, or the first draw expired) and nobody selected: a public draw of the task's
            // attesters, on a later block.
            a.armedAt = uint64(block.number);
            a.round = 1;
            a.count = task.attesters;
            emit SelectionFallback(stackId, uint64(block.number));
            emit AttesterDrawArmed(stackId, uint64(block.number), 1, task.attesters);
            return;
        }
        a.armedAt = 0;
        uint256[] memory ids = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) ids[i] = sel.nodeIds[i];
        settlementManager.applyDraw(
            stackId, uint128(uint256(sel.seed)), count > 0, true, task.sampleSize, ids, sel.commitments
        );
    }

    /// Opens the selection window of `stackId` on the armed block's hash; returns true instead when that hash is
    /// gone (re-armed on this block: a first draw that expired must then be checked, q = N/n).
    function _open(uint256 stackId, Armed storage a, uint256[] calldata candidates) internal returns (bool expired) {
        if (block.number <= a.armedAt) revert DeferredRandom.DrawTooEarly(a.armedAt, block.number);
        if (block.number - a.armedAt > DeferredRandom.HORIZON) {
            a.armedAt = uint64(block.number);
            a.certain = true;
            emit AttesterDrawRearmed(stackId, uint64(block.number), true);
            return true;
        }
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        if (candidates.length == 0) {
            // Nobody could attest: the settlement manager fails it as unverifiable.
            a.armedAt = 0;
            settlementManager.applyDraw(stackId, 0, false, false, 0, new uint256[](0), new bytes32[](0));
            return false;
        }
        Selection storage sel = _selections[stackId];
        sel.seed = VrfSortition.seed("atoma.vrf.attest", bytes32(stackId), blockhash(a.armedAt));
        sel.endsAt = uint64(block.timestamp) + selectionWindow;
        (uint256 num, uint256 den) =
            selectionThreshold(stackManager.getStack(stackId).taskId, candidates.length, a.certain);
        sel.numerator = uint128(num);
        sel.denominator = uint128(den);
        emit SelectionOpened(stackId, sel.seed, sel.endsAt, num, den);
    }

    /// Up to `wanted` candidates, in the seed's order, that can still attest and are not attesters of the
    /// settlement already.
    function _choose(
        uint256 stackId,
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
            if (_contains(taken, nodeId) || !_canAttest(taskId, nodeId)) continue;
            chosen[found++] = nodeId;
        }
        assembly ("memory-safe") {
            mstore(chosen, found)
        }
    }

    function _canAttest(uint256 taskId, uint256 nodeId) internal view returns (bool) {
        uint256[] memory one = new uint256[](1);
        one[0] = nodeId;
        INodeRegistry.NodeState memory state = nodeRegistry.nodeStates(one)[0];
        ITaskRegistry.Subscription memory sub = taskRegistry.getSubscription(taskId, nodeId);
        return state.checkable && (sub.active || block.timestamp < sub.exitAt);
    }

    function _contains(uint256[] memory list, uint256 value) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
