// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {ResultUnits} from "../common/ResultUnits.sol";
import {IConsensusDisputeOrigin, IDisputeManager, IDisputeSelection} from "../interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";
import {DisputeDraw} from "./DisputeDraw.sol";

/// @title DisputeManager: committees that recompute disputed work, owner challenges, and slashing of the losers.
/// @notice A dispute (an attester's disagreement with a revealed settlement, or n-node roots that differ) goes
/// through these steps, each with a deadline and a permissionless call that moves it on:
/// 1. Evidence (settlement disputes): the server posts the disputed owner-signed requests on-chain, each at most
///    `maxEvidenceBytes`, by `evidenceDeadline`; otherwise it loses as for fraud. Consensus prompts are on-chain.
/// 2. Draw: when the draw is armed (the dispute opens, or a new round starts) the candidates are frozen: the
///    eligible subscribers of the echelon, excluding every party (`candidatesOf`). In a later block the committee
///    is drawn from that snapshot alone (`DisputeDraw`), seeded by the hash of the block after the arming one, which
///    nobody knew when the candidates were fixed (a settlement dispute's first draw is armed again by the post that
///    completes its evidence, so the server never knows the seed while it can hold evidence back): the first
///    `committeeSize` candidates of the seed's permutation that still hold collateral (a seed nobody read within
///    the blockhash horizon is re-armed once on a new block, same candidates; a second one fails the round,
///    `DisputeDraw`). Joining after the arming
///    is too late, and leaving the task does not cost a candidate its place. With fewer than `minCommittee` it is
///    drawn again (a new snapshot) after `redrawDelay`, up to `drawRounds` times; then there is no committee and
///    the server is not paid (nobody is slashed).
/// 3. Vote: members commit H(disputeId ‖ nodeId ‖ claim ‖ work ‖ salt), where the claim is what they computed
///    and `work` = H(w_1 ‖ … ‖ w_s), w_i = H(nodeId ‖ output_i), binds the output bytes to the member. A member
///    that could not replay the data claims UNAVAILABLE and abstains; with the evidence complete on-chain (always
///    so once the vote is open) the abstention counts as a missed vote and costs the timeout share, never more.
/// 4. Reveal and show: members reveal, then post their output bytes (`substantiate`), which must hash to their
///    claim and their work. A claim not shown in time does not count and costs the member its collateral, so a
///    member that copied the server's public claim without computing cannot profit.
/// 5. Resolve: a claim wins only with a quorum: shown votes for it from a strict majority of the members DRAWN
///    (committees are odd), whoever else voted or not; the losing side is slashed in full; members that did not
///    vote lose the timeout share (to the treasury, never to the stack's owner). Without a quorum nothing is
///    decided: the server is not paid (the owner is refunded) and nobody is slashed for the claim.
/// Owner challenges of a settled root are the ChallengeManager's.
contract DisputeManager is IDisputeManager, AtomaAccess, ReentrancyGuardTransient {
    /// The claim of an attester that disagreed with the server without revealing its own result.
    bytes32 public constant DISSENT = keccak256("atoma.dissent");
    /// The claim of a member that could not obtain or replay the disputed data: an abstention, charged as a missed
    /// vote when the evidence is complete on-chain.
    bytes32 public constant UNAVAILABLE = keccak256("atoma.unavailable");
    /// The most `maxEvidenceBytes` may ever be: one such post stays far below a block's gas limit.
    uint32 public constant MAX_EVIDENCE_BYTES = 1 << 20;

    enum Kind {
        Attestation,
        /// Unused here: owner challenges moved to the ChallengeManager (the value keeps the others' numbers).
        Challenge,
        Consensus
    }

    enum Status {
        None,
        Open,
        Resolved
    }

    /// How a dispute ended.
    enum Outcome {
        None,
        /// A claim won shown votes from a strict majority of the drawn committee.
        Decided,
        /// No claim reached that quorum: the server is not paid (nor slashed), a consensus request fails.
        Undecided,
        /// No shown vote, and a member could not replay the data: the server is not paid.
        Unverifiable,
        /// The server did not post the disputed requests in time: it loses as for fraud.
        Withheld,
        /// Not enough eligible nodes for a committee: the server is not paid, nobody is slashed.
        NoCommittee
    }

    struct Params {
        /// Members drawn (odd: a quorum is a strict majority of them).
        uint8 committeeSize;
        /// The fewest members a committee may have (odd).
        uint8 minCommittee;
        /// How many times a committee is drawn before the dispute ends without one.
        uint8 drawRounds;
        uint64 commitWindow;
        /// Time to reveal and show the outputs once the reveal opens.
        uint64 revealWindow;
        /// Time the server has to post the disputed requests.
        uint64 evidenceWindow;
        /// Wait before drawing again when a committee could not be formed.
        uint64 redrawDelay;
        /// Largest request body or output a post must carry: governance may raise it, never lower it.
        uint32 maxEvidenceBytes;
    }

    struct Dispute {
        Kind kind;
        Status status;
        bool decided;
        bool drawn;
        uint8 drawRound;
        Outcome outcome;
        /// Requests (outputs) the committee recomputes: the settlement's sample, or the one consensus output.
        uint16 sampleCount;
        /// Disputed requests posted so far.
        uint16 evidenceCount;
        uint32 echelon;
        /// The block whose hash seeds the draw (the draw happens in a later one); 0 while the next round waits for
        /// `drawNotBefore`.
        uint64 drawBlock;
        uint64 drawNotBefore;
        uint64 evidenceDeadline;
        /// 0 until the vote opens (committee drawn and evidence complete).
        uint64 commitDeadline;
        uint64 revealDeadline;
        address user;
        uint256 originId;
        uint256 taskId;
        uint256 serverNodeId;
        /// The server's revealed result (settlement disputes).
        bytes32 serverResult;
        bytes32 winner;
    }

    struct Party {
        uint64 nodeId;
        bytes32 claim;
    }

    struct Member {
        uint64 nodeId;
        bool committed;
        bool revealed;
        /// Every output shown (or nothing to show: UNAVAILABLE).
        bool substantiated;
        /// Outputs shown so far.
        uint16 shown;
        bytes32 commitment;
        /// The member's claim.
        bytes32 vote;
        bytes32 work;
    }

    INodeRegistry public immutable nodeRegistry;
    ITaskRegistry public immutable taskRegistry;
    IStackManager public immutable stackManager;
    ISettlementManager public immutable settlementManager;
    /// The public draw and its seeds (created here: DisputeManager has no bytes left for it).
    DisputeDraw public immutable publicDraw;
    IConsensusDisputeOrigin public consensus;
    Params public params;

    uint256 public disputeCount;
    mapping(uint256 disputeId => Dispute) internal _disputes;
    mapping(uint256 disputeId => Party[]) internal _parties;
    mapping(uint256 disputeId => Member[]) internal _committee;
    /// The nodes the committee is drawn from, frozen when the draw was armed.
    mapping(uint256 disputeId => uint64[]) internal _candidates;
    /// Private self-selection of committees, each draw round its own window (issue 16; zero: every draw public).
    IDisputeSelection internal selection;

    event DisputeCreated(
        uint256 indexed disputeId,
        Kind indexed kind,
        uint256 indexed originId,
        uint256[] parties,
        uint64 evidenceDeadline,
        uint64 drawBlock
    );
    event DrawArmed(uint256 indexed disputeId, uint64 drawBlock);
    event DrawFailed(uint256 indexed disputeId, uint8 round, uint256 found, uint64 nextDrawAfter);
    event CommitteeDrawn(uint256 indexed disputeId, uint256[] committee);
    event EvidencePosted(uint256 indexed disputeId, uint256 position, bytes32 reqHash, EvidenceRequest request);
    /// The vote opened: committee drawn and the data it needs on-chain.
    event DisputeOpened(
        uint256 indexed disputeId,
        Kind indexed kind,
        uint256 indexed originId,
        uint256[] committee,
        uint64 commitDeadline,
        uint64 revealDeadline
    );
    event VoteCommitted(uint256 indexed disputeId, uint256 indexed nodeId);
    event VoteRevealed(uint256 indexed disputeId, uint256 indexed nodeId, bytes32 result);
    event VoteSubstantiated(uint256 indexed disputeId, uint256 indexed nodeId, uint256 shown, bool complete);
    event MemberTimedOut(uint256 indexed disputeId, uint256 indexed nodeId);
    event DisputeResolved(uint256 indexed disputeId, bool decided, bytes32 winner, uint256[] losers, Outcome outcome);
    event ParamsUpdated(Params params);

    error UnknownDispute(uint256 disputeId);
    error DisputeClosed(uint256 disputeId);
    error NotOrigin(address caller);
    error NotMember(uint256 disputeId, uint256 nodeId);
    error NotNodeActor(uint256 nodeId, address caller);
    error AlreadyCommitted(uint256 disputeId, uint256 nodeId);
    error AlreadyRevealed(uint256 disputeId, uint256 nodeId);
    error NotCommitted(uint256 disputeId, uint256 nodeId);
    error NotRevealed(uint256 disputeId, uint256 nodeId);
    error VoteNotOpen(uint256 disputeId);
    error CommitPhaseOver(uint256 disputeId);
    error RevealNotOpen(uint256 disputeId);
    error RevealPhaseOver(uint256 disputeId);
    error VoteDoesNotMatchCommitment(uint256 disputeId, uint256 nodeId);
    error InvalidCommitment();
    error InvalidClaim();
    error TooEarly(uint256 disputeId, uint256 deadline);
    error InvalidProof();
    error NothingToDraw(uint256 disputeId);
    error DrawNotReady(uint256 disputeId, uint256 drawBlock);
    error EvidenceNotExpected(uint256 disputeId);
    error EvidenceWindowOver(uint256 disputeId);
    error WrongPosition(uint256 given, uint256 expected);
    error WrongLength(uint256 given, uint256 expected);
    error TooLarge(uint256 length, uint256 max);
    error InvalidRequestSignature(uint256 position);
    error EvidenceDoesNotMatchReveal(uint256 disputeId);
    error NothingToShow(uint256 disputeId, uint256 nodeId);
    error OutputDoesNotMatchClaim(uint256 position);
    error OutputDoesNotMatchWork(uint256 position);

    constructor(
        address admin,
        INodeRegistry nodeRegistry_,
        ITaskRegistry taskRegistry_,
        IStackManager stackManager_,
        ISettlementManager settlementManager_,
        Params memory params_
    ) AtomaAccess(admin) {
        nodeRegistry = nodeRegistry_;
        taskRegistry = taskRegistry_;
        stackManager = stackManager_;
        settlementManager = settlementManager_;
        publicDraw = new DisputeDraw(nodeRegistry_);
        _setParams(params_);
    }

    /// Links the consensus contract and, when the deployment turns private committee selection on, the
    /// DisputeSelection of this manager (zero: every draw public). Once.
    function wire(IConsensusDisputeOrigin consensus_, IDisputeSelection selection_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (address(consensus) != address(0)) revert AlreadyWired();
        if (address(consensus_) == address(0)) revert ZeroAddress();
        consensus = consensus_;
        selection = selection_;
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.committeeSize % 2 == 1 && p.committeeSize <= 15, "committeeSize", p.committeeSize);
        _check(p.minCommittee % 2 == 1 && p.minCommittee <= p.committeeSize, "minCommittee", p.minCommittee);
        _check(p.drawRounds >= 1 && p.drawRounds <= 8, "drawRounds", p.drawRounds);
        _check(p.commitWindow >= 30 && p.commitWindow <= 30 days, "commitWindow", p.commitWindow);
        _check(p.revealWindow >= 30 && p.revealWindow <= 30 days, "revealWindow", p.revealWindow);
        _check(p.evidenceWindow >= 30 && p.evidenceWindow <= 30 days, "evidenceWindow", p.evidenceWindow);
        _check(p.redrawDelay >= 30 && p.redrawDelay <= 30 days, "redrawDelay", p.redrawDelay);
        // A node accepted requests up to the bound in force; lowering it could leave one it cannot post.
        _check(
            p.maxEvidenceBytes >= 1024 && p.maxEvidenceBytes <= MAX_EVIDENCE_BYTES
                && p.maxEvidenceBytes >= params.maxEvidenceBytes,
            "maxEvidenceBytes",
            p.maxEvidenceBytes
        );
        params = p;
        emit ParamsUpdated(p);
    }

    // ---------------------------------------------------------------- opening

    function openAttestationDispute(AttestationCase calldata c) external returns (uint256 disputeId) {
        if (msg.sender != address(settlementManager)) revert NotOrigin(msg.sender);
        disputeId = ++disputeCount;
        Dispute storage d = _disputes[disputeId];
        d.kind = Kind.Attestation;
        d.originId = c.stackId;
        d.taskId = c.taskId;
        d.echelon = c.echelon;
        d.user = c.user;
        d.serverNodeId = c.serverNodeId;
        d.serverResult = c.serverResult;
        d.sampleCount = settlementManager.getSettlement(c.stackId).sampleCount;
        d.evidenceDeadline = uint64(block.timestamp) + params.evidenceWindow;
        Party[] storage parties = _parties[disputeId];
        parties.push(Party({nodeId: uint64(c.serverNodeId), claim: c.serverResult}));
        for (uint256 i = 0; i < c.agreeing.length; ++i) {
            parties.push(Party({nodeId: uint64(c.agreeing[i]), claim: c.serverResult}));
        }
        for (uint256 i = 0; i < c.dissenting.length; ++i) {
            parties.push(Party({nodeId: uint64(c.dissenting[i]), claim: DISSENT}));
        }
        _create(disputeId, d);
    }

    function openConsensusDispute(
        uint256 requestId,
        uint256 taskId,
        uint32 echelon,
        address user,
        uint256[] calldata nodeIds,
        bytes32[] calldata roots
    ) external returns (uint256 disputeId) {
        if (msg.sender != address(consensus)) revert NotOrigin(msg.sender);
        disputeId = ++disputeCount;
        Dispute storage d = _disputes[disputeId];
        d.kind = Kind.Consensus;
        d.originId = requestId;
        d.taskId = taskId;
        d.echelon = echelon;
        d.user = user;
        // The prompt is on-chain already: the one output to recompute needs no evidence.
        d.sampleCount = 1;
        d.evidenceCount = 1;
        Party[] storage parties = _parties[disputeId];
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            parties.push(Party({nodeId: uint64(nodeIds[i]), claim: roots[i]}));
        }
        _create(disputeId, d);
    }

    // ---------------------------------------------------------------- draw and evidence

    /// Draws the committee once the block after the armed one (the seed block) is mined, in a later block (anyone
    /// may call). When a new round is due, or the seed expired unread the first time, this call only arms the draw.
    function drawCommittee(uint256 disputeId) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (d.drawn || d.drawRound >= params.drawRounds) revert NothingToDraw(disputeId);
        if (d.drawBlock == 0) {
            if (block.timestamp < d.drawNotBefore) revert TooEarly(disputeId, d.drawNotBefore);
            _snapshot(disputeId, d);
            _armDraw(disputeId, d);
            return;
        }
        if (block.number <= d.drawBlock + 1) revert DrawNotReady(disputeId, d.drawBlock);
        uint256[] memory commitments;
        if (address(selection) != address(0)) {
            // Private selection, every round its own window (asked first: it judges an expired seed block itself): seat
            // the self-selected (committed) members with their public top-up, or arm the top-up or public draw after
            // the window.
            uint8 step;
            uint256[] memory members;
            (step, members, commitments) = selection.take(disputeId);
            if (step == 2) _armDraw(disputeId, d);
            if (step < 3) {
                if (step == 1) _seat(disputeId, d, members, commitments);
                return;
            }
        }
        (bool rearm, uint256[] memory chosen) = publicDraw.draw(disputeId);
        if (rearm) {
            _armDraw(disputeId, d);
            return;
        }
        if (chosen.length < params.minCommittee) {
            bool last = ++d.drawRound >= params.drawRounds;
            d.drawBlock = 0;
            d.drawNotBefore = last ? 0 : uint64(block.timestamp) + params.redrawDelay;
            emit DrawFailed(disputeId, d.drawRound, chosen.length, d.drawNotBefore);
            if (last && d.evidenceCount == d.sampleCount) _end(disputeId, d, Outcome.NoCommittee, 0);
            return;
        }
        _seat(disputeId, d, chosen, commitments);
    }

    /// Seats the committee `chosen` (with `commitments`, the votes self-selected members committed; empty for a
    /// public draw) and opens the vote once the evidence is complete.
    function _seat(uint256 disputeId, Dispute storage d, uint256[] memory chosen, uint256[] memory commitments)
        internal
    {
        d.drawRound += 1;
        Member[] storage committee = _committee[disputeId];
        for (uint256 i = 0; i < chosen.length; ++i) {
            bytes32 commitment = commitments.length == 0 ? bytes32(0) : bytes32(commitments[i]);
            committee.push(
                Member({
                    nodeId: uint64(chosen[i]),
                    committed: commitment != 0,
                    revealed: false,
                    substantiated: false,
                    shown: 0,
                    commitment: commitment,
                    vote: 0,
                    work: 0
                })
            );
            nodeRegistry.addObligation(chosen[i]);
        }
        d.drawn = true;
        emit CommitteeDrawn(disputeId, chosen);
        if (d.evidenceCount == d.sampleCount) _openVote(disputeId, d);
    }

    /// Posts disputed requests from position `from` on: each owner-signed, at most `maxEvidenceBytes`, with the
    /// sampled leaf's index as nonce, and hashing to the request hash of the leaf the server revealed at its
    /// position (`reqHashes`: every revealed request hash, in sampled order, as the SettlementManager stored their
    /// digest after checking each leaf under the root). Anyone holding them may post; the server must.
    function postEvidence(
        uint256 disputeId,
        uint256 from,
        EvidenceRequest[] calldata requests,
        bytes32[] calldata reqHashes
    ) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (d.kind != Kind.Attestation || d.evidenceCount == d.sampleCount) revert EvidenceNotExpected(disputeId);
        if (block.timestamp > d.evidenceDeadline) revert EvidenceWindowOver(disputeId);
        if (from != d.evidenceCount) revert WrongPosition(from, d.evidenceCount);
        if (requests.length == 0 || from + requests.length > d.sampleCount) {
            revert WrongLength(requests.length, d.sampleCount - from);
        }
        if (
            reqHashes.length != d.sampleCount
                || keccak256(abi.encodePacked(reqHashes)) != settlementManager.revealedRequests(d.originId)
        ) {
            revert EvidenceDoesNotMatchReveal(disputeId);
        }
        address owner = stackManager.getStack(d.originId).owner;
        uint256[] memory indices = settlementManager.sampledIndices(d.originId);
        for (uint256 i = 0; i < requests.length; ++i) {
            uint256 position = from + i;
            if (requests[i].nonce != indices[position]) revert EvidenceDoesNotMatchReveal(disputeId);
            bytes32 reqHash = _checkEvidence(d.originId, owner, requests[i], position);
            if (reqHash != reqHashes[position]) revert EvidenceDoesNotMatchReveal(disputeId);
            emit EvidencePosted(disputeId, position, reqHash, requests[i]);
        }
        d.evidenceCount += uint16(requests.length);
        if (d.evidenceCount < d.sampleCount) return;
        if (d.drawn) _openVote(disputeId, d);
        else if (d.drawRound >= params.drawRounds) _end(disputeId, d, Outcome.NoCommittee, 0);
        // An armed draw (the first one always is) is seeded after the evidence is complete: the server, which chooses
        // when, cannot know it.
        else if (d.drawBlock != 0) _armDraw(disputeId, d);
    }

    // ---------------------------------------------------------------- committee

    function commitVote(uint256 disputeId, uint256 nodeId, bytes32 commitment) external {
        Dispute storage d = _open(disputeId);
        if (d.commitDeadline == 0) revert VoteNotOpen(disputeId);
        if (block.timestamp > d.commitDeadline) revert CommitPhaseOver(disputeId);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        Member storage m = _member(disputeId, nodeId);
        if (m.committed) revert AlreadyCommitted(disputeId, nodeId);
        m.committed = true;
        m.commitment = commitment;
        emit VoteCommitted(disputeId, nodeId);
    }

    /// Reveals a claim and its work once every member has committed or the commit deadline has passed. A claim of
    /// UNAVAILABLE abstains and is done; any other must then be shown with `substantiate`.
    function revealVote(uint256 disputeId, uint256 nodeId, bytes32 claim, bytes32 work, bytes32 salt) external {
        Dispute storage d = _open(disputeId);
        if (d.commitDeadline == 0) revert VoteNotOpen(disputeId);
        if (block.timestamp > d.revealDeadline) revert RevealPhaseOver(disputeId);
        if (block.timestamp <= d.commitDeadline && !_all(disputeId, false)) revert RevealNotOpen(disputeId);
        if (claim == 0 || claim == DISSENT) revert InvalidClaim();
        Member storage m = _member(disputeId, nodeId);
        if (!m.committed) revert NotCommitted(disputeId, nodeId);
        if (m.revealed) revert AlreadyRevealed(disputeId, nodeId);
        if (voteCommitment(disputeId, nodeId, claim, work, salt) != m.commitment) {
            revert VoteDoesNotMatchCommitment(disputeId, nodeId);
        }
        m.revealed = true;
        m.vote = claim;
        m.work = work;
        if (claim == UNAVAILABLE) m.substantiated = true;
        emit VoteRevealed(disputeId, nodeId, claim);
    }

    /// Outputs a member shows, from position `from` on, with every response hash and unit count it claimed
    /// (settlement disputes, whose claim is H(abi.encode(respHashes, units)); empty for consensus) and every work
    /// part.
    struct Shown {
        uint256 from;
        bytes[] outputs;
        bytes32[] respHashes;
        uint64[] units;
        bytes32[] works;
    }

    /// Shows a revealed member's outputs, each at most `maxEvidenceBytes`: each must hash to the member's response
    /// hash at its position (whose hash is the claim) — for a consensus dispute, the one output's root must be the
    /// claim — and H(nodeId ‖ output) must be the member's work part at that position.
    function substantiate(uint256 disputeId, uint256 nodeId, Shown calldata shown) external {
        Dispute storage d = _open(disputeId);
        if (d.commitDeadline == 0) revert VoteNotOpen(disputeId);
        if (block.timestamp > d.revealDeadline) revert RevealPhaseOver(disputeId);
        Member storage m = _member(disputeId, nodeId);
        if (!m.revealed) revert NotRevealed(disputeId, nodeId);
        if (m.substantiated) revert NothingToShow(disputeId, nodeId);
        uint256 from = shown.from;
        uint256 count = shown.outputs.length;
        if (from != m.shown) revert WrongPosition(from, m.shown);
        if (count == 0 || from + count > d.sampleCount) revert WrongLength(count, d.sampleCount - from);
        bytes32[] calldata works = shown.works;
        if (works.length != d.sampleCount || keccak256(abi.encodePacked(works)) != m.work) {
            revert OutputDoesNotMatchWork(from);
        }
        uint256 requestId = d.kind == Kind.Consensus ? d.originId : 0;
        bytes32[] calldata respHashes = shown.respHashes;
        if (
            requestId == 0
                && (
                    respHashes.length != d.sampleCount || shown.units.length != d.sampleCount
                        || keccak256(abi.encode(respHashes, shown.units)) != m.vote
                )
        ) {
            revert OutputDoesNotMatchClaim(from);
        }
        for (uint256 position = from; position < from + count; ++position) {
            _checkOutput(requestId, nodeId, shown, position, requestId != 0 ? m.vote : respHashes[position]);
        }
        m.shown = uint16(from + count);
        m.substantiated = m.shown == d.sampleCount;
        emit VoteSubstantiated(disputeId, nodeId, m.shown, m.substantiated);
    }

    /// Ends a dispute (anyone may call): once every member revealed and showed its outputs, or past the reveal
    /// deadline with the votes it has; before the vote, once the evidence deadline passed without the evidence,
    /// or once no committee could be drawn and the evidence is complete.
    function resolve(uint256 disputeId) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (d.commitDeadline == 0) {
            if (d.evidenceCount < d.sampleCount) {
                if (block.timestamp <= d.evidenceDeadline) revert TooEarly(disputeId, d.evidenceDeadline);
                _end(disputeId, d, Outcome.Withheld, 0);
                return;
            }
            if (d.drawn || d.drawRound < params.drawRounds) revert TooEarly(disputeId, d.drawNotBefore);
            _end(disputeId, d, Outcome.NoCommittee, 0);
            return;
        }
        if (block.timestamp <= d.revealDeadline && !_all(disputeId, true)) {
            revert TooEarly(disputeId, d.revealDeadline);
        }
        (Outcome outcome, bytes32 winner) = _tally(disputeId);
        _end(disputeId, d, outcome, winner);
    }

    // ---------------------------------------------------------------- views

    /// A member's sealed vote: H(uint256 disputeId ‖ uint256 nodeId ‖ claim ‖ work ‖ salt).
    function voteCommitment(uint256 disputeId, uint256 nodeId, bytes32 claim, bytes32 work, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(disputeId, nodeId, claim, work, salt));
    }

    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    function partiesOf(uint256 disputeId) external view returns (Party[] memory) {
        return _parties[disputeId];
    }

    function committeeOf(uint256 disputeId) external view returns (Member[] memory) {
        return _committee[disputeId];
    }

    /// The nodes the committee is (or was) drawn from: the snapshot taken when the draw was last armed.
    function candidatesOf(uint256 disputeId) external view returns (uint64[] memory) {
        return _candidates[disputeId];
    }

    // ---------------------------------------------------------------- internals

    function _open(uint256 disputeId) internal view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.status == Status.None) revert UnknownDispute(disputeId);
        if (d.status != Status.Open) revert DisputeClosed(disputeId);
    }

    function _member(uint256 disputeId, uint256 nodeId) internal view returns (Member storage) {
        Member[] storage committee = _committee[disputeId];
        for (uint256 i = 0; i < committee.length; ++i) {
            if (committee[i].nodeId == nodeId) {
                if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
                return committee[i];
            }
        }
        revert NotMember(disputeId, nodeId);
    }

    /// Whether every member has committed (or, with `done`, revealed and shown its outputs).
    function _all(uint256 disputeId, bool done) internal view returns (bool) {
        Member[] storage committee = _committee[disputeId];
        for (uint256 i = 0; i < committee.length; ++i) {
            if (done ? !committee[i].substantiated : !committee[i].committed) return false;
        }
        return true;
    }

    function _create(uint256 disputeId, Dispute storage d) internal {
        d.status = Status.Open;
        d.drawBlock = uint64(block.number);
        _snapshot(disputeId, d);
        Party[] storage parties = _parties[disputeId];
        uint256[] memory ids = new uint256[](parties.length);
        for (uint256 i = 0; i < parties.length; ++i) {
            ids[i] = parties[i].nodeId;
        }
        emit DisputeCreated(disputeId, d.kind, d.originId, ids, d.evidenceDeadline, d.drawBlock);
    }

    /// The request's hash, once its size and its owner's signature are checked.
    function _checkEvidence(uint256 stackId, address owner, EvidenceRequest calldata r, uint256 position)
        internal
        view
        returns (bytes32 reqHash)
    {
        uint256 maxBytes = params.maxEvidenceBytes;
        if (r.body.length > maxBytes) revert TooLarge(r.body.length, maxBytes);
        reqHash = keccak256(r.body);
        address signer = stackManager.recoverRequestSigner(
            AtomaTypedData.Request({
                stackId: stackId, reqHash: reqHash, nonce: r.nonce, deadline: r.deadline, maxUnits: r.maxUnits
            }),
            r.signature
        );
        if (signer == address(0) || signer != owner) revert InvalidRequestSignature(position);
    }

    /// One shown output: within the size bound, hashing (or, for a consensus request `requestId`, rooting) to
    /// `expected`, bound to the member by its work part, and (settlement disputes) carrying the units claimed for
    /// it, so that no claim can differ from an honest one by its units alone.
    function _checkOutput(
        uint256 requestId,
        uint256 nodeId,
        Shown calldata shown,
        uint256 position,
        bytes32 expected
    ) internal view {
        bytes calldata output = shown.outputs[position - shown.from];
        uint256 maxBytes = params.maxEvidenceBytes;
        if (output.length > maxBytes) revert TooLarge(output.length, maxBytes);
        bytes32 actual = requestId != 0 ? consensus.outputRoot(requestId, output) : keccak256(output);
        if (actual != expected) revert OutputDoesNotMatchClaim(position);
        if (keccak256(abi.encodePacked(nodeId, output)) != shown.works[position]) {
            revert OutputDoesNotMatchWork(position);
        }
        if (requestId == 0 && ResultUnits.unitsOf(output) != shown.units[position]) {
            revert OutputDoesNotMatchClaim(position);
        }
    }

    /// The task's subscribers of the echelon eligible now, parties excluded.
    function _eligible(uint256 disputeId, Dispute storage d) internal view returns (uint256[] memory) {
        Party[] storage parties = _parties[disputeId];
        uint256[] memory exclude = new uint256[](parties.length);
        for (uint256 i = 0; i < parties.length; ++i) {
            exclude[i] = parties[i].nodeId;
        }
        return taskRegistry.draw(
            ITaskRegistry.Draw({
                taskId: d.taskId,
                echelon: d.echelon,
                count: type(uint256).max,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: exclude,
                seed: 0,
                checking: true
            })
        );
    }

    /// Freezes the candidates of the next draw: the nodes eligible in the block whose hash will seed it.
    function _snapshot(uint256 disputeId, Dispute storage d) internal {
        uint256[] memory eligible = _eligible(disputeId, d);
        uint64[] storage list = _candidates[disputeId];
        delete _candidates[disputeId];
        for (uint256 i = 0; i < eligible.length; ++i) {
            list.push(uint64(eligible[i]));
        }
    }

    function _armDraw(uint256 disputeId, Dispute storage d) internal {
        d.drawBlock = uint64(block.number);
        emit DrawArmed(disputeId, d.drawBlock);
    }

    function _openVote(uint256 disputeId, Dispute storage d) internal {
        d.commitDeadline = uint64(block.timestamp) + params.commitWindow;
        d.revealDeadline = d.commitDeadline + params.revealWindow;
        Member[] storage committee = _committee[disputeId];
        uint256[] memory ids = new uint256[](committee.length);
        for (uint256 i = 0; i < committee.length; ++i) {
            ids[i] = committee[i].nodeId;
        }
        emit DisputeOpened(disputeId, d.kind, d.originId, ids, d.commitDeadline, d.revealDeadline);
    }

    /// The claim shown by a strict majority of the drawn committee, if any: members that abstained, did not vote
    /// or did not show count against every claim. Without a shown vote, an abstention makes the dispute
    /// unverifiable.
    function _tally(uint256 disputeId) internal view returns (Outcome outcome, bytes32 winner) {
        Member[] storage committee = _committee[disputeId];
        uint256 shown;
        uint256 best;
        bool abstained;
        for (uint256 i = 0; i < committee.length; ++i) {
            Member storage m = committee[i];
            if (!m.substantiated) continue;
            if (m.vote == UNAVAILABLE) {
                abstained = true;
                continue;
            }
            ++shown;
            uint256 count;
            for (uint256 j = 0; j < committee.length; ++j) {
                if (committee[j].substantiated && committee[j].vote == m.vote) ++count;
            }
            if (count > best) {
                best = count;
                winner = m.vote;
            }
        }
        if (best * 2 > committee.length) return (Outcome.Decided, winner);
        return (shown == 0 && abstained ? Outcome.Unverifiable : Outcome.Undecided, bytes32(0));
    }

    /// Ends the dispute: judges parties and members, slashes the losers, and reports to the origin contract.
    function _end(uint256 disputeId, Dispute storage d, Outcome outcome, bytes32 winner) internal {
        d.status = Status.Resolved;
        d.outcome = outcome;
        bool decided = outcome == Outcome.Decided;
        d.decided = decided;
        d.winner = winner;
        (uint256[] memory honest, uint256[] memory losers) = _judge(disputeId, d, outcome, winner);
        for (uint256 i = 0; i < losers.length; ++i) {
            nodeRegistry.slashFraud(losers[i], d.user, honest);
        }
        emit DisputeResolved(disputeId, decided, winner, losers, outcome);
        if (d.kind == Kind.Attestation) {
            // Dissenters are rewarded only when the server lost: a decision against it, or its withheld evidence.
            // An undecided, unverifiable or committee-less dispute pays them nothing.
            bool serverPaid = decided && winner == d.serverResult;
            bool dissentersPaid = outcome == Outcome.Withheld || (decided && !serverPaid);
            settlementManager.onDisputeResolved(d.originId, serverPaid, dissentersPaid);
        } else {
            consensus.onDisputeResolved(d.originId, decided, winner);
        }
    }

    /// Splits parties and members into honest and losing nodes. Members that did not vote are slashed the timeout
    /// share (to the treasury), and so are abstaining members when the evidence was complete on-chain (the data
    /// was there to replay); members that claimed a result they did not show lose as for fraud; every member's
    /// obligation ends.
    function _judge(uint256 disputeId, Dispute storage d, Outcome outcome, bytes32 winner)
        internal
        returns (uint256[] memory honest, uint256[] memory losers)
    {
        Party[] storage parties = _parties[disputeId];
        Member[] storage committee = _committee[disputeId];
        honest = new uint256[](parties.length + committee.length);
        losers = new uint256[](parties.length + committee.length);
        uint256 h;
        uint256 l;
        bool decided = outcome == Outcome.Decided;
        if (decided || outcome == Outcome.Withheld) {
            bool serverLost = outcome == Outcome.Withheld || (d.kind == Kind.Attestation && winner != d.serverResult);
            for (uint256 i = 0; i < parties.length; ++i) {
                bytes32 claim = parties[i].claim;
                if (claim == DISSENT ? serverLost : claim == winner) honest[h++] = parties[i].nodeId;
                else if (decided || parties[i].nodeId == d.serverNodeId) losers[l++] = parties[i].nodeId;
            }
        }
        bool voted = d.commitDeadline != 0;
        bool complete = d.evidenceCount == d.sampleCount;
        for (uint256 i = 0; i < committee.length; ++i) {
            Member storage m = committee[i];
            nodeRegistry.removeObligation(m.nodeId);
            if (!voted || (m.vote == UNAVAILABLE && !complete)) continue;
            if (!m.revealed || m.vote == UNAVAILABLE) {
                nodeRegistry.slashTimeout(m.nodeId, address(0));
                emit MemberTimedOut(disputeId, m.nodeId);
            } else if (!m.substantiated) {
                losers[l++] = m.nodeId;
            } else if (decided) {
                if (m.vote == winner) honest[h++] = m.nodeId;
                else losers[l++] = m.nodeId;
            }
        }
        assembly ("memory-safe") {
            mstore(honest, h)
            mstore(losers, l)
        }
    }
}
