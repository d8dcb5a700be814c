// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IDisputeParams, IDisputeSelection} from "../interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {EcVrf} from "../vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../vrf/VrfSortition.sol";
import {DisputeManager} from "./DisputeManager.sol";

/// @title DisputeSelection: a dispute's committee members select themselves in private by VRF (issue 16).
/// @notice Kept out of DisputeManager (EIP-170), as SettlementDraw is for attesters; a deployment turns it on by
/// wiring it into DisputeManager, whose first draw round then asks `take`. For a dispute in its first draw round,
/// once a block after the one that armed the draw exists and the disputed data is all on-chain (members commit
/// what they computed as they sit):
/// 1. `open` (or the manager's `drawCommittee`) fixes seed = VrfSortition.seed("atoma.vrf.dispute", disputeId, blockhash(drawBlock)) (TypeScript
///    `disputeSelectionSeed`), the threshold N/n with N = DisputeManager's `committeeSize` and n its frozen
///    candidates (parties excluded), capped at 1 (`disputeSelectionThreshold`), and a window of `window` seconds.
/// 2. A candidate's node evaluates its VRF alone; selected, it calls `selfSelect` once with its proof AND its vote
///    commitment, so nobody learns who sits before that member's commitment is in. The proof is checked against
///    the node's registered VRF key (`VrfKeyRegistry.proveSelection`); parties are refused even if listed; at most
///    `cap` members (odd, ≤ 15), so the majority rule runs over a bounded set.
/// 3. After the window (or once full) `committeeOf` is final: `formed` when at least `minCommittee` selected
///    themselves and still hold collateral; the manager's next `drawCommittee` seats them, already committed.
///    Otherwise the fallback is DisputeManager's public draw, armed on a block after the window.
contract DisputeSelection is IDisputeSelection, ReentrancyGuardTransient {
    string internal constant PURPOSE = "atoma.vrf.dispute";
    uint256 internal constant BLOCKHASH_HORIZON = 256;
    /// `take`'s answers: the window just opened; a committee formed; too few, arm the public draw; draw publicly.
    uint8 public constant OPENED = 0;
    uint8 public constant FORMED = 1;
    uint8 public constant REARM = 2;
    uint8 public constant PUBLIC = 3;

    struct Selection {
        bytes32 seed;
        bytes32 candidatesHash;
        uint64 endsAt;
        uint256 numerator;
        uint256 denominator;
        uint64[] nodeIds;
        bytes32[] commitments;
    }

    DisputeManager public immutable disputes;
    INodeRegistry public immutable nodeRegistry;
    VrfKeyRegistry public immutable vrfKeys;
    uint64 public immutable window;
    uint8 public immutable cap;

    mapping(uint256 disputeId => Selection) internal _selections;
    /// Disputes whose selection did not form a committee: their first round is drawn publicly.
    mapping(uint256 disputeId => bool) public fellBack;

    event CommitteeSelectionOpened(
        uint256 indexed disputeId, bytes32 seed, uint64 endsAt, uint256 numerator, uint256 denominator
    );
    event MemberSelfSelected(uint256 indexed disputeId, uint256 indexed nodeId, bytes32 commitment);
    /// Too few selected themselves (`members` standing at the window's end): the public draw takes over.
    event SelectionFellBack(uint256 indexed disputeId, uint256 members);

    error BadCap(uint256 cap);
    error SelectionNotReady(uint256 disputeId);
    error SelectionAlreadyOpen(uint256 disputeId);
    error SelectionNotOpen(uint256 disputeId);
    error NotNodeActor(uint256 nodeId, address caller);
    error NotCandidate(uint256 disputeId, uint256 nodeId);
    error PartyCannotSit(uint256 disputeId, uint256 nodeId);
    error AlreadySelected(uint256 disputeId, uint256 nodeId);
    error SelectionFull(uint256 disputeId);
    error InvalidCommitment();
    error NotDisputeManager(address caller);
    error SelectionWindowOpen(uint256 disputeId, uint64 endsAt);

    constructor(DisputeManager disputes_, VrfKeyRegistry vrfKeys_, uint64 window_, uint8 cap_) {
        if (cap_ == 0 || cap_ % 2 == 0 || cap_ > 15) revert BadCap(cap_);
        disputes = disputes_;
        nodeRegistry = disputes_.nodeRegistry();
        vrfKeys = vrfKeys_;
        window = window_;
        cap = cap_;
    }

    /// Opens dispute `disputeId`'s selection window (anyone may call): first draw round, not drawn publicly yet, the
    /// disputed data complete on-chain, in a block after the armed one and within the blockhash horizon.
    function open(uint256 disputeId) public {
        Selection storage sel = _selections[disputeId];
        if (sel.endsAt != 0) revert SelectionAlreadyOpen(disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        if (
            d.status != DisputeManager.Status.Open || d.drawn || d.drawRound != 0 || d.drawBlock == 0
                || d.evidenceCount < d.sampleCount || fellBack[disputeId] || block.number <= d.drawBlock || block.number > d.drawBlock + BLOCKHASH_HORIZON
        ) revert SelectionNotReady(disputeId);
        uint64[] memory candidates = disputes.candidatesOf(disputeId);
        if (candidates.length == 0) revert SelectionNotReady(disputeId);
        (uint256 numerator, uint256 denominator) = threshold(candidates.length);
        sel.seed = seedOf(disputeId, blockhash(d.drawBlock));
        sel.candidatesHash = keccak256(abi.encode(candidates));
        sel.endsAt = uint64(block.timestamp) + window;
        sel.numerator = numerator;
        sel.denominator = denominator;
        emit CommitteeSelectionOpened(disputeId, sel.seed, sel.endsAt, numerator, denominator);
    }

    /// Node `nodeId` takes a seat with its VRF proof on the dispute's seed and its vote commitment
    /// (`DisputeManager.voteCommitment`), in one call.
    function selfSelect(
        uint256 disputeId,
        uint256 nodeId,
        bytes calldata proof,
        EcVrf.Hints calldata hints,
        bytes32 commitment
    ) external nonReentrant {
        Selection storage sel = _selections[disputeId];
        if (sel.endsAt == 0 || block.timestamp > sel.endsAt) revert SelectionNotOpen(disputeId);
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        DisputeManager.Party[] memory parties = disputes.partiesOf(disputeId);
        for (uint256 i = 0; i < parties.length; ++i) {
            if (parties[i].nodeId == nodeId) revert PartyCannotSit(disputeId, nodeId);
        }
        uint64[] memory candidates = disputes.candidatesOf(disputeId);
        if (keccak256(abi.encode(candidates)) != sel.candidatesHash) revert SelectionNotOpen(disputeId);
        bool listed;
        for (uint256 i = 0; i < candidates.length && !listed; ++i) {
            listed = candidates[i] == nodeId;
        }
        if (!listed) revert NotCandidate(disputeId, nodeId);
        uint256 count = sel.nodeIds.length;
        for (uint256 i = 0; i < count; ++i) {
            if (sel.nodeIds[i] == nodeId) revert AlreadySelected(disputeId, nodeId);
        }
        if (count >= cap) revert SelectionFull(disputeId);
        vrfKeys.proveSelection(nodeId, sel.seed, proof, hints, sel.numerator, sel.denominator);
        sel.nodeIds.push(uint64(nodeId));
        sel.commitments.push(commitment);
        emit MemberSelfSelected(disputeId, nodeId, commitment);
    }

    /// The manager's first draw round (IDisputeSelection): opens the window when it is not yet; once it is final,
    /// hands over the members that still hold collateral with their commitments when at least `minCommittee`, or
    /// else falls back to the public draw (REARM once, then PUBLIC).
    function take(uint256 disputeId)
        external
        returns (uint8 step, uint256[] memory members, uint256[] memory commitments)
    {
        if (msg.sender != address(disputes)) revert NotDisputeManager(msg.sender);
        if (fellBack[disputeId]) return (PUBLIC, members, commitments);
        Selection storage sel = _selections[disputeId];
        if (sel.endsAt == 0) {
            open(disputeId);
            return (OPENED, members, commitments);
        }
        uint256 count = sel.nodeIds.length;
        if (block.timestamp <= sel.endsAt && count < cap) revert SelectionWindowOpen(disputeId, sel.endsAt);
        members = new uint256[](count);
        commitments = new uint256[](count);
        uint256 standing;
        for (uint256 i = 0; i < count; ++i) {
            INodeRegistry.Node memory n = nodeRegistry.getNode(sel.nodeIds[i]);
            if (n.collateral == 0 || n.status == INodeRegistry.NodeStatus.Slashed) continue;
            members[standing] = sel.nodeIds[i];
            commitments[standing++] = uint256(sel.commitments[i]);
        }
        (, uint8 minCommittee) = IDisputeParams(address(disputes)).params();
        if (standing == 0 || standing < minCommittee) {
            fellBack[disputeId] = true;
            emit SelectionFellBack(disputeId, standing);
            return (REARM, new uint256[](0), new uint256[](0));
        }
        assembly ("memory-safe") {
            mstore(members, standing)
            mstore(commitments, standing)
        }
        return (FORMED, members, commitments);
    }

    // ---------------------------------------------------------------- views

    /// The VRF input of dispute `disputeId` whose draw was armed on a block with hash `armedBlockHash`.
    function seedOf(uint256 disputeId, bytes32 armedBlockHash) public pure returns (bytes32) {
        return VrfSortition.seed(PURPOSE, bytes32(disputeId), armedBlockHash);
    }

    /// N/n for `candidateCount` candidates, N the DisputeManager's committee size; capped at 1.
    function threshold(uint256 candidateCount) public view returns (uint256 numerator, uint256 denominator) {
        (uint8 size,) = IDisputeParams(address(disputes)).params();
        denominator = candidateCount;
        numerator = size > candidateCount ? candidateCount : size;
    }

    function selectionOf(uint256 disputeId) external view returns (Selection memory) {
        return _selections[disputeId];
    }

    /// Once the window is over or the cap reached: `final_`; `formed` when at least `minCommittee` selected
    /// themselves (else the dispute falls back to the public draw), with the members and their commitments.
    function committeeOf(uint256 disputeId)
        external
        view
        returns (bool final_, bool formed, uint64[] memory members, bytes32[] memory commitments)
    {
        Selection storage sel = _selections[disputeId];
        members = sel.nodeIds;
        commitments = sel.commitments;
        final_ = sel.endsAt != 0 && (block.timestamp > sel.endsAt || members.length >= cap);
        (, uint8 minCommittee) = IDisputeParams(address(disputes)).params();
        formed = final_ && members.length >= minCommittee;
    }
}
