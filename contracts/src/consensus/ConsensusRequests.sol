// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {ConsensusCommitment} from "../common/ConsensusCommitment.sol";
import {Units} from "../common/Units.sol";
import {IAtomaConsumer} from "../interfaces/IAtomaConsumer.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {IConsensusDisputeOrigin, IDisputeManager, IDisputeParams} from "../interfaces/IDisputeManager.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @title ConsensusRequests: n-node Sampling Consensus for requests made by smart contracts (whitepaper §2.6).
/// @notice A contract submits a prompt, a task of security level 2 and n, and escrows n × cost(maxUnits); the
/// nodes eligible then are the request's candidates. The echelon's pool of the task (its eligible subscribers at
/// any price) must hold n + the dispute committee minimum, so a dispute among the seats always has nodes to draw a
/// committee from. In a later block anyone draws the n seats among the candidates (`drawSeats`), seeded with the
/// hash of the request's block, which the requester could not know when it sent the request: the seats are the
/// first n candidates of that seed's permutation that still hold collateral, so leaving the task after the request
/// neither steers nor shrinks the seats nor fails the draw (a leaving node stays a committee candidate), and joining
/// is too late. Each seat then SEALS H(requestId, i, root, leaf_i, salt)
/// and, once every seat sealed or the seal window closed, REVEALS root, leaf_i and salt: no seat can copy what
/// another revealed, because its seal was fixed before anything was revealed. root = H(leaf_1 ‖ … ‖ leaf_n) with
/// leaf_i = H(O ‖ units ‖ i) binds the output and the unit count, so a seat that reports another count disagrees
/// exactly as one that reports another output. Equal roots: anyone delivers (O, units); every seat whose leaf
/// matches is paid for those units, one whose leaf does not is slashed. Different roots open a dispute.
/// A seat that never sealed loses the timeout share; one that sealed but did not reveal loses all its collateral;
/// when no seat sealed nobody is slashed and the requester is refunded. No timeout or slash share goes to the
/// requester: the zero address is passed as the user, so those shares go to the treasury (or are burned).
contract ConsensusRequests is IConsensusDisputeOrigin, AtomaAccess, ReentrancyGuardTransient {
    uint256 internal constant BPS = 10_000;
    /// Gas kept back for the bookkeeping after the callback returns.
    uint256 internal constant CALLBACK_RESERVE = 20_000;
    /// Time allowed for the permissionless call that closes a round once its reveal window is over.
    uint256 public constant KEEPER_SLACK = 1 hours;

    enum Status {
        None,
        Drawing,
        Committing,
        Delivering,
        Disputed,
        Delivered,
        Failed
    }

    /// `commitWindow` is the length of each of the seal and the reveal phases.
    struct Params {
        uint64 commitWindow;
        uint64 deliveryWindow;
        uint32 maxCallbackGas;
        uint32 maxPromptBytes;
        uint32 maxOutputBytes;
        uint8 maxNodes;
    }

    struct Request {
        address requester;
        Status status;
        uint8 n;
        uint8 sealCount;
        uint8 revealCount;
        uint32 echelon;
        uint32 callbackGas;
        uint64 taskId;
        uint64 maxUnits;
        uint64 drawBlock;
        uint64 sealDeadline;
        uint64 revealDeadline;
        uint64 deliveryDeadline;
        uint128 maxPricePerMillion;
        bytes32 promptHash;
        /// keccak256(abi.encode(candidates)): the nodes eligible when the request was made, in the order drawn from.
        bytes32 candidatesHash;
        bytes32 agreedRoot;
    }

    struct Seat {
        uint64 nodeId;
        bool isSealed;
        bool isRevealed;
        uint128 pricePerMillion;
        bytes32 seal;
        bytes32 root;
        bytes32 leaf;
    }

    ITaskRegistry public immutable taskRegistry;
    INodeRegistry public immutable nodeRegistry;
    IModelRegistry public immutable modelRegistry;
    IAtomaVault public immutable vault;
    IDisputeManager public immutable disputeManager;
    Params public params;

    uint256 public requestCount;
    mapping(uint256 requestId => Request) internal _requests;
    mapping(uint256 requestId => Seat[]) internal _seats;

    event ConsensusRequested(
        uint256 indexed requestId,
        address indexed requester,
        uint256 indexed taskId,
        bytes prompt,
        uint8 n,
        uint64 maxUnits,
        uint64 drawBlock,
        uint256[] candidates
    );
    event DrawRearmed(uint256 indexed requestId, uint64 drawBlock);
    event SeatsDrawn(uint256 indexed requestId, uint256[] nodeIds, uint64 sealDeadline, uint64 revealDeadline);
    event ResultSealed(uint256 indexed requestId, uint256 indexed nodeId, uint256 index);
    event ResultRevealed(uint256 indexed requestId, uint256 indexed nodeId, uint256 index, bytes32 root, bytes32 leaf);
    event NodeTimedOut(uint256 indexed requestId, uint256 indexed nodeId);
    event SealNotRevealed(uint256 indexed requestId, uint256 indexed nodeId);
    event ConsensusReached(uint256 indexed requestId, bytes32 root, uint64 deliveryDeadline);
    event ConsensusDisputed(uint256 indexed requestId, uint256 indexed disputeId);
    event ResultDelivered(uint256 indexed requestId, bytes output, uint64 units, uint256[] paidNodes);
    event LazyNodeSlashed(uint256 indexed requestId, uint256 indexed nodeId);
    event CallbackResult(uint256 indexed requestId, bool success);
    event ConsensusFailed(uint256 indexed requestId, uint256 refunded);
    event ParamsUpdated(Params params);

    error UnknownRequest(uint256 requestId);
    error TaskUnavailable(uint256 taskId);
    error InvalidRequest();
    error NotEnoughNodes(uint256 available, uint256 needed);
    /// The echelon's pool of the task, at any price, holds `available` nodes: fewer than the n seats plus a
    /// minimal dispute committee besides them (`needed`).
    error TooFewForCommittee(uint256 available, uint256 needed);
    error WrongStatus(uint256 requestId, Status status);
    error DrawNotReady(uint256 requestId, uint256 drawBlock);
    error WrongCandidates(uint256 requestId);
    error NotSeatHolder(uint256 requestId, uint256 index, address caller);
    error AlreadySealed(uint256 requestId, uint256 index);
    error NotSealed(uint256 requestId, uint256 index);
    error AlreadyRevealed(uint256 requestId, uint256 index);
    error RevealNotOpen(uint256 requestId);
    error SealMismatch(uint256 requestId, uint256 index);
    error InvalidCommitment();
    error DeadlinePassed(uint256 requestId, uint256 deadline);
    error DeadlineNotPassed(uint256 requestId, uint256 deadline);
    error OutputDoesNotMatchRoot(uint256 requestId);
    error OutputTooLarge(uint256 size, uint256 max);
    error UnitsAboveMax(uint256 units, uint256 max);
    error InsufficientGasForCallback(uint256 available, uint256 needed);
    error NotDisputeManager(address caller);
    error ExitNoticeTooShort(uint256 needed, uint256 notice);

    constructor(
        address admin,
        ITaskRegistry taskRegistry_,
        INodeRegistry nodeRegistry_,
        IModelRegistry modelRegistry_,
        IAtomaVault vault_,
        IDisputeManager disputeManager_,
        Params memory params_
    ) AtomaAccess(admin) {
        taskRegistry = taskRegistry_;
        nodeRegistry = nodeRegistry_;
        modelRegistry = modelRegistry_;
        vault = vault_;
        disputeManager = disputeManager_;
        _setParams(params_);
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.commitWindow >= 30 && p.commitWindow <= 30 days, "commitWindow", p.commitWindow);
        _check(p.deliveryWindow >= 30 && p.deliveryWindow <= 30 days, "deliveryWindow", p.deliveryWindow);
        _check(p.maxCallbackGas <= 5_000_000, "maxCallbackGas", p.maxCallbackGas);
        _check(p.maxPromptBytes >= 1 && p.maxPromptBytes <= 64_000, "maxPromptBytes", p.maxPromptBytes);
        // Room for the refusal output at least, or honest seats that refuse could not deliver and would be slashed.
        _check(p.maxOutputBytes >= 64 && p.maxOutputBytes <= 64_000, "maxOutputBytes", p.maxOutputBytes);
        _check(p.maxNodes >= 1 && p.maxNodes <= 32, "maxNodes", p.maxNodes);
        // The nodes counted for a committee when the seats are drawn must still be checking candidates when a
        // dispute among the seats freezes its committee: a node leaving the task stays one for the exit notice,
        // which must outlast the seal and reveal windows and the call that closes the round (the registry never
        // lowers it, so this holds once set).
        uint256 needed = 2 * uint256(p.commitWindow) + KEEPER_SLACK;
        uint256 notice = taskRegistry.exitNotice();
        if (needed > notice) revert ExitNoticeTooShort(needed, notice);
        params = p;
        emit ParamsUpdated(p);
    }

    function escrowKey(uint256 requestId) public pure returns (bytes32) {
        return keccak256(abi.encode("atoma.consensus", requestId));
    }

    /// Asks n nodes of `echelon` for the output of `prompt` on `taskId`, paying each at most
    /// `maxPricePerMillion` per million units for at most `maxUnits` units. The escrow, n × cost(maxUnits,
    /// maxPricePerMillion), is pulled from the caller (approve the vault first); what is not paid is refunded.
    /// The seats are drawn by `drawSeats` in a later block. Refused (`TooFewForCommittee`) unless the task's
    /// eligible subscribers of `echelon`, at any price, number at least n + the DisputeManager's `minCommittee`.
    function submitRequest(
        uint256 taskId,
        bytes calldata prompt,
        uint8 n,
        uint64 maxUnits,
        uint128 maxPricePerMillion,
        uint32 echelon,
        uint32 callbackGas
    ) external nonReentrant returns (uint256 requestId) {
        _validate(taskId, prompt.length, n, maxUnits, callbackGas);
        uint256[] memory candidates = _eligible(taskId, maxPricePerMillion, echelon, new uint256[](0), false);
        if (candidates.length < n) revert NotEnoughNodes(candidates.length, n);
        // Room for a dispute among the seats: a minimal committee of other nodes of the echelon, at any price
        // (review M1). Counted at the price cap, a request could not leave room for the committees the cap excludes.
        uint256 pool = _eligible(taskId, type(uint256).max, echelon, new uint256[](0), false).length;
        uint256 needed = uint256(n) + _minCommittee();
        if (pool < needed) revert TooFewForCommittee(pool, needed);
        requestId = ++requestCount;
        Request storage r = _requests[requestId];
        r.requester = msg.sender;
        r.status = Status.Drawing;
        r.n = n;
        r.echelon = echelon;
        r.callbackGas = callbackGas;
        r.taskId = uint64(taskId);
        r.maxUnits = maxUnits;
        r.drawBlock = uint64(block.number);
        r.maxPricePerMillion = maxPricePerMillion;
        r.promptHash = keccak256(prompt);
        r.candidatesHash = keccak256(abi.encode(candidates));
        vault.lock(escrowKey(requestId), msg.sender, n * Units.cost(maxUnits, maxPricePerMillion));
        emit ConsensusRequested(requestId, msg.sender, taskId, prompt, n, maxUnits, uint64(block.number), candidates);
    }

    function _validate(uint256 taskId, uint256 promptBytes, uint8 n, uint64 maxUnits, uint32 callbackGas)
        internal
        view
    {
        Params memory p = params;
        if (
            n == 0 || n > p.maxNodes || promptBytes == 0 || promptBytes > p.maxPromptBytes || maxUnits == 0
                || callbackGas > p.maxCallbackGas
        ) revert InvalidRequest();
        ITaskRegistry.Task memory task = taskRegistry.getTask(taskId);
        if (
            !task.active || task.securityLevel != ITaskRegistry.SecurityLevel.Consensus
                || !modelRegistry.isActive(task.modelId)
        ) revert TaskUnavailable(taskId);
    }

    /// The task's subscribers eligible now at `maxPrice` in `echelon`, but those in `exclude`, in the registry's
    /// order. Active subscriptions only unless `checking`: a node leaving the task takes no new seat; as a
    /// committee candidate it counts only while its notice lasts (see `_roomForCommittee`).
    function _eligible(uint256 taskId, uint256 maxPrice, uint32 echelon, uint256[] memory exclude, bool checking)
        internal
        view
        returns (uint256[] memory)
    {
        return taskRegistry.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: echelon,
                count: type(uint256).max,
                maxPrice: maxPrice,
                units: 0,
                exclude: exclude,
                seed: 0,
                checking: checking
            })
        );
    }

    /// Whether the echelon holds, besides `seats`, the DisputeManager's `minCommittee` committee candidates that
    /// a dispute among the seats will still find: its checking candidates, a node leaving the task counted only if
    /// its notice outlasts the seal and reveal windows and the call that closes the round. A node that starts
    /// leaving between the request and the draw always counts (the notice covers that path, see `_setParams`), so
    /// leaving cannot fail the draw and re-roll the seats once the seed is known (review: seat re-roll).
    function _roomForCommittee(Request storage r, uint256[] memory seats) internal view returns (bool) {
        uint256[] memory pool = _eligible(r.taskId, type(uint256).max, r.echelon, seats, true);
        uint256 needed = _minCommittee();
        uint256 until = block.timestamp + 2 * uint256(params.commitWindow) + KEEPER_SLACK;
        uint256 found;
        for (uint256 i = 0; i < pool.length && found < needed; ++i) {
            ITaskRegistry.Subscription memory sub = taskRegistry.getSubscription(r.taskId, pool[i]);
            if (sub.active || sub.exitAt >= until) ++found;
        }
        return found >= needed;
    }

    /// The fewest members the DisputeManager accepts for a committee now.
    function _minCommittee() internal view returns (uint256 minCommittee) {
        (, minCommittee) = IDisputeParams(address(disputeManager)).params();
    }

    /// Draws the seats of a request from the hash of the block it was recorded in; anyone may call, from the next
    /// block on, with the request's candidates (from its `ConsensusRequested` event). That hash is out of reach
    /// after 256 blocks: the draw is then re-armed on the current block (whose hash the caller cannot know either)
    /// and must be called again later. The request fails and is refunded when fewer than n candidates still hold
    /// collateral, or when the echelon's pool besides the seats drawn can no longer give a minimal committee
    /// (`_roomForCommittee`: leaving the task after the request does not shrink it).
    function drawSeats(uint256 requestId, uint256[] calldata candidates) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != Status.Drawing) revert WrongStatus(requestId, r.status);
        if (block.number <= r.drawBlock) revert DrawNotReady(requestId, r.drawBlock);
        if (keccak256(abi.encode(candidates)) != r.candidatesHash) revert WrongCandidates(requestId);
        bytes32 hash = blockhash(r.drawBlock);
        if (hash == 0) {
            r.drawBlock = uint64(block.number);
            emit DrawRearmed(requestId, r.drawBlock);
            return;
        }
        uint256 seed = uint256(keccak256(abi.encode(hash, requestId, address(this))));
        uint256[] memory chosen = _pick(candidates, r.n, seed);
        // The pool may have shrunk since the request (a node slashed, a notice that ends before the round does):
        // a dispute among these seats must still find a committee.
        if (chosen.length < r.n || !_roomForCommittee(r, chosen)) {
            _fail(requestId, r);
            return;
        }
        Seat[] storage seats = _seats[requestId];
        for (uint256 i = 0; i < chosen.length; ++i) {
            // Its price now (kept by the registry after it left the task), never above the request's cap.
            uint128 price = taskRegistry.getSubscription(r.taskId, chosen[i]).pricePerMillion;
            if (price > r.maxPricePerMillion) price = r.maxPricePerMillion;
            seats.push(
                Seat({
                    nodeId: uint64(chosen[i]),
                    isSealed: false,
                    isRevealed: false,
                    pricePerMillion: price,
                    seal: 0,
                    root: 0,
                    leaf: 0
                })
            );
            nodeRegistry.addObligation(chosen[i]);
        }
        uint64 window = params.commitWindow;
        r.status = Status.Committing;
        r.sealDeadline = uint64(block.timestamp) + window;
        r.revealDeadline = r.sealDeadline + window;
        emit SeatsDrawn(requestId, chosen, r.sealDeadline, r.revealDeadline);
    }

    /// Seat at 1-based `index` seals `ConsensusCommitment.seal(requestId, index, root, leaf, salt)`.
    function sealResult(uint256 requestId, uint256 index, bytes32 seal) external {
        Request storage r = _committing(requestId);
        if (block.timestamp > r.sealDeadline) revert DeadlinePassed(requestId, r.sealDeadline);
        Seat storage seat = _seatOf(requestId, r, index);
        if (seat.isSealed) revert AlreadySealed(requestId, index);
        if (seal == 0) revert InvalidCommitment();
        seat.isSealed = true;
        seat.seal = seal;
        ++r.sealCount;
        emit ResultSealed(requestId, seat.nodeId, index);
    }

    /// Opens a seal, once every seat has sealed or the seal window has closed. The last reveal closes the round.
    function revealResult(uint256 requestId, uint256 index, bytes32 root, bytes32 leaf, bytes32 salt)
        external
        nonReentrant
    {
        Request storage r = _committing(requestId);
        if (r.sealCount < r.n && block.timestamp <= r.sealDeadline) revert RevealNotOpen(requestId);
        if (block.timestamp > r.revealDeadline) revert DeadlinePassed(requestId, r.revealDeadline);
        Seat storage seat = _seatOf(requestId, r, index);
        if (!seat.isSealed) revert NotSealed(requestId, index);
        if (seat.isRevealed) revert AlreadyRevealed(requestId, index);
        if (root == 0 || leaf == 0 || ConsensusCommitment.seal(requestId, index, root, leaf, salt) != seat.seal) {
            revert SealMismatch(requestId, index);
        }
        seat.isRevealed = true;
        seat.root = root;
        seat.leaf = leaf;
        emit ResultRevealed(requestId, seat.nodeId, index, root, leaf);
        if (++r.revealCount == r.sealCount) _close(requestId, r);
    }

    /// Ends the round once the seal window closed and every sealed seat revealed, or the reveal window closed.
    /// Seats that never sealed lose the timeout share, seats that sealed but did not reveal all their collateral;
    /// the revealed roots are then judged. When no seat sealed, nobody is slashed and the requester is refunded.
    function closeRound(uint256 requestId) external nonReentrant {
        Request storage r = _committing(requestId);
        if (block.timestamp <= r.sealDeadline) revert DeadlineNotPassed(requestId, r.sealDeadline);
        if (r.revealCount < r.sealCount && block.timestamp <= r.revealDeadline) {
            revert DeadlineNotPassed(requestId, r.revealDeadline);
        }
        _close(requestId, r);
    }

    /// Delivers the output and unit count the seats agreed on; they must hash to the agreed root. Anyone may.
    function deliverResult(uint256 requestId, bytes calldata output, uint64 units) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != Status.Delivering) revert WrongStatus(requestId, r.status);
        if (block.timestamp > r.deliveryDeadline) revert DeadlinePassed(requestId, r.deliveryDeadline);
        if (output.length > params.maxOutputBytes) revert OutputTooLarge(output.length, params.maxOutputBytes);
        if (units > r.maxUnits) revert UnitsAboveMax(units, r.maxUnits);
        if (ConsensusCommitment.root(output, units, r.n) != r.agreedRoot) revert OutputDoesNotMatchRoot(requestId);
        r.status = Status.Delivered;
        uint256[] memory paid = _payAndSlash(requestId, r, output, units);
        emit ResultDelivered(requestId, output, units, paid);
        _callBack(requestId, r, output);
    }

    /// Past the delivery deadline without delivery: the requester is refunded; the agreeing seats, which held
    /// the output back, lose the timeout share.
    function timeoutDelivery(uint256 requestId) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != Status.Delivering) revert WrongStatus(requestId, r.status);
        if (block.timestamp <= r.deliveryDeadline) revert DeadlineNotPassed(requestId, r.deliveryDeadline);
        Seat[] storage seats = _seats[requestId];
        for (uint256 i = 0; i < seats.length; ++i) {
            if (!seats[i].isRevealed || seats[i].root != r.agreedRoot) continue;
            nodeRegistry.removeObligation(seats[i].nodeId);
            nodeRegistry.slashTimeout(seats[i].nodeId, address(0));
        }
        _fail(requestId, r);
    }

    /// The dispute manager resolved the request's dispute (losers are already slashed).
    function onDisputeResolved(uint256 requestId, bool decided, bytes32 winner) external {
        if (msg.sender != address(disputeManager)) revert NotDisputeManager(msg.sender);
        Request storage r = _existing(requestId);
        if (r.status != Status.Disputed) revert WrongStatus(requestId, r.status);
        Seat[] storage seats = _seats[requestId];
        for (uint256 i = 0; i < seats.length; ++i) {
            if (!seats[i].isRevealed) continue;
            if (!decided || seats[i].root != winner) nodeRegistry.removeObligation(seats[i].nodeId);
        }
        if (!decided) {
            _fail(requestId, r);
            return;
        }
        _agree(requestId, r, winner);
    }

    // ---------------------------------------------------------------- views

    /// The root a node commits to for `shown` = output ‖ uint64 units on this request (what a dispute committee
    /// member's shown bytes must match); zero when `shown` is too short to carry the units.
    function outputRoot(uint256 requestId, bytes calldata shown) external view returns (bytes32) {
        uint256 n = _existing(requestId).n;
        if (shown.length < 8) return bytes32(0);
        uint256 split = shown.length - 8;
        return ConsensusCommitment.root(shown[:split], uint64(bytes8(shown[split:])), n);
    }

    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    function seatsOf(uint256 requestId) external view returns (Seat[] memory) {
        return _seats[requestId];
    }

    // ---------------------------------------------------------------- internals

    /// The first `n` of `candidates`, in the permutation `seed` gives them (Fisher–Yates), that still hold
    /// collateral as registered nodes (active or deregistered, never slashed): a candidate keeps its place even if
    /// it left the task, raised its price or became otherwise ineligible since the request, so leaving can neither
    /// steer nor shrink the seats; drawn, it answers or pays the timeout share (as DisputeManager._pick, review H1).
    function _pick(uint256[] calldata candidates, uint256 n, uint256 seed)
        internal
        view
        returns (uint256[] memory chosen)
    {
        uint256[] memory order = candidates;
        chosen = new uint256[](n);
        uint256 found;
        for (uint256 i = 0; i < order.length && found < n; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (order.length - i);
            (order[i], order[j]) = (order[j], order[i]);
            INodeRegistry.Node memory node = nodeRegistry.getNode(order[i]);
            if (node.collateral != 0 && node.status != INodeRegistry.NodeStatus.Slashed) chosen[found++] = order[i];
        }
        assembly ("memory-safe") {
            mstore(chosen, found)
        }
    }

    function _existing(uint256 requestId) internal view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
    }

    function _committing(uint256 requestId) internal view returns (Request storage r) {
        r = _existing(requestId);
        if (r.status != Status.Committing) revert WrongStatus(requestId, r.status);
    }

    function _seatOf(uint256 requestId, Request storage r, uint256 index) internal view returns (Seat storage seat) {
        if (index == 0 || index > r.n) revert NotSeatHolder(requestId, index, msg.sender);
        seat = _seats[requestId][index - 1];
        if (!nodeRegistry.isNodeActor(seat.nodeId, msg.sender)) revert NotSeatHolder(requestId, index, msg.sender);
    }

    function _close(uint256 requestId, Request storage r) internal {
        Seat[] storage seats = _seats[requestId];
        bool anySealed = r.sealCount > 0;
        for (uint256 i = 0; i < seats.length; ++i) {
            Seat storage seat = seats[i];
            if (seat.isRevealed) continue;
            nodeRegistry.removeObligation(seat.nodeId);
            // Nobody sealed: the request is the likelier culprit than n nodes at once; nobody is slashed.
            if (!anySealed) continue;
            if (!seat.isSealed) {
                nodeRegistry.slashTimeout(seat.nodeId, address(0));
                emit NodeTimedOut(requestId, seat.nodeId);
            } else {
                // It chose not to open its seal after seeing the others': that choice must never pay.
                nodeRegistry.slashFraud(seat.nodeId, address(0), new uint256[](0));
                emit SealNotRevealed(requestId, seat.nodeId);
            }
        }
        _evaluate(requestId, r);
    }

    function _evaluate(uint256 requestId, Request storage r) internal {
        Seat[] storage seats = _seats[requestId];
        uint256 present = r.revealCount;
        if (present == 0) {
            _fail(requestId, r);
            return;
        }
        uint256[] memory nodeIds = new uint256[](present);
        bytes32[] memory roots = new bytes32[](present);
        bool same = true;
        uint256 k;
        for (uint256 i = 0; i < seats.length; ++i) {
            if (!seats[i].isRevealed) continue;
            nodeIds[k] = seats[i].nodeId;
            roots[k] = seats[i].root;
            if (roots[k] != roots[0]) same = false;
            ++k;
        }
        if (same) {
            _agree(requestId, r, roots[0]);
            return;
        }
        r.status = Status.Disputed;
        uint256 disputeId =
            disputeManager.openConsensusDispute(requestId, r.taskId, r.echelon, address(0), nodeIds, roots);
        emit ConsensusDisputed(requestId, disputeId);
    }

    function _agree(uint256 requestId, Request storage r, bytes32 root) internal {
        r.agreedRoot = root;
        r.status = Status.Delivering;
        r.deliveryDeadline = uint64(block.timestamp) + params.deliveryWindow;
        emit ConsensusReached(requestId, root, r.deliveryDeadline);
    }

    function _fail(uint256 requestId, Request storage r) internal {
        r.status = Status.Failed;
        uint256 refunded = vault.refund(escrowKey(requestId), r.requester);
        emit ConsensusFailed(requestId, refunded);
    }

    /// Pays, for the agreed `units`, every seat that revealed the agreed root with its correct leaf; slashes in
    /// full those whose leaf does not match (they did not compute the output). Returns the paid node ids.
    function _payAndSlash(uint256 requestId, Request storage r, bytes calldata output, uint64 units)
        internal
        returns (uint256[] memory paid)
    {
        Seat[] storage seats = _seats[requestId];
        paid = new uint256[](seats.length);
        uint256[] memory lazy = new uint256[](seats.length);
        uint256 h;
        uint256 l;
        for (uint256 i = 0; i < seats.length; ++i) {
            Seat storage seat = seats[i];
            if (!seat.isRevealed || seat.root != r.agreedRoot) continue;
            if (seat.leaf == ConsensusCommitment.leaf(output, units, i + 1)) {
                paid[h++] = i;
            } else {
                nodeRegistry.removeObligation(seat.nodeId);
                lazy[l++] = seat.nodeId;
            }
        }
        assembly ("memory-safe") {
            mstore(paid, h)
            mstore(lazy, l)
        }
        _pay(requestId, r, paid, units);
        for (uint256 i = 0; i < l; ++i) {
            nodeRegistry.slashFraud(lazy[i], address(0), paid);
            emit LazyNodeSlashed(requestId, lazy[i]);
        }
    }

    /// `seatIndexes` in, node ids out (in place), after crediting each its fee less the model owner's share.
    function _pay(uint256 requestId, Request storage r, uint256[] memory seatIndexes, uint64 units) internal {
        Seat[] storage seats = _seats[requestId];
        (address modelOwner, uint16 feeBps) = modelRegistry.feeTerms(taskRegistry.getTask(r.taskId).modelId);
        uint256[] memory amounts = new uint256[](seatIndexes.length);
        uint256 modelAmount;
        for (uint256 i = 0; i < seatIndexes.length; ++i) {
            Seat storage seat = seats[seatIndexes[i]];
            uint256 cost = Units.cost(units, seat.pricePerMillion);
            uint256 share = cost * feeBps / BPS;
            modelAmount += share;
            amounts[i] = cost - share;
            seatIndexes[i] = seat.nodeId;
            nodeRegistry.releaseObligation(seat.nodeId, true);
        }
        bytes32 key = escrowKey(requestId);
        vault.payNodes(key, seatIndexes, amounts, modelOwner, modelAmount);
        vault.refund(key, r.requester);
    }

    function _callBack(uint256 requestId, Request storage r, bytes calldata output) internal {
        address requester = r.requester;
        uint256 gas = r.callbackGas;
        if (requester.code.length == 0 || gas == 0) return;
        // EIP-150 passes at most 63/64 of what is left: make sure the stipend the requester asked for is there.
        if (gasleft() < gas + gas / 63 + CALLBACK_RESERVE) {
            revert InsufficientGasForCallback(gasleft(), gas + gas / 63 + CALLBACK_RESERVE);
        }
        try IAtomaConsumer(requester).onAtomaResult{gas: gas}(requestId, output) {
            emit CallbackResult(requestId, true);
        } catch {
            emit CallbackResult(requestId, false);
        }
    }
}
