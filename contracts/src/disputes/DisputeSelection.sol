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
/// wiring it into DisputeManager, whose every draw round then asks `take`. Each draw round has its own window
/// (state keyed by `windowOf(disputeId, round)`), seed, seats and answers: a round that forms no committee (its
/// public top-up or draw finds too few) leaves the next round, after `redrawDelay` and a new snapshot, private too,
/// so waiting out or griefing a round never reveals the next committee. For a dispute's draw round, once a block
/// after the one that armed the draw exists and the disputed data is all on-chain (members commit what they
/// computed as they sit):
/// 1. `open` (or the manager's `drawCommittee`), from the second block after the one that froze the candidates
///    (drawBlock), fixes seed = VrfSortition.seed("atoma.vrf.dispute", window, blockhash(drawBlock + 1)), window =
///    `windowOf(disputeId, round)` (TypeScript `disputeSelectionSeed`; not the freeze block's own hash, which whoever
///    built that block could grind), the threshold N/n with N = DisputeManager's `committeeSize` and n its frozen
///    candidates (parties excluded) whose VRF keys predate drawBlock (`usableCount`; none: the public draw), capped
///    at 1 (`disputeSelectionThreshold`), and a window of `window` seconds.
/// 2. A candidate's node evaluates its VRF alone; selected, it calls `selfSelect` once with its proof AND its vote
///    commitment, so nobody learns who sits before that member's commitment is in. The proof is checked against
///    the node's VRF key, which must have been registered before drawBlock (`VrfKeyRegistry.proveSelectionAt`, else
///    `VrfKeyTooNew`: a key ground once the seed is public never sits); parties are refused even if listed; at most
///    `cap` members (odd, ≤ 15), so the majority rule runs over a bounded set. A full cap closes nothing: a later
///    proof with a lower output displaces the highest seated one (`MemberUnseated`), so the cap keeps the lowest
///    outputs whatever the order of arrival, and fast sybils cannot lock out members still recomputing.
/// 3. After the window (at least the dispute's commit window; never earlier) the members that still hold collateral
///    sit, already committed; fewer than N (or an even count) are topped up in public to N (or the next odd count)
///    from the frozen candidates, seeded by the hash of the block after the one the manager arms after the window
///    (stored by the first call that reads it, `pokeSeed`; unread past the horizon: the public draw, never a second
///    top-up seed), the top-ups committing in the vote as drawn members do. An even count with the candidates
///    exhausted leaves out the last top-up, or the self-selected member the seed scores highest, never the last
///    to arrive. Nobody seated, or no candidate at all: DisputeManager's public draw. Settlement and consensus
///    disputes select alike (a consensus dispute's prompt is on-chain from the start, so its window opens from the
///    second block after the dispute). The manager arms (again) the draw in the `postEvidence` call
///    that completes the evidence, so the server never knows the seed while it can still hold evidence back; if
///    nobody opens the window within the blockhash horizon, the draw is public (never a second private seed).
contract DisputeSelection is IDisputeSelection, ReentrancyGuardTransient {
    string internal constant PURPOSE = "atoma.vrf.dispute";
    uint256 internal constant BLOCKHASH_HORIZON = 256;
    /// `take`'s answers: the window just opened; a committee formed; arm the top-up or public draw; draw publicly.
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

    // Every draw round has its own window: the state below is keyed by `windowOf(disputeId, round)` (the dispute id
    // itself for round 0).
    mapping(uint256 window => Selection) internal _selections;
    /// Windows that did not form a committee: their round is drawn publicly.
    mapping(uint256 window => bool) public fellBack;
    /// The block that froze the round's candidates (its drawBlock when the window opened): keys must predate it.
    mapping(uint256 window => uint256) public frozenAt;
    /// The seated members' VRF outputs, in `nodeIds` order (the cap keeps the lowest).
    mapping(uint256 window => bytes32[]) internal _betas;
    /// Nodes that proved their selection in this window (seated, or seated and displaced).
    mapping(uint256 window => mapping(uint256 nodeId => bool)) public answered;
    /// Windows that ended with fewer than N members (or an even count): the next draw tops them up in public,
    /// seeded by a block armed after the window.
    mapping(uint256 window => bool) public toppingUp;
    /// The top-up's seed, stored by the first call that reads the hash of the block after the top-up was armed.
    mapping(uint256 window => bytes32) public topUpSeeds;

    /// The window of draw round `round` opened; it names nobody. `candidates` is the list it opened on (the one a
    /// report of its silence must show: the manager's list is replaced when the next round is armed).
    event CommitteeSelectionOpened(
        uint256 indexed disputeId,
        uint8 round,
        bytes32 seed,
        uint64 endsAt,
        uint256 numerator,
        uint256 denominator,
        uint64[] candidates
    );
    event MemberSelfSelected(uint256 indexed disputeId, uint8 round, uint256 indexed nodeId, bytes32 commitment);
    /// The cap was full and a lower output arrived: `nodeId` (or the newcomer itself, when its output is the
    /// highest) does not sit.
    event MemberUnseated(uint256 indexed disputeId, uint8 round, uint256 indexed nodeId);
    /// Too few selected themselves (`members` standing at the window's end): the public draw takes over.
    event SelectionFellBack(uint256 indexed disputeId, uint8 round, uint256 members);
    /// The window ended with `members` standing, fewer than N or an even count: a public draw tops them up.
    event CommitteeToppingUp(uint256 indexed disputeId, uint8 round, uint256 members);
    /// A candidate selected on the window's seed that never proved it, and would have sat, lost the timeout share.
    event SilentMemberSlashed(
        uint256 indexed disputeId, uint8 round, uint256 indexed nodeId, address reporter, uint256 taken
    );

    error BadCap(uint256 cap);
    error SelectionNotReady(uint256 disputeId);
    error SelectionAlreadyOpen(uint256 disputeId);
    error SelectionNotOpen(uint256 disputeId);
    error NotNodeActor(uint256 nodeId, address caller);
    error NotCandidate(uint256 disputeId, uint256 nodeId);
    error PartyCannotSit(uint256 disputeId, uint256 nodeId);
    error AlreadySelected(uint256 disputeId, uint256 nodeId);
    error InvalidCommitment();
    error NotDisputeManager(address caller);
    error SelectionWindowOpen(uint256 disputeId, uint64 endsAt);
    /// The node proved its selection in the window, was reported already, or would not have sat (a full cap of
    /// lower outputs): its silence cost nothing.
    error NotSilent(uint256 disputeId, uint256 nodeId);

    constructor(DisputeManager disputes_, VrfKeyRegistry vrfKeys_, uint64 window_, uint8 cap_) {
        if (cap_ == 0 || cap_ % 2 == 0 || cap_ > 15) revert BadCap(cap_);
        disputes = disputes_;
        nodeRegistry = disputes_.nodeRegistry();
        vrfKeys = vrfKeys_;
        window = window_;
        cap = cap_;
    }

    /// Opens the selection window of dispute `disputeId`'s current draw round (anyone may call): not drawn yet, a
    /// round the manager may still seat (below `drawRounds`), its draw armed and not drawn publicly, the disputed data
    /// complete on-chain, from the second block after the armed one (its successor's hash is the seed) and within the
    /// blockhash horizon.
    function open(uint256 disputeId) public {
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        uint256 w = windowOf(disputeId, d.drawRound);
        Selection storage sel = _selections[w];
        if (sel.endsAt != 0) revert SelectionAlreadyOpen(disputeId);
        (,, uint8 drawRounds, uint64 commitWindow,,,,) = disputes.params();
        if (
            d.status != DisputeManager.Status.Open || d.drawn || d.drawRound >= drawRounds || d.drawBlock == 0
                || d.evidenceCount < d.sampleCount || fellBack[w] || block.number <= d.drawBlock + 1
                || block.number > d.drawBlock + BLOCKHASH_HORIZON
        ) revert SelectionNotReady(disputeId);
        uint64[] memory candidates = disputes.candidatesOf(disputeId);
        // Only candidates whose keys predate the freeze can ever sit (`VrfKeyTooNew`): N/n counts those alone, so a
        // dispute whose other candidates hold no key still expects N members; none at all, the draw is public.
        uint256 usable = usableCount(candidates, d.drawBlock);
        if (usable == 0) revert SelectionNotReady(disputeId);
        (uint256 numerator, uint256 denominator) = threshold(usable);
        // Seeded by the window, not the dispute: a proof made for one round never sits in another.
        sel.seed = seedOf(w, blockhash(d.drawBlock + 1));
        frozenAt[w] = d.drawBlock;
        sel.candidatesHash = keccak256(abi.encode(candidates));
        // Never shorter than the dispute's commit window: an honest selected node has as long to recompute as a
        // drawn member has to commit.
        sel.endsAt = uint64(block.timestamp) + (window < commitWindow ? commitWindow : window);
        sel.numerator = numerator;
        sel.denominator = denominator;
        emit CommitteeSelectionOpened(disputeId, d.drawRound, sel.seed, sel.endsAt, numerator, denominator, candidates);
    }

    /// Node `nodeId` takes a seat in the current round's window with its VRF proof on that window's seed and its vote
    /// commitment (`DisputeManager.voteCommitment`), in one call.
    function selfSelect(
        uint256 disputeId,
        uint256 nodeId,
        bytes calldata proof,
        EcVrf.Hints calldata hints,
        bytes32 commitment
    ) external nonReentrant {
        uint8 round = currentRound(disputeId);
        uint256 w = windowOf(disputeId, round);
        Selection storage sel = _selections[w];
        if (sel.endsAt == 0 || block.timestamp > sel.endsAt) revert SelectionNotOpen(disputeId);
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        _checkSitter(disputeId, nodeId, sel.candidatesHash);
        if (answered[w][nodeId]) revert AlreadySelected(disputeId, nodeId);
        bytes32 beta =
            vrfKeys.proveSelectionAt(nodeId, frozenAt[w], sel.seed, proof, hints, sel.numerator, sel.denominator);
        answered[w][nodeId] = true;
        bytes32[] storage betas = _betas[w];
        uint256 count = sel.nodeIds.length;
        if (count < cap) {
            sel.nodeIds.push(uint64(nodeId));
            sel.commitments.push(commitment);
            betas.push(beta);
            emit MemberSelfSelected(disputeId, round, nodeId, commitment);
            return;
        }
        uint256 worst;
        for (uint256 i = 1; i < count; ++i) {
            if (betas[i] > betas[worst]) worst = i;
        }
        if (beta >= betas[worst]) {
            emit MemberUnseated(disputeId, round, nodeId);
            return;
        }
        emit MemberUnseated(disputeId, round, sel.nodeIds[worst]);
        sel.nodeIds[worst] = uint64(nodeId);
        sel.commitments[worst] = commitment;
        betas[worst] = beta;
        emit MemberSelfSelected(disputeId, round, nodeId, commitment);
    }

    /// After the window of draw round `round` (anyone may call, holding node `nodeId`'s VRF proof on that window's
    /// seed): a frozen candidate (`candidates`, the list the window opened on, as its `CommitteeSelectionOpened`
    /// carries it) that was selected (key predating the freeze block, output under the threshold) and never proved it
    /// loses the timeout share, to the treasury (no party gains), once, as a silent selected attester does
    /// (`SettlementDraw.reportSilentSelection`). Only when it would have sat: the cap was not full at the window's end,
    /// or its output is below the highest seated one (seats only ever go to lower outputs, so a node that saw a full
    /// cap of lower outputs and stayed out is never framed); a node that proved its selection in time, seated or
    /// displaced, is never slashed (`NotSilent`).
    function reportSilentSelection(
        uint256 disputeId,
        uint8 round,
        uint256 nodeId,
        uint64[] calldata candidates,
        bytes calldata proof,
        EcVrf.Hints calldata hints
    ) external nonReentrant {
        uint256 w = windowOf(disputeId, round);
        Selection storage sel = _selections[w];
        if (sel.endsAt == 0) revert SelectionNotOpen(disputeId);
        if (block.timestamp <= sel.endsAt) revert SelectionWindowOpen(disputeId, sel.endsAt);
        if (keccak256(abi.encode(candidates)) != sel.candidatesHash) revert SelectionNotOpen(disputeId);
        bool listed;
        for (uint256 i = 0; i < candidates.length && !listed; ++i) {
            listed = candidates[i] == nodeId;
        }
        if (!listed) revert NotCandidate(disputeId, nodeId);
        if (answered[w][nodeId]) revert NotSilent(disputeId, nodeId);
        bytes32 beta =
            vrfKeys.proveSelectionAt(nodeId, frozenAt[w], sel.seed, proof, hints, sel.numerator, sel.denominator);
        bytes32[] storage betas = _betas[w];
        if (betas.length >= cap) {
            bytes32 highest;
            for (uint256 i = 0; i < betas.length; ++i) {
                if (betas[i] > highest) highest = betas[i];
            }
            if (beta >= highest) revert NotSilent(disputeId, nodeId);
        }
        answered[w][nodeId] = true;
        uint256 taken = nodeRegistry.slashTimeout(nodeId, address(0));
        emit SilentMemberSlashed(disputeId, round, nodeId, msg.sender, taken);
    }

    /// Each draw round of the manager (IDisputeSelection), for that round's window: opens it when it is not yet; once
    /// it is final, hands over the members that still hold collateral with their commitments, topped up in public to N
    /// (or to the next odd count) from a block armed after the window (REARM, then FORMED); PUBLIC (the manager's
    /// public draw) for a dispute without candidates, or when nobody sat; REARM with the public draw to follow when the
    /// seed block's hash expired before anybody opened the window, or when no candidate holds a usable key (see
    /// docs/vrf.md).
    function take(uint256 disputeId)
        external
        returns (uint8 step, uint256[] memory members, uint256[] memory commitments)
    {
        if (msg.sender != address(disputes)) revert NotDisputeManager(msg.sender);
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        {
            // A round the manager can never seat opens no window.
            (,, uint8 drawRounds,,,,,) = disputes.params();
            if (d.drawRound >= drawRounds) revert SelectionNotReady(disputeId);
        }
        uint256 w = windowOf(disputeId, d.drawRound);
        if (fellBack[w]) return (PUBLIC, members, commitments);
        Selection storage sel = _selections[w];
        if (sel.endsAt == 0) {
            // Without candidates nobody can self-select: the draw is public (and fails its rounds).
            uint64[] memory candidates = disputes.candidatesOf(disputeId);
            if (candidates.length == 0) return _fallBack(disputeId, d.drawRound, 0, PUBLIC);
            // The seed block's hash is gone (nobody opened the window in 256 blocks after the evidence completed):
            // never a second private seed, which whoever kept the window shut could use as a re-roll.
            if (d.evidenceCount == d.sampleCount && block.number > d.drawBlock + BLOCKHASH_HORIZON) {
                return _fallBack(disputeId, d.drawRound, 0, REARM);
            }
            // The evidence complete, no candidate holds a key older than the freeze: nobody could sit, draw publicly,
            // on a block armed now. The seed armed by the completion is public already: the server, which chose when
            // its evidence completed, could read that committee and stall for a re-arm if it disliked it.
            if (d.evidenceCount == d.sampleCount && usableCount(candidates, d.drawBlock) == 0) {
                return _fallBack(disputeId, d.drawRound, 0, REARM);
            }
            open(disputeId);
            return (OPENED, members, commitments);
        }
        if (block.timestamp <= sel.endsAt) revert SelectionWindowOpen(disputeId, sel.endsAt);
        uint256 count = sel.nodeIds.length;
        (uint8 size, uint8 minCommittee) = IDisputeParams(address(disputes)).params();
        members = new uint256[](count + size + 1);
        commitments = new uint256[](count + size + 1);
        uint256 standing;
        for (uint256 i = 0; i < count; ++i) {
            if (!_holds(sel.nodeIds[i])) continue;
            members[standing] = sel.nodeIds[i];
            commitments[standing++] = uint256(sel.commitments[i]);
        }
        if (standing == 0) return _fallBack(disputeId, d.drawRound, 0, REARM);
        uint256 found = standing;
        uint256 want = standing < size ? size : standing | 1;
        bytes32 seed;
        if (found < want) {
            if (!toppingUp[w]) {
                // Arm the top-up's seed: the hash of the block after this one, after the window.
                emit CommitteeToppingUp(disputeId, d.drawRound, standing);
                toppingUp[w] = true;
                return (REARM, new uint256[](0), new uint256[](0));
            }
            seed = _topUpSeed(disputeId, w, d.drawBlock);
            if (seed == 0) {
                // The seed block is not mined yet: nothing to do. Or its hash is gone and nobody stored it: never a
                // second top-up seed (whoever stalled would choose between two draws), the public draw instead.
                if (block.number <= uint256(d.drawBlock) + 1) return (OPENED, members, commitments);
                return _fallBack(disputeId, d.drawRound, standing, REARM);
            }
            found = _topUp(disputeId, seed, members, standing, want);
        }
        if (found % 2 == 0) {
            // Only after a top-up ran out of candidates: the last top-up (the seed's order) is left out, or, with no
            // top-up, the self-selected member whose node id scores highest under the top-up seed: never the last to
            // arrive (a sybil sits at once, an honest member after recomputing). The order of the rest stays.
            uint256 k = found - 1;
            for (uint256 i = 0; found == standing && i < found; ++i) {
                if (keccak256(abi.encode(seed, members[i])) > keccak256(abi.encode(seed, members[k]))) k = i;
            }
            for (; k + 1 < found; ++k) {
                members[k] = members[k + 1];
                commitments[k] = commitments[k + 1];
            }
            --found;
        }
        if (found < minCommittee) return _fallBack(disputeId, d.drawRound, found, PUBLIC);
        assembly ("memory-safe") {
            mstore(members, found)
            mstore(commitments, found)
        }
        return (FORMED, members, commitments);
    }

    /// Node `nodeId` is no party and is one of the manager's candidates, which are still the window's.
    function _checkSitter(uint256 disputeId, uint256 nodeId, bytes32 candidatesHash) internal view {
        DisputeManager.Party[] memory parties = disputes.partiesOf(disputeId);
        for (uint256 i = 0; i < parties.length; ++i) {
            if (parties[i].nodeId == nodeId) revert PartyCannotSit(disputeId, nodeId);
        }
        uint64[] memory candidates = disputes.candidatesOf(disputeId);
        if (keccak256(abi.encode(candidates)) != candidatesHash) revert SelectionNotOpen(disputeId);
        bool listed;
        for (uint256 i = 0; i < candidates.length && !listed; ++i) {
            listed = candidates[i] == nodeId;
        }
        if (!listed) revert NotCandidate(disputeId, nodeId);
    }

    function _fallBack(uint256 disputeId, uint8 round, uint256 standing, uint8 step)
        internal
        returns (uint8, uint256[] memory, uint256[] memory)
    {
        fellBack[windowOf(disputeId, round)] = true;
        emit SelectionFellBack(disputeId, round, standing);
        return (step, new uint256[](0), new uint256[](0));
    }

    /// Whether node `nodeId` still holds collateral as a registered node (active or deregistered, never slashed).
    function _holds(uint256 nodeId) internal view returns (bool) {
        INodeRegistry.Node memory n = nodeRegistry.getNode(nodeId);
        return n.collateral != 0 && n.status != INodeRegistry.NodeStatus.Slashed;
    }

    /// Stores the top-up seed of dispute `disputeId`'s current round (anyone may call) once the block after the one
    /// that armed the top-up is mined and while its hash is readable, so that a later draw still finds it; returns it
    /// (zero when not topping up, not mined yet, or expired unstored).
    function pokeSeed(uint256 disputeId) external returns (bytes32) {
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        uint256 w = windowOf(disputeId, d.drawRound);
        return toppingUp[w] && !d.drawn ? _topUpSeed(disputeId, w, d.drawBlock) : bytes32(0);
    }

    function _topUpSeed(uint256 disputeId, uint256 w, uint256 armed) internal returns (bytes32 seed) {
        seed = topUpSeeds[w];
        if (seed != 0 || block.number <= armed + 1 || block.number > armed + 1 + BLOCKHASH_HORIZON) return seed;
        seed = keccak256(abi.encode(blockhash(armed + 1), disputeId, address(this)));
        topUpSeeds[w] = seed;
    }

    /// Fills `members` after its `standing` self-selected ones up to `want`, in the order a Fisher–Yates permutation
    /// of the frozen candidates seeded by `seed` (the top-up seed) gives them, skipping the seated and those without
    /// collateral, as the manager's public draw does; returns the count.
    function _topUp(uint256 disputeId, bytes32 seed, uint256[] memory members, uint256 standing, uint256 want)
        internal
        view
        returns (uint256 found)
    {
        uint64[] memory order = disputes.candidatesOf(disputeId);
        found = standing;
        for (uint256 i = 0; i < order.length && found < want; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (order.length - i);
            (order[i], order[j]) = (order[j], order[i]);
            bool seated;
            for (uint256 k = 0; k < standing && !seated; ++k) {
                seated = members[k] == order[i];
            }
            if (!seated && _holds(order[i])) members[found++] = order[i];
        }
    }

    // ---------------------------------------------------------------- views

    /// The VRF input of window `key` (`windowOf`: the dispute id for round 0) whose seed block (the one after its
    /// draw was armed) has hash `armedBlockHash`.
    function seedOf(uint256 key, bytes32 armedBlockHash) public pure returns (bytes32) {
        return VrfSortition.seed(PURPOSE, bytes32(key), armedBlockHash);
    }

    /// How many of `candidates` hold a VRF key registered before block `frozenBlock` (`VrfKeyRegistry.keyUsableAt`):
    /// the only ones that can select themselves in a window frozen there.
    function usableCount(uint64[] memory candidates, uint256 frozenBlock) public view returns (uint256 usable) {
        for (uint256 i = 0; i < candidates.length; ++i) {
            if (vrfKeys.keyUsableAt(candidates[i], frozenBlock)) ++usable;
        }
    }

    /// N/n for `candidateCount` candidates with usable keys (`usableCount`), N the DisputeManager's committee size;
    /// capped at 1.
    function threshold(uint256 candidateCount) public view returns (uint256 numerator, uint256 denominator) {
        (uint8 size,) = IDisputeParams(address(disputes)).params();
        denominator = candidateCount;
        numerator = size > candidateCount ? candidateCount : size;
    }

    /// The key of draw round `round`'s window of dispute `disputeId` in this contract's state: the dispute id for
    /// round 0 (so a dispute decided in its first round reads as it always did), a hash of both for later rounds.
    function windowOf(uint256 disputeId, uint8 round) public pure returns (uint256) {
        return round == 0 ? disputeId : uint256(keccak256(abi.encode(disputeId, round)));
    }

    /// The window of the dispute's draw round in progress, or of the round that seated its committee.
    function currentWindow(uint256 disputeId) public view returns (uint256) {
        return windowOf(disputeId, currentRound(disputeId));
    }

    /// The dispute's draw round in progress, or the round that seated its committee (`currentWindow`'s round).
    function currentRound(uint256 disputeId) public view returns (uint8) {
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        return d.drawn ? d.drawRound - 1 : d.drawRound;
    }

    /// The current window (`currentWindow`) of dispute `disputeId`.
    function selectionOf(uint256 disputeId) external view returns (Selection memory) {
        return _selections[currentWindow(disputeId)];
    }

    /// Once the current window is over (a full cap does not end it): `final_`; `formed` when at least N selected
    /// themselves (else a public draw tops them up, or takes over), with the members and their commitments.
    function committeeOf(uint256 disputeId)
        external
        view
        returns (bool final_, bool formed, uint64[] memory members, bytes32[] memory commitments)
    {
        Selection storage sel = _selections[currentWindow(disputeId)];
        members = sel.nodeIds;
        commitments = sel.commitments;
        final_ = sel.endsAt != 0 && block.timestamp > sel.endsAt;
        (uint8 size,) = IDisputeParams(address(disputes)).params();
        formed = final_ && members.length >= size;
    }
}
