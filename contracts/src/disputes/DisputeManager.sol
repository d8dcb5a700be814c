// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {RandomSource} from "../common/RandomSource.sol";
import {StackTree} from "../common/StackTree.sol";
import {IConsensusDisputeOrigin, IDisputeManager} from "../interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @title DisputeManager: committees that recompute disputed work, owner challenges, and slashing of the losers.
/// @notice A dispute (an attester's disagreement with a revealed settlement, or n-node roots that differ) draws a
/// fresh committee of `committeeSize` nodes of the echelon among the task's subscribers, excluding every party.
/// Members commit H(disputeId ‖ nodeId ‖ result ‖ salt), then reveal; a result with a strict majority of the
/// revealed votes wins. The losing side (parties and voters against the winner) is slashed in full, shared among
/// the user, the honest nodes and the treasury, the rest burned; members that did not vote are slashed the timeout
/// share. Past its reveal deadline a dispute resolves by the votes it has; without a majority it is
/// inconclusive and nobody is slashed for fraud. An owner's challenge — a node-signed response whose leaf is not
/// under the settled root, or whose running total shows an over-claim — is resolved by the node's Merkle proof,
/// by the signature alone, or against the node when it does not answer in time.
contract DisputeManager is IDisputeManager, AtomaAccess, RandomSource, ReentrancyGuardTransient {
    /// The claim of an attester that disagreed with the server without revealing its own result.
    bytes32 public constant DISSENT = keccak256("atoma.dissent");

    enum Kind {
        Attestation,
        Challenge,
        Consensus
    }

    enum Status {
        None,
        Open,
        Resolved
    }

    struct Params {
        uint8 committeeSize;
        uint64 commitWindow;
        uint64 revealWindow;
        /// Time the node has to prove a challenged leaf is under its root.
        uint64 answerWindow;
    }

    struct Dispute {
        Kind kind;
        Status status;
        bool decided;
        uint32 echelon;
        uint64 commitDeadline;
        uint64 revealDeadline;
        address user;
        uint256 originId;
        uint256 taskId;
        uint256 serverNodeId;
        /// The server's revealed result (attestation) or the challenged leaf (challenge).
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
        bytes32 commitment;
        bytes32 vote;
    }

    INodeRegistry public immutable nodeRegistry;
    ITaskRegistry public immutable taskRegistry;
    IStackManager public immutable stackManager;
    ISettlementManager public immutable settlementManager;
    IConsensusDisputeOrigin public consensus;
    Params public params;

    uint256 public disputeCount;
    mapping(uint256 disputeId => Dispute) internal _disputes;
    mapping(uint256 disputeId => Party[]) internal _parties;
    mapping(uint256 disputeId => Member[]) internal _committee;
    /// The leaf index an owner's challenge is about: the node must prove its leaf at that very position.
    mapping(uint256 disputeId => uint256) public challengedLeafIndex;

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
    event MemberTimedOut(uint256 indexed disputeId, uint256 indexed nodeId);
    event DisputeResolved(uint256 indexed disputeId, bool decided, bytes32 winner, uint256[] losers);
    event ChallengeOpened(
        uint256 indexed disputeId, uint256 indexed stackId, uint256 leafIndex, bytes32 leaf, uint64 answerDeadline
    );
    event ChallengeResolved(uint256 indexed disputeId, uint256 indexed stackId, bool upheld);
    event ParamsUpdated(Params params);

    error UnknownDispute(uint256 disputeId);
    error WrongKind(uint256 disputeId);
    error DisputeClosed(uint256 disputeId);
    error NotOrigin(address caller);
    error NotStackOwner(uint256 stackId, address caller);
    error NotChallengeable(uint256 stackId);
    error InvalidResponseSignature();
    error ResponseForOtherStack(uint256 stackId, uint256 responseStackId);
    error NotMember(uint256 disputeId, uint256 nodeId);
    error NotNodeActor(uint256 nodeId, address caller);
    error AlreadyCommitted(uint256 disputeId, uint256 nodeId);
    error AlreadyRevealed(uint256 disputeId, uint256 nodeId);
    error NotCommitted(uint256 disputeId, uint256 nodeId);
    error CommitPhaseOver(uint256 disputeId);
    error RevealNotOpen(uint256 disputeId);
    error RevealPhaseOver(uint256 disputeId);
    error VoteDoesNotMatchCommitment(uint256 disputeId, uint256 nodeId);
    error InvalidCommitment();
    error TooEarly(uint256 disputeId, uint256 deadline);
    error InvalidProof();

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
        _setParams(params_);
    }

    function wire(IConsensusDisputeOrigin consensus_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(consensus) != address(0)) revert AlreadyWired();
        if (address(consensus_) == address(0)) revert ZeroAddress();
        consensus = consensus_;
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.committeeSize >= 1 && p.committeeSize <= 15, "committeeSize", p.committeeSize);
        _check(p.commitWindow >= 30 && p.commitWindow <= 30 days, "commitWindow", p.commitWindow);
        _check(p.revealWindow >= 30 && p.revealWindow <= 30 days, "revealWindow", p.revealWindow);
        _check(p.answerWindow >= 30 && p.answerWindow <= 30 days, "answerWindow", p.answerWindow);
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
        Party[] storage parties = _parties[disputeId];
        parties.push(Party({nodeId: uint64(c.serverNodeId), claim: c.serverResult}));
        for (uint256 i = 0; i < c.agreeing.length; ++i) {
            parties.push(Party({nodeId: uint64(c.agreeing[i]), claim: c.serverResult}));
        }
        for (uint256 i = 0; i < c.dissenting.length; ++i) {
            parties.push(Party({nodeId: uint64(c.dissenting[i]), claim: DISSENT}));
        }
        _openVote(disputeId, d);
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
        Party[] storage parties = _parties[disputeId];
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            parties.push(Party({nodeId: uint64(nodeIds[i]), claim: roots[i]}));
        }
        _openVote(disputeId, d);
    }

    /// The stack owner presents a node-signed response. It is proof of fraud by itself when its index is beyond
    /// the settled request count, or when it is the last response and its running total is below the units
    /// claimed; otherwise the node must prove its leaf is under the root within `answerWindow`.
    function challenge(uint256 stackId, AtomaTypedData.Response calldata response, bytes calldata signature)
        external
        nonReentrant
        returns (uint256 disputeId)
    {
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        if (msg.sender != stack.owner) revert NotStackOwner(stackId, msg.sender);
        if (response.stackId != stackId) revert ResponseForOtherStack(stackId, response.stackId);
        ISettlementManager.Settlement memory st = settlementManager.getSettlement(stackId);
        if (st.phase != ISettlementManager.Phase.Accepted || block.timestamp > st.windowEnds) {
            revert NotChallengeable(stackId);
        }
        address signer = stackManager.recoverResponseSigner(response, signature);
        if (signer == address(0) || signer != nodeRegistry.signerOf(stack.nodeId)) revert InvalidResponseSignature();
        settlementManager.markChallenged(stackId);
        disputeId = ++disputeCount;
        Dispute storage d = _disputes[disputeId];
        d.kind = Kind.Challenge;
        d.status = Status.Open;
        d.originId = stackId;
        d.taskId = stack.taskId;
        d.user = stack.owner;
        d.serverNodeId = stack.nodeId;
        d.serverResult = AtomaTypedData.leafHash(AtomaTypedData.leafOf(response));
        challengedLeafIndex[disputeId] = response.leafIndex;
        d.revealDeadline = uint64(block.timestamp) + params.answerWindow;
        emit ChallengeOpened(disputeId, stackId, response.leafIndex, d.serverResult, d.revealDeadline);
        bool beyondCount = response.leafIndex >= st.requestCount;
        bool overClaim = response.leafIndex + 1 == st.requestCount && response.cumulativeUnits < st.units;
        if (beyondCount || overClaim) _resolveChallenge(disputeId, d, false);
    }

    /// The challenged node proves the leaf sits at its index under its settled root.
    function answerChallenge(uint256 disputeId, bytes32[] calldata proof) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (d.kind != Kind.Challenge) revert WrongKind(disputeId);
        if (block.timestamp > d.revealDeadline) revert RevealPhaseOver(disputeId);
        if (!nodeRegistry.isNodeActor(d.serverNodeId, msg.sender)) revert NotNodeActor(d.serverNodeId, msg.sender);
        ISettlementManager.Settlement memory st = settlementManager.getSettlement(d.originId);
        if (!StackTree.verify(proof, st.root, d.serverResult, challengedLeafIndex[disputeId], st.requestCount)) {
            revert InvalidProof();
        }
        _resolveChallenge(disputeId, d, true);
    }

    // ---------------------------------------------------------------- committee

    function commitVote(uint256 disputeId, uint256 nodeId, bytes32 commitment) external {
        Dispute storage d = _open(disputeId);
        if (block.timestamp > d.commitDeadline) revert CommitPhaseOver(disputeId);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        Member storage m = _member(disputeId, nodeId);
        if (m.committed) revert AlreadyCommitted(disputeId, nodeId);
        m.committed = true;
        m.commitment = commitment;
        emit VoteCommitted(disputeId, nodeId);
    }

    /// Reveals a vote once every member has committed or the commit deadline has passed.
    function revealVote(uint256 disputeId, uint256 nodeId, bytes32 result, bytes32 salt) external {
        Dispute storage d = _open(disputeId);
        if (block.timestamp > d.revealDeadline) revert RevealPhaseOver(disputeId);
        if (block.timestamp <= d.commitDeadline && !_all(disputeId, false)) revert RevealNotOpen(disputeId);
        Member storage m = _member(disputeId, nodeId);
        if (!m.committed) revert NotCommitted(disputeId, nodeId);
        if (m.revealed) revert AlreadyRevealed(disputeId, nodeId);
        if (voteCommitment(disputeId, nodeId, result, salt) != m.commitment) {
            revert VoteDoesNotMatchCommitment(disputeId, nodeId);
        }
        m.revealed = true;
        m.vote = result;
        emit VoteRevealed(disputeId, nodeId, result);
    }

    /// Ends a dispute: once every member revealed, or past the deadline with the votes it has. Anyone may call.
    function resolve(uint256 disputeId) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (d.kind == Kind.Challenge) {
            if (block.timestamp <= d.revealDeadline) revert TooEarly(disputeId, d.revealDeadline);
            _resolveChallenge(disputeId, d, false);
            return;
        }
        if (block.timestamp <= d.revealDeadline && !_all(disputeId, true)) {
            revert TooEarly(disputeId, d.revealDeadline);
        }
        (bool decided, bytes32 winner) = _tally(disputeId);
        d.status = Status.Resolved;
        d.decided = decided;
        d.winner = winner;
        (uint256[] memory honest, uint256[] memory losers) = _judge(disputeId, d, decided, winner);
        for (uint256 i = 0; i < losers.length; ++i) nodeRegistry.slashFraud(losers[i], d.user, honest);
        emit DisputeResolved(disputeId, decided, winner, losers);
        if (d.kind == Kind.Attestation) {
            settlementManager.onDisputeResolved(d.originId, !decided || winner == d.serverResult);
        } else {
            consensus.onDisputeResolved(d.originId, decided, winner);
        }
    }

    // ---------------------------------------------------------------- views

    function voteCommitment(uint256 disputeId, uint256 nodeId, bytes32 result, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(disputeId, nodeId, result, salt));
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

    /// Whether every member has committed (or, with `revealed`, revealed).
    function _all(uint256 disputeId, bool revealed) internal view returns (bool) {
        Member[] storage committee = _committee[disputeId];
        for (uint256 i = 0; i < committee.length; ++i) {
            if (revealed ? !committee[i].revealed : !committee[i].committed) return false;
        }
        return true;
    }

    function _openVote(uint256 disputeId, Dispute storage d) internal {
        Party[] storage parties = _parties[disputeId];
        uint256[] memory exclude = new uint256[](parties.length);
        for (uint256 i = 0; i < parties.length; ++i) exclude[i] = parties[i].nodeId;
        uint256[] memory chosen = taskRegistry.draw(
            ITaskRegistry.Draw({
                taskId: d.taskId,
                echelon: d.echelon,
                count: params.committeeSize,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: exclude,
                seed: _random(bytes32(disputeId))
            })
        );
        Member[] storage committee = _committee[disputeId];
        for (uint256 i = 0; i < chosen.length; ++i) {
            committee.push(Member({nodeId: uint64(chosen[i]), committed: false, revealed: false, commitment: 0, vote: 0}));
            nodeRegistry.addObligation(chosen[i]);
        }
        d.status = Status.Open;
        d.commitDeadline = uint64(block.timestamp) + params.commitWindow;
        d.revealDeadline = d.commitDeadline + params.revealWindow;
        emit DisputeOpened(disputeId, d.kind, d.originId, chosen, d.commitDeadline, d.revealDeadline);
    }

    /// The result with a strict majority of the revealed votes, if any.
    function _tally(uint256 disputeId) internal view returns (bool decided, bytes32 winner) {
        Member[] storage committee = _committee[disputeId];
        uint256 revealed;
        uint256 best;
        for (uint256 i = 0; i < committee.length; ++i) {
            if (!committee[i].revealed) continue;
            ++revealed;
            uint256 count;
            for (uint256 j = 0; j < committee.length; ++j) {
                if (committee[j].revealed && committee[j].vote == committee[i].vote) ++count;
            }
            if (count > best) {
                best = count;
                winner = committee[i].vote;
            }
        }
        decided = revealed > 0 && best * 2 > revealed;
        if (!decided) winner = bytes32(0);
    }

    /// Splits parties and voters into honest and losing nodes; members that did not vote are slashed the timeout
    /// share here, and every member's obligation ends.
    function _judge(uint256 disputeId, Dispute storage d, bool decided, bytes32 winner)
        internal
        returns (uint256[] memory honest, uint256[] memory losers)
    {
        Party[] storage parties = _parties[disputeId];
        Member[] storage committee = _committee[disputeId];
        honest = new uint256[](parties.length + committee.length);
        losers = new uint256[](parties.length + committee.length);
        uint256 h;
        uint256 l;
        if (decided) {
            bool serverLost = d.kind == Kind.Attestation && winner != d.serverResult;
            for (uint256 i = 0; i < parties.length; ++i) {
                bytes32 claim = parties[i].claim;
                bool right = claim == winner || (claim == DISSENT && serverLost);
                if (right) honest[h++] = parties[i].nodeId;
                else losers[l++] = parties[i].nodeId;
            }
        }
        for (uint256 i = 0; i < committee.length; ++i) {
            Member storage m = committee[i];
            nodeRegistry.removeObligation(m.nodeId);
            if (!m.revealed) {
                nodeRegistry.slashTimeout(m.nodeId, d.user);
                emit MemberTimedOut(disputeId, m.nodeId);
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

    function _resolveChallenge(uint256 disputeId, Dispute storage d, bool serverWon) internal {
        d.status = Status.Resolved;
        d.decided = true;
        if (!serverWon) nodeRegistry.slashFraud(d.serverNodeId, d.user, new uint256[](0));
        emit ChallengeResolved(disputeId, d.originId, !serverWon);
        settlementManager.onDisputeResolved(d.originId, serverWon);
    }
}
