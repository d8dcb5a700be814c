// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {StackTree} from "../common/StackTree.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";

/// The node registry's collateral token (a public immutable of NodeRegistry), in which challenge bonds are paid, and
/// the task registry whose exit notice bounds the fraud window.
interface ICollateralToken {
    function token() external view returns (IERC20);
    function taskRegistry() external view returns (IExitNotice);
}

interface IExitNotice {
    function exitNotice() external view returns (uint64);
}

/// @title ChallengeManager: the stack owner's challenges of an accepted settlement.
/// @notice Within the settlement's challenge window the owner challenges in one of two ways.
/// A receipt challenge presents a node-signed response. The signature alone proves fraud when the response's index
/// is beyond the settled request count, or when it is the last response and its running total is below the units
/// claimed. Otherwise the node must prove, within `answerWindow`, that the response's leaf is under its settled
/// root, or it is slashed for fraud.
/// An index challenge names a settled leaf whose request the owner says it never signed (receipts cannot show a
/// leaf the node added after the owner's last request). The node must show that leaf under its root at that index
/// with nonce = index, the owner's EIP-712 signature on its request hash with a `maxUnits` at least the leaf's
/// units, and the leaf before it under the same root with a running total the answered one follows from (the last
/// leaf's total being the units settled), or it is slashed for fraud: neither a leaf above its signed bound nor
/// units hidden in a withheld leaf's running total can be answered.
/// Answering costs the honest node a transaction, so a challenge it must answer carries a bond that the node
/// receives when it answers (the owner gets it back when the node does not); a leaf once proven cannot be
/// challenged again, and a stack takes at most `maxChallengesPerStack` receipt challenges.
/// Several challenges may be open on one settlement at once (review fresh HIGH-1: with one at a time, a node that
/// withheld two receipts hid its excess in the leaf not challenged, answered the other late and outlasted the
/// window). The owner can challenge every receipt-less leaf together until `windowEnds`, whatever is open; each
/// index is challenged at most once, so index challenges are bounded by the settled request count. So that a flood
/// of them cannot outrun an honest node's answers (and slash it), their answer deadlines on one stack are spaced:
/// each is at least `answerWindow / maxChallengesPerStack` after the one before, so the node never owes more than
/// `maxChallengesPerStack` answers per `answerWindow`. The settlement stays `Disputed` until every open challenge is
/// resolved: the first one upheld fails it (the owner refunded), and it is accepted again only when the last one is
/// dismissed. No index challenge opens after `windowEnds`, so a griefer who opens n of them holds a settlement at
/// most `answerWindow * (3 + (n - 1) / maxChallengesPerStack)` past its window (the last answer, the check of the
/// leaves it revealed, a receipt challenge opened at the check's end), paying the node a bond for each.
/// `challengeIndices` opens up to `MAX_BATCH` of them in one transaction (the node chooses how many leaves lack a
/// receipt, so one transaction each would let it outrun the window). A dismissed challenge's bond is held until the
/// settlement's last open challenge resolves and its window is over (more challenges may open until then): the
/// node's if the settlement then stands (`payHeld` once the fraud window is over), the owner's if any was upheld.
/// A leaf an index answer reveals (the answered one, the one before it) can be challenged by its receipt for
/// `answerWindow` after the answer (`checkUntil`), even past `windowEnds` (review rev4 R4-6: a node answering after
/// the window had the settlement accepted and finalizable before the owner could compare the revealed leaf with its
/// receipt); the settlement stays `Disputed` until then and `payHeld` releases it. Past `windowEnds` only receipt
/// challenges open (capped per stack), so the hold stays bounded.
contract ChallengeManager is AtomaAccess, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Open,
        Upheld,
        Dismissed
    }

    struct Params {
        /// Time the node has to prove a challenged leaf is under its root.
        uint64 answerWindow;
        /// How many receipt challenges that need an answer one stack may take (index challenges: one per index), and
        /// how many index-challenge answers the node may owe per `answerWindow`.
        uint8 maxChallengesPerStack;
        /// Paid by the owner for a challenge that needs an answer; the node's if it answers.
        uint128 challengeBond;
    }

    struct Challenge {
        Status status;
        uint64 answerDeadline;
        /// The challenged leaf's index: the node must prove its leaf at that very position.
        uint64 leafIndex;
        address owner;
        uint256 stackId;
        uint256 nodeId;
        /// The leaf the owner's receipt stands for; zero for an index challenge (the node shows the leaf).
        bytes32 leaf;
        uint256 bond;
    }

    INodeRegistry public immutable nodeRegistry;
    IStackManager public immutable stackManager;
    ISettlementManager public immutable settlementManager;
    IERC20 public immutable token;
    Params public params;

    uint256 public challengeCount;
    mapping(uint256 challengeId => Challenge) internal _challenges;
    /// Challenges that needed an answer, per stack.
    mapping(uint256 stackId => uint256) public challengesOf;
    mapping(uint256 stackId => mapping(bytes32 leaf => bool)) public provenLeaf;
    /// Indices whose leaf the node proved to be an owner-signed request (an answered index challenge).
    mapping(uint256 stackId => mapping(uint256 leafIndex => bool)) public provenIndex;
    /// Indices challenged (open or answered): each index takes one challenge.
    mapping(uint256 stackId => mapping(uint256 leafIndex => bool)) public challengedIndex;
    /// Challenges open on the stack's settlement (it is `Disputed` while any is).
    mapping(uint256 stackId => uint256) public openOf;
    /// A challenge on the stack was upheld: its settlement has failed, later resolutions leave it alone.
    mapping(uint256 stackId => bool) public upheldOn;
    /// The latest answer deadline of the stack's index challenges (the next is spaced after it).
    mapping(uint256 stackId => uint64) public indexDeadlineOf;
    /// Bonds of the stack's dismissed challenges, held until its last open challenge resolves and its window is over
    /// (review fresh 2 LOW-D, review challenges LOW-1): the node's if the settlement stands then, the owner's if a
    /// challenge was upheld (or it failed).
    mapping(uint256 stackId => uint256) public heldBondOf;
    /// Until when the leaves the stack's index answers revealed can be challenged by receipt (review rev4 R4-6):
    /// `answerWindow` after the latest answer.
    mapping(uint256 stackId => uint64) public checkUntil;
    /// Every challenge on the stack was dismissed past `windowEnds` but before `checkUntil`: the settlement stays
    /// `Disputed` until `payHeld` releases it after `checkUntil`.
    mapping(uint256 stackId => bool) public heldOpen;

    /// The most indices one `challengeIndices` call opens (its gas stays well under a block's).
    uint256 public constant MAX_BATCH = 64;

    /// `leaf` is zero for an index challenge.
    event ChallengeOpened(
        uint256 indexed challengeId,
        uint256 indexed stackId,
        uint256 leafIndex,
        bytes32 leaf,
        uint64 answerDeadline,
        uint256 bond
    );
    event ChallengeResolved(uint256 indexed challengeId, uint256 indexed stackId, bool upheld);
    event ChallengeBondPaid(uint256 indexed challengeId, address indexed to, uint256 amount);
    /// A dismissed challenge's bond, held until the stack's last open challenge resolves.
    event ChallengeBondHeld(uint256 indexed challengeId, uint256 indexed stackId, uint256 amount);
    /// The stack's held bonds, paid once its last open challenge resolved and (for the node) its window is over.
    event HeldBondsPaid(uint256 indexed stackId, address indexed to, uint256 amount);
    event ParamsUpdated(Params params);

    error UnknownChallenge(uint256 challengeId);
    error ChallengeClosed(uint256 challengeId);
    error NotStackOwner(uint256 stackId, address caller);
    error NotChallengeable(uint256 stackId);
    error LeafAlreadyProven(uint256 stackId, bytes32 leaf);
    error TooManyChallenges(uint256 stackId, uint256 max);
    error InvalidResponseSignature();
    error ResponseForOtherStack(uint256 stackId, uint256 responseStackId);
    error NotNodeActor(uint256 nodeId, address caller);
    error AnswerWindowOver(uint256 challengeId);
    error TooEarly(uint256 challengeId, uint256 deadline);
    error InvalidProof();
    error NoSuchLeaf(uint256 stackId, uint256 leafIndex);
    error IndexAlreadyProven(uint256 stackId, uint256 leafIndex);
    error InvalidRequestSignature();
    /// The answered leaf claims more units than the owner's signed request allows: the answer cannot stand.
    error UnitsOverSigned(uint256 leafIndex, uint64 units, uint64 maxUnits);
    /// The answered leaf's running total does not follow from the leaf before it, or the last leaf's total is
    /// not the units settled.
    error RunningTotalBroken(uint256 leafIndex);
    /// A receipt challenge answered as an index challenge, or the other way round.
    error WrongAnswer(uint256 challengeId);
    /// `answerWindow / maxChallengesPerStack` would be 0: index-challenge deadlines would not be spaced.
    error ChallengeGapZero(uint64 answerWindow, uint8 maxChallengesPerStack);
    /// A `challengeIndices` call with no index or more than `MAX_BATCH`.
    error BadBatch(uint256 length, uint256 max);
    /// `payHeld` while a challenge is open on the stack, before its window (and the check of revealed leaves) is
    /// over, or, with nothing to release, before the held bonds are due (`until`).
    error BondsStillHeld(uint256 stackId, uint256 open, uint64 until);

    constructor(
        address admin,
        INodeRegistry nodeRegistry_,
        IStackManager stackManager_,
        ISettlementManager settlementManager_,
        Params memory params_
    ) AtomaAccess(admin) {
        nodeRegistry = nodeRegistry_;
        stackManager = stackManager_;
        settlementManager = settlementManager_;
        token = ICollateralToken(address(nodeRegistry_)).token();
        _setParams(params_);
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.answerWindow >= 30 && p.answerWindow <= 30 days, "answerWindow", p.answerWindow);
        _check(p.maxChallengesPerStack >= 1, "maxChallengesPerStack", p.maxChallengesPerStack);
        _check(p.challengeBond > 0 && p.challengeBond <= 1e36, "challengeBond", p.challengeBond);
        if (p.answerWindow / p.maxChallengesPerStack == 0) {
            revert ChallengeGapZero(p.answerWindow, p.maxChallengesPerStack);
        }
        params = p;
        emit ParamsUpdated(p);
    }

    /// Challenges an accepted settlement with a node-signed response (the owner approves this contract for the
    /// bond first). Resolved at once when the signature proves the fraud by itself.
    function challenge(uint256 stackId, AtomaTypedData.Response calldata response, bytes calldata signature)
        external
        nonReentrant
        returns (uint256 challengeId)
    {
        if (response.stackId != stackId) revert ResponseForOtherStack(stackId, response.stackId);
        (uint256 nodeId, ISettlementManager.Settlement memory st) = _challengeable(stackId);
        address signer = stackManager.recoverResponseSigner(response, signature);
        if (signer == address(0) || signer != nodeRegistry.signerOf(nodeId)) revert InvalidResponseSignature();
        bytes32 leaf = AtomaTypedData.leafHash(AtomaTypedData.leafOf(response));
        bool beyondCount = response.leafIndex >= st.requestCount;
        bool overClaim = response.leafIndex + 1 == st.requestCount && response.cumulativeUnits < st.units;
        bool proven = beyondCount || overClaim;
        if (!proven && provenLeaf[stackId][leaf]) revert LeafAlreadyProven(stackId, leaf);
        challengeId = _start(stackId, nodeId, response.leafIndex, leaf, !proven);
        if (proven) _resolve(challengeId, _challenges[challengeId], false);
    }

    /// Challenges settled leaf `leafIndex` as a request the owner never signed (the owner approves the bond first).
    /// Other challenges of the settlement may be open; an index already challenged reverts `IndexAlreadyProven`.
    function challengeIndex(uint256 stackId, uint256 leafIndex) external nonReentrant returns (uint256 challengeId) {
        (uint256 nodeId, ISettlementManager.Settlement memory st) = _indexChallengeable(stackId);
        challengeId = _startIndex(stackId, nodeId, leafIndex, st.requestCount);
    }

    /// Challenges up to `MAX_BATCH` settled leaves by index in one transaction (review fresh 2 MEDIUM-C: a node
    /// that withholds n receipts would otherwise force n transactions inside the window). Each index is as one
    /// `challengeIndex` call: one bond each (approved first), deadlines spaced in the order given, and any index
    /// already challenged reverts the whole call. Returns the first id; the rest follow consecutively.
    function challengeIndices(uint256 stackId, uint256[] calldata leafIndices)
        external
        nonReentrant
        returns (uint256 firstId)
    {
        uint256 n = leafIndices.length;
        if (n == 0 || n > MAX_BATCH) revert BadBatch(n, MAX_BATCH);
        (uint256 nodeId, ISettlementManager.Settlement memory st) = _indexChallengeable(stackId);
        firstId = challengeCount + 1;
        for (uint256 i = 0; i < n; ++i) {
            _startIndex(stackId, nodeId, leafIndices[i], st.requestCount);
        }
    }

    function _startIndex(uint256 stackId, uint256 nodeId, uint256 leafIndex, uint256 requestCount)
        internal
        returns (uint256)
    {
        if (leafIndex >= requestCount) revert NoSuchLeaf(stackId, leafIndex);
        if (challengedIndex[stackId][leafIndex]) revert IndexAlreadyProven(stackId, leafIndex);
        challengedIndex[stackId][leafIndex] = true;
        return _start(stackId, nodeId, leafIndex, bytes32(0), true);
    }

    /// The challenged node proves the leaf sits at its index under its settled root; it cannot be challenged again.
    function answerChallenge(uint256 challengeId, bytes32[] calldata proof) external nonReentrant {
        (Challenge storage c, ISettlementManager.Settlement memory st) = _answerable(challengeId);
        if (c.leaf == 0) revert WrongAnswer(challengeId);
        if (!StackTree.verify(proof, st.root, c.leaf, c.leafIndex, st.requestCount)) revert InvalidProof();
        provenLeaf[c.stackId][c.leaf] = true;
        _resolve(challengeId, c, true);
    }

    /// The node answers an index challenge: the leaf at the challenged index (nonce = index) with its proof under
    /// the settled root, the owner's signature on the leaf's request (`deadline` and `maxUnits` as the owner
    /// signed them), and the leaf before it with its proof (ignored at index 0). A leaf whose units exceed the
    /// signed `maxUnits` reverts `UnitsOverSigned`; one whose running total does not follow from the leaf before
    /// it (or, for the last leaf, is not the units settled) reverts `RunningTotalBroken`: a node that hid extra
    /// units in a withheld leaf's total cannot prove it, so the challenge is upheld when the answer window ends.
    /// The revealed previous leaf is what the owner compares with its own receipt for that index.
    function answerIndexChallenge(
        uint256 challengeId,
        AtomaTypedData.Leaf calldata leaf,
        uint64 deadline,
        uint64 maxUnits,
        bytes calldata ownerSignature,
        bytes32[] calldata proof,
        AtomaTypedData.Leaf calldata previous,
        bytes32[] calldata previousProof
    ) external nonReentrant {
        (Challenge storage c, ISettlementManager.Settlement memory st) = _answerable(challengeId);
        if (c.leaf != 0) revert WrongAnswer(challengeId);
        bytes32 hash = _provenAtIndex(c.leafIndex, leaf, proof, st);
        _checkRunningTotal(c.leafIndex, leaf, previous, previousProof, st);
        _checkOwnerSigned(c, leaf, deadline, maxUnits, ownerSignature);
        // The leaves revealed here stay open to receipt challenges for `answerWindow` (review rev4 R4-6).
        uint64 until = uint64(block.timestamp) + params.answerWindow;
        if (until > checkUntil[c.stackId]) checkUntil[c.stackId] = until;
        provenIndex[c.stackId][c.leafIndex] = true;
        provenLeaf[c.stackId][hash] = true;
        _resolve(challengeId, c, true);
    }

    /// The leaf's hash, when it sits at `index` under the settled root with nonce = index.
    function _provenAtIndex(
        uint256 index,
        AtomaTypedData.Leaf calldata leaf,
        bytes32[] calldata proof,
        ISettlementManager.Settlement memory st
    ) internal pure returns (bytes32 hash) {
        hash = AtomaTypedData.leafHash(leaf);
        if (
            leaf.leafIndex != index || leaf.nonce != index
                || !StackTree.verify(proof, st.root, hash, index, st.requestCount)
        ) revert InvalidProof();
    }

    /// The stack's owner signed the leaf's request at its index with a bound at least the leaf's units.
    function _checkOwnerSigned(
        Challenge storage c,
        AtomaTypedData.Leaf calldata leaf,
        uint64 deadline,
        uint64 maxUnits,
        bytes calldata ownerSignature
    ) internal view {
        address signer = stackManager.recoverRequestSigner(
            AtomaTypedData.Request({
                stackId: c.stackId, reqHash: leaf.reqHash, nonce: c.leafIndex, deadline: deadline, maxUnits: maxUnits
            }),
            ownerSignature
        );
        if (signer == address(0) || signer != c.owner) revert InvalidRequestSignature();
        if (leaf.units > maxUnits) revert UnitsOverSigned(c.leafIndex, leaf.units, maxUnits);
    }

    /// The answered leaf's total follows from its predecessor's (proven under the same root) or, at index 0, is its
    /// own units; the last leaf's total is the units the settlement claims.
    function _checkRunningTotal(
        uint256 index,
        AtomaTypedData.Leaf calldata leaf,
        AtomaTypedData.Leaf calldata previous,
        bytes32[] calldata previousProof,
        ISettlementManager.Settlement memory st
    ) internal pure {
        if (index == 0) {
            if (leaf.cumulativeUnits != leaf.units) revert RunningTotalBroken(index);
        } else {
            if (
                previous.leafIndex != index - 1
                    || !StackTree.verify(
                        previousProof, st.root, AtomaTypedData.leafHash(previous), index - 1, st.requestCount
                    )
            ) revert InvalidProof();
            if (uint256(previous.cumulativeUnits) + leaf.units != leaf.cumulativeUnits) {
                revert RunningTotalBroken(index);
            }
        }
        if (index + 1 == st.requestCount && leaf.cumulativeUnits != st.units) revert RunningTotalBroken(index);
    }

    /// Upholds a challenge the node did not answer in time (anyone may call).
    function resolve(uint256 challengeId) external nonReentrant {
        Challenge storage c = _open(challengeId);
        if (block.timestamp <= c.answerDeadline) revert TooEarly(challengeId, c.answerDeadline);
        _resolve(challengeId, c, false);
    }

    /// Once no challenge is open and the window (and the check of revealed leaves) is over, so no further
    /// challenge can catch the node: releases a settlement held `Disputed` for that check (accepted again, or
    /// failed if a receipt fraud was proven meanwhile) and pays the held bonds when due: to the owner if the
    /// settlement failed, to the node's operator from `bondsDueAt` (anyone may call). Reverts `BondsStillHeld` when
    /// it has nothing to do yet.
    function payHeld(uint256 stackId) external nonReentrant {
        uint64 ends = _checkEnds(stackId, settlementManager.getSettlement(stackId).windowEnds);
        uint256 open = openOf[stackId];
        if (open > 0 || block.timestamp <= ends) revert BondsStillHeld(stackId, open, ends);
        bool released = heldOpen[stackId];
        if (released) {
            heldOpen[stackId] = false;
            settlementManager.onDisputeResolved(stackId, true, true);
        }
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        if (_payHeld(stackId, stack.owner, stack.nodeId) && !released) {
            revert BondsStillHeld(stackId, 0, bondsDueAt(stackId));
        }
    }

    /// When the node's held bonds become payable to it (review R2-5): the exit notice after the window and the
    /// check of revealed leaves end, the time a receipt fraud proof is sure to find the node still answerable (the
    /// registry keeps its collateral that long after its last stack closed). A fraud proven before sends them to the
    /// owner.
    function bondsDueAt(uint256 stackId) public view returns (uint64) {
        uint64 ends = _checkEnds(stackId, settlementManager.getSettlement(stackId).windowEnds);
        return ends + ICollateralToken(address(nodeRegistry)).taskRegistry().exitNotice();
    }

    function getChallenge(uint256 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    /// The stack's node and its settlement, when the caller owns the stack and the settlement can be challenged:
    /// accepted, or disputed by challenges of this contract (open, or held for the check of revealed leaves), and
    /// its window, or the check of the leaves an answer revealed, not over.
    function _challengeable(uint256 stackId)
        internal
        view
        returns (uint256 nodeId, ISettlementManager.Settlement memory st)
    {
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        if (msg.sender != stack.owner) revert NotStackOwner(stackId, msg.sender);
        st = settlementManager.getSettlement(stackId);
        bool open = st.phase == ISettlementManager.Phase.Accepted
            || (st.phase == ISettlementManager.Phase.Disputed && (openOf[stackId] > 0 || heldOpen[stackId]));
        if (!open || block.timestamp > _checkEnds(stackId, st.windowEnds)) revert NotChallengeable(stackId);
        nodeId = stack.nodeId;
    }

    /// As `_challengeable`, within the window itself: index challenges never open after it (the hold stays bounded).
    function _indexChallengeable(uint256 stackId)
        internal
        view
        returns (uint256 nodeId, ISettlementManager.Settlement memory st)
    {
        (nodeId, st) = _challengeable(stackId);
        if (block.timestamp > st.windowEnds) revert NotChallengeable(stackId);
    }

    /// The later of the window's end and the end of the check of revealed leaves.
    function _checkEnds(uint256 stackId, uint64 windowEnds) internal view returns (uint64) {
        uint64 until = checkUntil[stackId];
        return until > windowEnds ? until : windowEnds;
    }

    /// Opens a challenge; one the node must answer takes the bond, and a receipt one counts against the cap.
    function _start(uint256 stackId, uint256 nodeId, uint256 leafIndex, bytes32 leaf, bool answerable)
        internal
        returns (uint256 challengeId)
    {
        uint256 bond;
        if (answerable) {
            if (leaf != 0) {
                uint256 max = params.maxChallengesPerStack;
                if (challengesOf[stackId] >= max) revert TooManyChallenges(stackId, max);
                ++challengesOf[stackId];
            }
            bond = params.challengeBond;
        }
        if (openOf[stackId]++ == 0) {
            // Held disputed for the check of revealed leaves: it is disputed already.
            if (heldOpen[stackId]) heldOpen[stackId] = false;
            else settlementManager.markChallenged(stackId);
        }
        uint64 deadline = uint64(block.timestamp) + params.answerWindow;
        if (leaf == 0) {
            uint64 spaced = indexDeadlineOf[stackId] + params.answerWindow / params.maxChallengesPerStack;
            if (spaced > deadline) deadline = spaced;
            indexDeadlineOf[stackId] = deadline;
        }
        challengeId = ++challengeCount;
        Challenge storage c = _challenges[challengeId];
        c.status = Status.Open;
        c.answerDeadline = deadline;
        c.owner = msg.sender;
        c.stackId = stackId;
        c.nodeId = nodeId;
        c.leaf = leaf;
        c.leafIndex = uint64(leafIndex);
        c.bond = bond;
        emit ChallengeOpened(challengeId, stackId, leafIndex, leaf, c.answerDeadline, bond);
        if (bond > 0) token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// An open challenge the caller, an actor of its node, may still answer, and the settlement it concerns.
    function _answerable(uint256 challengeId)
        internal
        view
        returns (Challenge storage c, ISettlementManager.Settlement memory st)
    {
        c = _open(challengeId);
        if (block.timestamp > c.answerDeadline) revert AnswerWindowOver(challengeId);
        if (!nodeRegistry.isNodeActor(c.nodeId, msg.sender)) revert NotNodeActor(c.nodeId, msg.sender);
        st = settlementManager.getSettlement(c.stackId);
    }

    function _open(uint256 challengeId) internal view returns (Challenge storage c) {
        c = _challenges[challengeId];
        if (c.status == Status.None) revert UnknownChallenge(challengeId);
        if (c.status != Status.Open) revert ChallengeClosed(challengeId);
    }

    function _resolve(uint256 challengeId, Challenge storage c, bool nodeWon) internal {
        c.status = nodeWon ? Status.Dismissed : Status.Upheld;
        if (!nodeWon) nodeRegistry.slashFraud(c.nodeId, c.owner, new uint256[](0));
        emit ChallengeResolved(challengeId, c.stackId, !nodeWon);
        uint256 stackId = c.stackId;
        uint256 bond = c.bond;
        if (bond > 0) {
            c.bond = 0;
            if (nodeWon) {
                // Held: a node caught on another leaf of this settlement does not keep it (review fresh 2 LOW-D).
                heldBondOf[stackId] += bond;
                emit ChallengeBondHeld(challengeId, stackId, bond);
            } else {
                token.safeTransfer(c.owner, bond);
                emit ChallengeBondPaid(challengeId, c.owner, bond);
            }
        }
        // The first challenge upheld fails the settlement; the last one dismissed (none upheld) accepts it again.
        uint256 left = --openOf[stackId];
        if (!upheldOn[stackId]) {
            if (!nodeWon) {
                upheldOn[stackId] = true;
                settlementManager.onDisputeResolved(stackId, false, true);
            } else if (left == 0) {
                // A revealed leaf still checkable past the window keeps the settlement disputed (review rev4 R4-6).
                uint64 until = checkUntil[stackId];
                if (block.timestamp <= until && until > settlementManager.getSettlement(stackId).windowEnds) {
                    heldOpen[stackId] = true;
                } else {
                    settlementManager.onDisputeResolved(stackId, true, true);
                }
            }
        }
        if (left == 0) _payHeld(stackId, c.owner, c.nodeId);
    }

    /// No challenge open: the held bonds go back to the owner if a challenge was upheld (or a receipt fraud was
    /// proven meanwhile, even after the settlement was paid: review rev W-5); to the node when its settlement stands
    /// and the fraud window is over (`bondsDueAt`; review challenges LOW-1: paid as soon as the first round was
    /// answered, a cheater kept them though the owner's batch caught it next; review R2-5: paid at the window's
    /// end, a fraud proven later found them gone). Returns whether bonds are still held.
    function _payHeld(uint256 stackId, address owner, uint256 nodeId) internal returns (bool kept) {
        uint256 held = heldBondOf[stackId];
        if (held == 0) return false;
        ISettlementManager.Settlement memory st = settlementManager.getSettlement(stackId);
        bool failed = upheldOn[stackId] || st.phase == ISettlementManager.Phase.Failed
            || settlementManager.fraudProven(stackId);
        if (!failed && (heldOpen[stackId] || block.timestamp <= bondsDueAt(stackId))) return true;
        heldBondOf[stackId] = 0;
        address to = failed ? owner : nodeRegistry.operatorOf(nodeId);
        token.safeTransfer(to, held);
        emit HeldBondsPaid(stackId, to, held);
    }
}
