// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {Units} from "../common/Units.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {IDisputeManager} from "../interfaces/IDisputeManager.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementDraw} from "../interfaces/ISettlementDraw.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";
import {RevealVerifier} from "./RevealVerifier.sol";

/// The evidence contract's check of revealed units against the bounds the owner signed with the posted requests.
interface IPostedBounds {
    function checkRevealedUnits(uint256 stackId, uint64[] calldata units) external view;
}

/// @title SettlementManager: cross-validated settlement of stacks (ARCHITECTURE.md, "Settlement of a stack").
/// @notice The serving node submits the root of its positional stack tree (leaves H(leafIndex, nonce, reqHash,
/// respHash, units, cumulativeUnits)), the units used and the inputs-transcript blob id. On a verified task the
/// settlement then waits for its draw (`SettlementDraw`, a later block, so the server cannot steer it): with
/// probability p (the task's `replicationPpm`) attesters of the server's echelon are drawn among the task's
/// subscribers (never the server, never twice) with request indices to check. Attesters commit H(nodeId, result,
/// salt) with result = H(respHashes, units) of the sampled indices and a secret salt, so no peer can test another's
/// commitment against the server's claim; then the server reveals the sampled leaves and its last one with proofs
/// (`RevealVerifier` checks their positions, nonces and running totals), and each attester opens its commitment
/// (its result and salt) within the reveal window. Agreement settles after the owner's challenge window;
/// disagreement goes to the dispute manager; an attester that committed and does not open is slashed in full.
/// Work no attester could be drawn for is never paid (the owner is refunded, the server not slashed). Every phase has a
/// deadline and a permissionless function that moves it on, so no escrow stays locked. Node obfuscation is not
/// implemented: the sampled attesters are public. `settlementSpan` bounds the time from a settlement to the
/// dispute it may open (its committee frozen); with the stack's own path it must fit the task registry's exit
/// notice, which `_setParams` checks (against the longest windows ever set, which stacks in flight may use).
contract SettlementManager is ISettlementManager, AtomaAccess, ReentrancyGuardTransient {
    uint256 internal constant PPM = 1_000_000;
    uint256 internal constant BPS = 10_000;
    uint256 public constant MAX_REQUESTS = type(uint32).max;
    /// Time allowed for a keeper to make a permissionless draw or deadline call (the draws re-arm every 256 blocks).
    uint256 public constant KEEPER_SLACK = 1 hours;

    /// Why a settlement failed verification.
    uint8 public constant FAIL_NO_REVEAL = 1;
    uint8 public constant FAIL_DATA_WITHHELD = 2;
    uint8 public constant FAIL_DISPUTE_LOST = 3;
    uint8 public constant FAIL_FRAUD_PROVEN = 4;
    /// No attester could be drawn (none left in the server's echelon): the work cannot be checked, so it is not
    /// paid; nobody is slashed.
    uint8 public constant FAIL_UNVERIFIABLE = 5;

    struct Params {
        uint64 commitWindow;
        uint64 revealWindow;
        /// Time the server has to post the sampled requests once an attester declares the transcript unfetchable.
        uint64 dataWindow;
        /// The owner's challenge window after a settlement is accepted.
        uint64 disputeWindow;
        uint8 maxReplacements;
    }

    struct Attester {
        uint64 nodeId;
        bool committed;
        bool removed;
        bool agreed;
        /// Declared the transcript unavailable: its share of the surcharge is its bond, lost (to the treasury)
        /// if the server then posts the sampled requests.
        bool declared;
        /// Opened its commitment after the server's reveal (`agreed` then says whether its result is the server's).
        bool opened;
        bytes32 commitment;
    }

    IStackManager public immutable stackManager;
    ITaskRegistry public immutable taskRegistry;
    INodeRegistry public immutable nodeRegistry;
    IModelRegistry public immutable modelRegistry;
    IAtomaVault public immutable vault;
    RevealVerifier public immutable revealVerifier;
    IDisputeManager public disputeManager;
    ISettlementDraw public draws;
    /// The contract the server posts the sampled requests to (`SettlementEvidence`).
    address public evidence;
    Params public params;
    /// Each window and `maxReplacements` at the highest it was ever set: what a settlement in flight may still use.
    Params public longest;

    mapping(uint256 stackId => Settlement) internal _settlements;
    mapping(uint256 stackId => Attester[]) internal _attesters;
    mapping(uint256 stackId => bytes32) public postedRequestsHash;
    mapping(uint256 stackId => bytes32) public revealedResult;
    /// H(reqHash_k ‖ … for the sampled k) of the revealed leaves: what dispute evidence must match.
    mapping(uint256 stackId => bytes32) public revealedRequests;
    /// Stacks whose node was proven to have signed what it did not serve (`ReceiptFraud`): never paid.
    mapping(uint256 stackId => bool) public fraudProven;

    event SettlementSubmitted(
        uint256 indexed stackId,
        uint256 indexed nodeId,
        bytes32 root,
        uint64 units,
        uint64 requestCount,
        bytes32 transcriptId
    );
    event AttesterDrawPending(uint256 indexed stackId);
    event AttestersSampled(
        uint256 indexed stackId, uint256[] attesters, uint256[] requestIndices, uint64 commitDeadline
    );
    event AttestationSkipped(uint256 indexed stackId);
    event AttestationCommitted(uint256 indexed stackId, uint256 indexed nodeId);
    event TranscriptUnavailable(uint256 indexed stackId, uint256 indexed nodeId, uint64 dataDeadline);
    event SampledRequestsPosted(uint256 indexed stackId, bytes32 postedHash);
    event RevealOpened(uint256 indexed stackId, uint64 revealDeadline);
    /// `result` is H(abi.encode(respHashes, units)) of the sampled leaves (they are in the reveal's calldata); the
    /// attesters open their commitments until `openDeadline`.
    event SettlementRevealed(uint256 indexed stackId, bytes32 result, uint64 openDeadline);
    event AttestationOpened(uint256 indexed stackId, uint256 indexed nodeId, bytes32 result);
    /// The opened commitments compared with the server's result (those that did not open were timed out).
    event AttestationsCompared(uint256 indexed stackId, uint256[] agreeing, uint256[] dissenting);
    event SettlementAccepted(uint256 indexed stackId, uint64 windowEnds);
    event SettlementDisputed(uint256 indexed stackId, uint256 indexed disputeId);
    /// Removed for silence: slashed the timeout share if it never committed, in full if it committed and did not
    /// open (the node registry's `NodeSlashed` tells which).
    event AttesterTimedOut(uint256 indexed stackId, uint256 indexed nodeId);
    event AttesterReplaced(uint256 indexed stackId, uint256 indexed nodeId, uint64 commitDeadline);
    event SettlementFinalized(
        uint256 indexed stackId,
        uint256 indexed nodeId,
        uint256 nodeAmount,
        uint256 modelAmount,
        uint256 attesterAmountEach,
        uint256 refunded,
        uint256 attestersPaid
    );
    /// `attestersPaid`: what the attesters who were right shared (bonds forfeited to the treasury excluded).
    event SettlementFailed(
        uint256 indexed stackId, uint256 indexed nodeId, uint8 reason, uint256 refunded, uint256 attestersPaid
    );
    event SettlementTimedOut(uint256 indexed stackId, uint256 indexed nodeId, uint256 refunded);
    event ParamsUpdated(Params params);

    error StackNotActive(uint256 stackId);
    error NotServingNode(uint256 stackId, address caller);
    error NotAttester(uint256 stackId, uint256 nodeId);
    error NotNodeActor(uint256 nodeId, address caller);
    error InvalidSettlement();
    error WrongPhase(uint256 stackId, Phase phase);
    error DeadlinePassed(uint256 stackId, uint256 deadline);
    error DeadlineNotPassed(uint256 stackId, uint256 deadline);
    error AlreadyCommitted(uint256 stackId, uint256 nodeId);
    error InvalidCommitment();
    /// The result and salt do not hash to the attester's commitment, or it has nothing (more) to open.
    error WrongOpening(uint256 stackId, uint256 nodeId);
    error AlreadyDeclared(uint256 stackId, uint256 nodeId);
    error DataNotRequested(uint256 stackId);
    error DataPending(uint256 stackId);
    error WrongLength(uint256 given, uint256 expected);
    error RevealDoesNotMatchPostedRequests(uint256 stackId);
    error InvalidProof(uint256 index);
    error ChallengeWindowOpen(uint256 stackId, uint64 windowEnds);

    constructor(
        address admin,
        IStackManager stackManager_,
        ITaskRegistry taskRegistry_,
        INodeRegistry nodeRegistry_,
        IModelRegistry modelRegistry_,
        IAtomaVault vault_,
        Params memory params_
    ) AtomaAccess(admin) {
        stackManager = stackManager_;
        taskRegistry = taskRegistry_;
        nodeRegistry = nodeRegistry_;
        modelRegistry = modelRegistry_;
        vault = vault_;
        revealVerifier = new RevealVerifier();
        _setParams(params_);
    }

    function wire(IDisputeManager disputeManager_, ISettlementDraw draws_, address evidence_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (address(disputeManager) != address(0)) revert AlreadyWired();
        if (address(disputeManager_) == address(0) || address(draws_) == address(0) || evidence_ == address(0)) {
            revert ZeroAddress();
        }
        disputeManager = disputeManager_;
        draws = draws_;
        evidence = evidence_;
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.commitWindow >= 30 && p.commitWindow <= 30 days, "commitWindow", p.commitWindow);
        _check(p.revealWindow >= 30 && p.revealWindow <= 30 days, "revealWindow", p.revealWindow);
        _check(p.dataWindow >= 30 && p.dataWindow <= 30 days, "dataWindow", p.dataWindow);
        _check(p.disputeWindow >= 30 && p.disputeWindow <= 30 days, "disputeWindow", p.disputeWindow);
        _check(p.maxReplacements <= 8, "maxReplacements", p.maxReplacements);
        params = p;
        Params storage l = longest;
        if (p.commitWindow > l.commitWindow) l.commitWindow = p.commitWindow;
        if (p.revealWindow > l.revealWindow) l.revealWindow = p.revealWindow;
        if (p.dataWindow > l.dataWindow) l.dataWindow = p.dataWindow;
        if (p.maxReplacements > l.maxReplacements) l.maxReplacements = p.maxReplacements;
        stackManager.checkExitNotice(settlementSpan());
        emit ParamsUpdated(p);
    }

    /// The longest time from a settlement to the moment its dispute opens and freezes its committee: the attester
    /// draw, a commit window stretched once by the data window, each replacement round (draw, commit, timeout
    /// call), the reveal window, then the attesters' opening window (the same length) and the timeout call that
    /// closes it; each permissionless call given `KEEPER_SLACK`.
    function settlementSpan() public view returns (uint256) {
        Params storage l = longest;
        return (uint256(l.maxReplacements) + 1) * (l.commitWindow + 2 * KEEPER_SLACK) + l.dataWindow + l.commitWindow
            + 2 * uint256(l.revealWindow) + KEEPER_SLACK;
    }

    // ---------------------------------------------------------------- the serving node

    /// Submits the stack's settlement: Merkle root of the leaves, units used (at most those bought), the number
    /// of requests served, and the blob id of the inputs transcript. Only the serving node, by the deadline.
    function settle(uint256 stackId, bytes32 root, uint64 units, uint64 requestCount, bytes32 transcriptId)
        external
        nonReentrant
    {
        _settle(stackId, root, units, requestCount, transcriptId);
    }

    /// One stack's settlement, for `settleMany`.
    struct SettlementInput {
        uint256 stackId;
        bytes32 root;
        uint64 units;
        uint64 requestCount;
        bytes32 transcriptId;
    }

    /// Several settlements in one transaction (each as `settle`), which a node uses to spread the fixed cost.
    function settleMany(SettlementInput[] calldata inputs) external nonReentrant {
        for (uint256 i = 0; i < inputs.length; ++i) {
            SettlementInput calldata s = inputs[i];
            _settle(s.stackId, s.root, s.units, s.requestCount, s.transcriptId);
        }
    }

    function _settle(uint256 stackId, bytes32 root, uint64 units, uint64 requestCount, bytes32 transcriptId)
        internal
    {
        if ((units > 0 && requestCount == 0) || (requestCount > 0 && root == 0) || requestCount > MAX_REQUESTS) {
            revert InvalidSettlement();
        }
        IStackManager.Stack memory stack = stackManager.markSettling(stackId, msg.sender, units);
        Settlement storage st = _settlements[stackId];
        st.root = root;
        st.units = units;
        st.requestCount = uint32(requestCount);
        emit SettlementSubmitted(stackId, stack.nodeId, root, units, requestCount, transcriptId);
        if (requestCount == 0 || stack.securityLevel != uint8(ITaskRegistry.SecurityLevel.CrossValidation)) {
            _accept(stackId, st);
            return;
        }
        st.phase = Phase.Drawing;
        draws.arm(stackId, stack.taskId, stack.nodeId);
        emit AttesterDrawPending(stackId);
    }

    /// Reveals the sampled leaves (in the order of `sampledIndices`) and the stack's last leaf, each with its
    /// positional proof against the root: `revealed` is an ABI-encoded `RevealVerifier.Reveal`.
    function reveal(uint256 stackId, bytes calldata revealed) external nonReentrant {
        Settlement storage st = _settlements[stackId];
        if (st.phase != Phase.Reveal) revert WrongPhase(stackId, st.phase);
        if (block.timestamp > st.deadline) revert DeadlinePassed(stackId, st.deadline);
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        _onlyActor(stack.nodeId, stackId);
        RevealVerifier.Revealed memory r = revealVerifier.verify(
            RevealVerifier.Settled({root: st.root, requestCount: st.requestCount, units: st.units}),
            sampledIndices(stackId),
            revealed
        );
        if (st.dataPosted) {
            if (r.reqHashesDigest != postedRequestsHash[stackId]) revert RevealDoesNotMatchPostedRequests(stackId);
            // A leaf above its owner-signed bound cannot be revealed: the server fails verification (fraud).
            IPostedBounds(evidence).checkRevealedUnits(stackId, r.units);
        }
        revealedResult[stackId] = r.result;
        revealedRequests[stackId] = r.reqHashesDigest;
        st.phase = Phase.Opening;
        st.deadline = uint64(block.timestamp) + params.revealWindow;
        emit SettlementRevealed(stackId, r.result, st.deadline);
    }

    /// Every attester still assigned has opened, or the others timed out: the opened results are compared with the
    /// server's. All agree: accepted. Any dissent: a dispute between the two sides. None opened: nobody checked the
    /// work, which is not paid (as when no attester commits).
    function _conclude(uint256 stackId, Settlement storage st) internal {
        uint256[] memory agreeing = _attesterIds(stackId, AGREED);
        uint256[] memory dissenting = _attesterIds(stackId, DISSENTED);
        emit AttestationsCompared(stackId, agreeing, dissenting);
        if (agreeing.length + dissenting.length == 0) return _unverifiable(stackId, st);
        if (dissenting.length == 0) {
            _releaseAttesters(stackId);
            return _accept(stackId, st);
        }
        st.phase = Phase.Disputed;
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        uint256 disputeId = disputeManager.openAttestationDispute(
            IDisputeManager.AttestationCase({
                stackId: stackId,
                taskId: stack.taskId,
                echelon: nodeRegistry.echelonOf(stack.nodeId),
                user: stack.owner,
                serverNodeId: stack.nodeId,
                serverResult: revealedResult[stackId],
                agreeing: agreeing,
                dissenting: dissenting
            })
        );
        emit SettlementDisputed(stackId, disputeId);
    }

    // ---------------------------------------------------------------- attesters

    /// Commits c = H(abi.encode(uint256 nodeId, bytes32 result, bytes32 salt)), where result = H(abi.encode(bytes32[]
    /// respHashes, uint64[] units)) of what the attester recomputed at the sampled indices, in order, and salt a
    /// secret the attester keeps until it opens (`openAttestation`).
    function commitAttestation(uint256 stackId, uint256 nodeId, bytes32 commitment) external {
        Settlement storage st = _settlements[stackId];
        if (st.phase != Phase.Commit) revert WrongPhase(stackId, st.phase);
        if (block.timestamp > st.deadline) revert DeadlinePassed(stackId, st.deadline);
        if (commitment == bytes32(0)) revert InvalidCommitment();
        Attester storage a = _attesterOf(stackId, nodeId);
        if (a.committed) revert AlreadyCommitted(stackId, nodeId);
        a.committed = true;
        a.commitment = commitment;
        emit AttestationCommitted(stackId, nodeId);
        Attester[] storage list = _attesters[stackId];
        for (uint256 i = 0; i < list.length; ++i) {
            if (!list[i].removed && !list[i].committed) return;
        }
        _openReveal(stackId, st);
    }

    /// After the server's reveal, an attester shows what it committed to: its result and salt. A result that is the
    /// server's agrees, any other dissents. Once every attester still assigned has opened, the results are
    /// compared; those that do not open by the deadline are slashed in full (`timeoutAttesters`).
    function openAttestation(uint256 stackId, uint256 nodeId, bytes32 result, bytes32 salt) external nonReentrant {
        Settlement storage st = _settlements[stackId];
        if (st.phase != Phase.Opening) revert WrongPhase(stackId, st.phase);
        if (block.timestamp > st.deadline) revert DeadlinePassed(stackId, st.deadline);
        Attester storage a = _attesterOf(stackId, nodeId);
        if (a.opened || a.commitment != keccak256(abi.encode(nodeId, result, salt))) {
            revert WrongOpening(stackId, nodeId);
        }
        a.opened = true;
        a.agreed = result == revealedResult[stackId];
        emit AttestationOpened(stackId, nodeId, result);
        Attester[] storage list = _attesters[stackId];
        for (uint256 i = 0; i < list.length; ++i) {
            if (!list[i].removed && !list[i].opened) return;
        }
        _conclude(stackId, st);
    }

    /// An attester cannot fetch the inputs transcript: the server must post the sampled requests in time. The
    /// declaration is bonded with the attester's share of the surcharge, which it loses if the server posts.
    function declareTranscriptUnavailable(uint256 stackId, uint256 nodeId) external {
        Settlement storage st = _settlements[stackId];
        if (st.phase != Phase.Commit) revert WrongPhase(stackId, st.phase);
        if (block.timestamp > st.deadline) revert DeadlinePassed(stackId, st.deadline);
        Attester storage a = _attesterOf(stackId, nodeId);
        if (a.declared || a.committed || st.dataPosted) revert AlreadyDeclared(stackId, nodeId);
        a.declared = true;
        if (!st.dataRequested) {
            Params memory p = params;
            st.dataRequested = true;
            st.dataDeadline = uint64(block.timestamp) + p.dataWindow;
            uint64 commitBy = st.dataDeadline + p.commitWindow;
            if (commitBy > st.deadline) st.deadline = commitBy;
        }
        emit TranscriptUnavailable(stackId, nodeId, st.dataDeadline);
    }

    /// The evidence contract holds every sampled request the server was asked for: `postedHash` is the hash of
    /// their request hashes in sampled order, which the reveal must match.
    function markDataPosted(uint256 stackId, bytes32 postedHash) external {
        if (msg.sender != evidence) revert NotWired();
        Settlement storage st = _settlements[stackId];
        postedRequestsHash[stackId] = postedHash;
        st.dataPosted = true;
        emit SampledRequestsPosted(stackId, postedHash);
    }

    /// The draw (`SettlementDraw`) ran: `available` says whether any attester could be drawn at all, `sampled`
    /// whether this settlement is checked (with `sampleSize` requests), `chosen` the attesters drawn (a first
    /// draw, or replacements); `commitments[i]`, when given and non-zero, is what `chosen[i]` committed as it
    /// selected itself by VRF (`SettlementDraw.selfSelect`): it counts as its `commitAttestation`.
    function applyDraw(
        uint256 stackId,
        uint256 seed,
        bool sampled,
        bool available,
        uint16 sampleSize,
        uint256[] calldata chosen,
        bytes32[] calldata commitments
    ) external {
        if (msg.sender != address(draws)) revert NotWired();
        Settlement storage st = _settlements[stackId];
        // A receipt fraud proven while the draw was pending failed the settlement: the draw has nothing to do.
        if (st.phase == Phase.Failed) return;
        if (st.phase != Phase.Drawing) revert WrongPhase(stackId, st.phase);
        Attester[] storage list = _attesters[stackId];
        bool first = list.length == 0;
        if (first && !available) return _unverifiable(stackId, st);
        if (first && !sampled) {
            emit AttestationSkipped(stackId);
            return _accept(stackId, st);
        }
        st.deadline = uint64(block.timestamp) + params.commitWindow;
        for (uint256 i = 0; i < chosen.length; ++i) {
            _push(list, chosen[i], i < commitments.length ? commitments[i] : bytes32(0));
            nodeRegistry.addObligation(chosen[i]);
            if (!first) emit AttesterReplaced(stackId, chosen[i], st.deadline);
        }
        if (first) return _sampled(stackId, st, seed, sampleSize, chosen);
        st.replacementsLeft -= uint8(chosen.length);
        if (chosen.length > 0) st.phase = Phase.Commit;
        else if (_attesterIds(stackId, COMMITTED).length > 0) _openReveal(stackId, st);
        else _unverifiable(stackId, st);
    }

    // ---------------------------------------------------------------- deadlines (anyone)

    /// The node did not settle by the deadline: the owner is refunded and the node slashed the timeout share.
    function timeoutSettlement(uint256 stackId) external nonReentrant {
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        if (stack.status != IStackManager.StackStatus.Active) revert StackNotActive(stackId);
        uint256 deadline = stackManager.settleDeadline(stackId);
        if (block.timestamp <= deadline) revert DeadlineNotPassed(stackId, deadline);
        _settlements[stackId].phase = Phase.TimedOut;
        stackManager.markClosed(stackId, false);
        uint256 refunded = vault.refund(bytes32(stackId), stack.owner);
        nodeRegistry.slashTimeout(stack.nodeId, stack.owner);
        emit SettlementTimedOut(stackId, stack.nodeId, refunded);
    }

    /// Attesters that missed the commit deadline are slashed the timeout share; after the server's reveal, those
    /// that committed and did not open by the opening deadline are slashed in full: having seen the reveal and
    /// the others' openings, staying closed must never pay (it would dodge a lost dispute, or leave the work
    /// unverified). Neither slash reaches any party (no user, no honest nodes): nobody may gain from an
    /// attester's silence. Missed commits are replaced, by a draw in a later block, while replacements remain;
    /// with none left the committed ones are revealed against, and without any the work is not paid. Missed
    /// openings are not replaced: the opened results are compared (`_conclude`).
    function timeoutAttesters(uint256 stackId) external nonReentrant {
        Settlement storage st = _settlements[stackId];
        bool opening = st.phase == Phase.Opening;
        if (!opening && st.phase != Phase.Commit) revert WrongPhase(stackId, st.phase);
        if (block.timestamp <= st.deadline) revert DeadlineNotPassed(stackId, st.deadline);
        if (!opening && st.dataRequested && !st.dataPosted) revert DataPending(stackId);
        Attester[] storage list = _attesters[stackId];
        uint256 missing;
        uint256 committed;
        uint256 length = list.length;
        for (uint256 i = 0; i < length; ++i) {
            Attester storage a = list[i];
            if (a.removed) continue;
            if (opening ? a.opened : a.committed) {
                ++committed;
                continue;
            }
            a.removed = true;
            ++missing;
            nodeRegistry.removeObligation(a.nodeId);
            // Only in `Opening` can a missing attester have committed: it chose not to open.
            if (a.committed) nodeRegistry.slashFraud(a.nodeId, address(0), new uint256[](0));
            else nodeRegistry.slashTimeout(a.nodeId, address(0));
            emit AttesterTimedOut(stackId, a.nodeId);
        }
        if (opening) return _conclude(stackId, st);
        uint256 count = missing < st.replacementsLeft ? missing : st.replacementsLeft;
        if (count > 0) {
            st.phase = Phase.Drawing;
            draws.armReplacement(stackId, uint8(count));
            emit AttesterDrawPending(stackId);
        } else if (committed > 0) {
            _openReveal(stackId, st);
        } else {
            _unverifiable(stackId, st);
        }
    }

    /// The server failed verification: it did not reveal in time, or did not post the sampled requests it was
    /// asked for. Withholding must never pay, so this counts as fraud: all collateral is slashed.
    function failVerification(uint256 stackId) external nonReentrant {
        Settlement storage st = _settlements[stackId];
        uint8 reason;
        if (st.phase == Phase.Reveal && block.timestamp > st.deadline) {
            reason = FAIL_NO_REVEAL;
        } else if (
            st.phase == Phase.Commit && st.dataRequested && !st.dataPosted && block.timestamp > st.dataDeadline
        ) {
            reason = FAIL_DATA_WITHHELD;
        } else {
            revert WrongPhase(stackId, st.phase);
        }
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        uint256[] memory honest = _attesterIds(stackId, reason == FAIL_NO_REVEAL ? COMMITTED : ASSIGNED);
        _payFailed(stackId, stack, st, honest, reason);
        nodeRegistry.slashFraud(stack.nodeId, stack.owner, honest);
    }

    /// Pays out an accepted settlement once the owner's challenge window has closed.
    function finalize(uint256 stackId) external nonReentrant {
        _finalize(stackId);
    }

    function finalizeMany(uint256[] calldata stackIds) external nonReentrant {
        for (uint256 i = 0; i < stackIds.length; ++i) _finalize(stackIds[i]);
    }

    // ---------------------------------------------------------------- dispute manager

    /// The owner challenged an accepted settlement within its window.
    function markChallenged(uint256 stackId) external onlyRole(PROTOCOL_ROLE) {
        Settlement storage st = _settlements[stackId];
        if (st.phase != Phase.Accepted) revert WrongPhase(stackId, st.phase);
        if (block.timestamp > st.windowEnds) revert DeadlinePassed(stackId, st.windowEnds);
        st.phase = Phase.Disputed;
    }

    /// A dispute or challenge on the stack ended. When the server won the settlement is accepted; otherwise the
    /// owner is refunded, and the attesters who were right share the surcharge only when `attestersPaid` (the
    /// server lost a decision; a dispute nobody decided pays them nothing). The dispute manager has already
    /// slashed the losers.
    function onDisputeResolved(uint256 stackId, bool serverWon, bool attestersPaid)
        external
        onlyRole(PROTOCOL_ROLE)
    {
        Settlement storage st = _settlements[stackId];
        if (st.phase != Phase.Disputed) revert WrongPhase(stackId, st.phase);
        if (fraudProven[stackId]) serverWon = false;
        bool attestationDispute = st.windowEnds == 0;
        if (serverWon) {
            if (attestationDispute) {
                _releaseAttesters(stackId);
                _accept(stackId, st);
            } else {
                st.phase = Phase.Accepted;
            }
            return;
        }
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        uint256[] memory paid =
            attestersPaid ? _attesterIds(stackId, attestationDispute ? DISSENTED : COMMITTED) : new uint256[](0);
        _payFailed(stackId, stack, st, paid, FAIL_DISPUTE_LOST);
    }

    /// `ReceiptFraud` proved the node signed what it did not serve: it is never paid for the stack. An unsettled
    /// stack is closed and refunded; a settlement in progress (its draw pending included) or accepted fails (committed attesters share the
    /// surcharge, the owner gets the rest back); a disputed one fails when its dispute ends; a paid one stays paid
    /// (the slash of the node's collateral is what remains).
    function onReceiptFraud(uint256 stackId) external onlyRole(PROTOCOL_ROLE) nonReentrant returns (uint256 refunded) {
        fraudProven[stackId] = true;
        Settlement storage st = _settlements[stackId];
        Phase phase = st.phase;
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        bool unpaid = phase == Phase.None
            ? stack.status == IStackManager.StackStatus.Active
            : phase == Phase.Drawing || phase == Phase.Commit || phase == Phase.Reveal || phase == Phase.Opening
                || phase == Phase.Accepted;
        if (!unpaid) return 0;
        refunded = _payFailed(stackId, stack, st, _attesterIds(stackId, COMMITTED), FAIL_FRAUD_PROVEN);
    }

    // ---------------------------------------------------------------- views

    function getSettlement(uint256 stackId) external view returns (Settlement memory) {
        return _settlements[stackId];
    }

    function attestersOf(uint256 stackId) external view returns (Attester[] memory) {
        return _attesters[stackId];
    }

    function attesterIdsOf(uint256 stackId) external view returns (uint256[] memory ids) {
        Attester[] storage list = _attesters[stackId];
        ids = new uint256[](list.length);
        for (uint256 i = 0; i < list.length; ++i) ids[i] = list[i].nodeId;
    }

    /// The request indices the attesters check, in the order their response hashes are committed and revealed:
    /// `sampleCount` distinct indices in [0, requestCount) drawn from the settlement's seed.
    function sampledIndices(uint256 stackId) public view returns (uint256[] memory) {
        Settlement storage st = _settlements[stackId];
        return draws.sampleIndices(st.seed, st.requestCount, st.sampleCount);
    }

    // ---------------------------------------------------------------- internals

    function _onlyActor(uint256 nodeId, uint256 stackId) internal view {
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotServingNode(stackId, msg.sender);
    }

    function _attesterOf(uint256 stackId, uint256 nodeId) internal view returns (Attester storage) {
        Attester[] storage list = _attesters[stackId];
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i].nodeId == nodeId && !list[i].removed) {
                if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
                return list[i];
            }
        }
        revert NotAttester(stackId, nodeId);
    }

    uint8 internal constant ASSIGNED = 0;
    uint8 internal constant COMMITTED = 1;
    uint8 internal constant AGREED = 2;
    uint8 internal constant DISSENTED = 3;

    /// Node ids of the attesters still assigned that match `which` (ASSIGNED, COMMITTED, AGREED, DISSENTED).
    function _attesterIds(uint256 stackId, uint8 which) internal view returns (uint256[] memory ids) {
        Attester[] storage list = _attesters[stackId];
        ids = new uint256[](list.length);
        uint256 n;
        for (uint256 i = 0; i < list.length; ++i) {
            Attester storage a = list[i];
            if (a.removed || (which != ASSIGNED && !a.committed)) continue;
            if ((which == AGREED && !a.agreed) || (which == DISSENTED && a.agreed)) continue;
            ids[n++] = a.nodeId;
        }
        assembly ("memory-safe") {
            mstore(ids, n)
        }
    }

    /// The first draw chose `chosen`: they commit (or, when every one already committed as it selected itself,
    /// the server reveals).
    function _sampled(uint256 stackId, Settlement storage st, uint256 seed, uint16 sampleSize, uint256[] calldata chosen)
        internal
    {
        st.seed = uint128(seed);
        st.sampleCount = uint16(sampleSize < st.requestCount ? sampleSize : st.requestCount);
        st.replacementsLeft = params.maxReplacements;
        st.phase = Phase.Commit;
        emit AttestersSampled(stackId, chosen, sampledIndices(stackId), st.deadline);
        if (_attesterIds(stackId, COMMITTED).length == chosen.length) _openReveal(stackId, st);
    }

    /// Adds attester `nodeId`, committed when `c` is not zero (it committed as it selected itself).
    function _push(Attester[] storage list, uint256 nodeId, bytes32 c) internal {
        list.push(
            Attester({
                nodeId: uint64(nodeId),
                committed: c != 0,
                removed: false,
                agreed: false,
                declared: false,
                opened: false,
                commitment: c
            })
        );
    }

    function _releaseAttesters(uint256 stackId) internal {
        Attester[] storage list = _attesters[stackId];
        for (uint256 i = 0; i < list.length; ++i) {
            if (!list[i].removed) nodeRegistry.removeObligation(list[i].nodeId);
        }
    }

    function _openReveal(uint256 stackId, Settlement storage st) internal {
        st.phase = Phase.Reveal;
        st.deadline = uint64(block.timestamp) + params.revealWindow;
        emit RevealOpened(stackId, st.deadline);
    }

    function _accept(uint256 stackId, Settlement storage st) internal {
        st.phase = Phase.Accepted;
        st.windowEnds = uint64(block.timestamp) + params.disputeWindow;
        emit SettlementAccepted(stackId, st.windowEnds);
    }

    /// No attester could check the work: the owner is refunded in full and the server paid nothing, unslashed.
    function _unverifiable(uint256 stackId, Settlement storage st) internal {
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        _payFailed(stackId, stack, st, new uint256[](0), FAIL_UNVERIFIABLE);
    }

    /// Declarers' shares are their bonds: when the server posted the requests they asked for, those shares go
    /// to the treasury instead of them. Returns the attesters still paid.
    function _forfeitBonds(uint256 stackId, uint256[] memory paid, uint256 each) internal returns (uint256[] memory) {
        if (!_settlements[stackId].dataPosted || each == 0) return paid;
        Attester[] storage list = _attesters[stackId];
        uint256 kept;
        for (uint256 i = 0; i < paid.length; ++i) {
            bool declared;
            for (uint256 j = 0; j < list.length; ++j) {
                if (list[j].nodeId == paid[i] && list[j].declared) declared = true;
            }
            if (!declared) paid[kept++] = paid[i];
        }
        vault.release(bytes32(stackId), vault.treasury(), each * (paid.length - kept));
        assembly ("memory-safe") {
            mstore(paid, kept)
        }
        return paid;
    }

    function _surcharge(IStackManager.Stack memory stack) internal pure returns (uint256) {
        return stack.escrow - Units.cost(stack.units, stack.pricePerMillion);
    }

    function _finalize(uint256 stackId) internal {
        Settlement storage st = _settlements[stackId];
        if (st.phase != Phase.Accepted) revert WrongPhase(stackId, st.phase);
        if (block.timestamp <= st.windowEnds) revert ChallengeWindowOpen(stackId, st.windowEnds);
        st.phase = Phase.Finalized;
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        IAtomaVault.Payout memory p;
        p.nodeId = stack.nodeId;
        p.refundTo = stack.owner;
        uint256 cost = Units.cost(st.units, stack.pricePerMillion);
        if (cost > 0) {
            (address owner, uint16 feeBps) = modelRegistry.feeTerms(taskRegistry.getTask(stack.taskId).modelId);
            p.modelOwner = owner;
            p.modelAmount = cost * feeBps / BPS;
            p.nodeAmount = cost - p.modelAmount;
        }
        if (_attesters[stackId].length > 0) {
            p.attesterIds = _attesterIds(stackId, AGREED);
            if (p.attesterIds.length > 0) p.attesterAmountEach = _surcharge(stack) / p.attesterIds.length;
            p.attesterIds = _forfeitBonds(stackId, p.attesterIds, p.attesterAmountEach);
        }
        // Reserving capacity costs at least the minimum charge, to the treasury (never to the node).
        uint256 minCharge = stackManager.minCharge(stackId);
        if (minCharge > cost) vault.release(bytes32(stackId), vault.treasury(), minCharge - cost);
        uint256 refunded = vault.payOut(bytes32(stackId), p);
        // Reputation rewards work done: an empty settlement earns none.
        stackManager.markClosed(stackId, st.units > 0);
        emit SettlementFinalized(
            stackId,
            stack.nodeId,
            p.nodeAmount,
            p.modelAmount,
            p.attesterAmountEach,
            refunded,
            p.attesterIds.length * p.attesterAmountEach
        );
    }

    /// The server is paid nothing; `paid` attesters share the surcharge; the owner gets the rest back. Emits
    /// `SettlementFailed`.
    function _payFailed(
        uint256 stackId,
        IStackManager.Stack memory stack,
        Settlement storage st,
        uint256[] memory paid,
        uint8 reason
    ) internal returns (uint256 refunded) {
        // Attesters hold their obligations until the settlement is accepted (or its attestation dispute ends).
        bool releaseAttesters = st.phase != Phase.Accepted && (reason != FAIL_DISPUTE_LOST || st.windowEnds == 0);
        st.phase = Phase.Failed;
        IAtomaVault.Payout memory p;
        p.nodeId = stack.nodeId;
        p.refundTo = stack.owner;
        if (paid.length > 0) p.attesterAmountEach = _surcharge(stack) / paid.length;
        p.attesterIds = _forfeitBonds(stackId, paid, p.attesterAmountEach);
        refunded = vault.payOut(bytes32(stackId), p);
        stackManager.markClosed(stackId, false);
        if (releaseAttesters) _releaseAttesters(stackId);
        emit SettlementFailed(stackId, stack.nodeId, reason, refunded, p.attesterIds.length * p.attesterAmountEach);
    }
}
