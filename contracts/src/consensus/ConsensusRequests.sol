// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {ConsensusCommitment} from "../common/ConsensusCommitment.sol";
import {RandomSource} from "../common/RandomSource.sol";
import {Units} from "../common/Units.sol";
import {IAtomaConsumer} from "../interfaces/IAtomaConsumer.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {IConsensusDisputeOrigin, IDisputeManager} from "../interfaces/IDisputeManager.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @title ConsensusRequests: n-node Sampling Consensus for requests made by smart contracts (whitepaper §2.6).
/// @notice A contract submits a prompt, a task of security level 2 and n; n distinct nodes of one echelon are
/// drawn among the task's subscribers. Node i (1-based) commits root = H(H(O‖1) ‖ … ‖ H(O‖n)) and its own leaf
/// H(O‖i): only a node that computed O can produce its leaf, so copying a commitment does not pass. When the
/// roots agree, anyone delivers O; the contract checks it against the root, pays every node whose leaf matches,
/// slashes any whose leaf does not, refunds the rest of the escrow and calls the requester back
/// (`onAtomaResult`) with the gas stipend it asked for. Different roots open a dispute. Nodes that miss the
/// commit deadline are slashed the timeout share and the request proceeds with those that committed.
contract ConsensusRequests is IConsensusDisputeOrigin, AtomaAccess, RandomSource, ReentrancyGuardTransient {
    uint256 internal constant BPS = 10_000;
    /// Gas kept back for the bookkeeping after the callback returns.
    uint256 internal constant CALLBACK_RESERVE = 20_000;

    enum Status {
        None,
        Committing,
        Delivering,
        Disputed,
        Delivered,
        Failed
    }

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
        uint8 committed;
        uint32 echelon;
        uint32 callbackGas;
        uint64 taskId;
        uint64 maxUnits;
        uint64 commitDeadline;
        uint64 deliveryDeadline;
        uint128 maxPricePerMillion;
        bytes32 promptHash;
        bytes32 agreedRoot;
    }

    struct Seat {
        uint64 nodeId;
        bool committed;
        bool absent;
        uint64 units;
        uint128 pricePerMillion;
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
        uint256[] nodeIds,
        bytes prompt,
        uint64 maxUnits,
        uint64 commitDeadline
    );
    event ResultCommitted(uint256 indexed requestId, uint256 indexed nodeId, uint256 index, bytes32 root, bytes32 leaf);
    event NodeTimedOut(uint256 indexed requestId, uint256 indexed nodeId);
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
    error WrongStatus(uint256 requestId, Status status);
    error NotSeatHolder(uint256 requestId, uint256 index, address caller);
    error AlreadyCommitted(uint256 requestId, uint256 index);
    error InvalidCommitment();
    error DeadlinePassed(uint256 requestId, uint256 deadline);
    error DeadlineNotPassed(uint256 requestId, uint256 deadline);
    error OutputDoesNotMatchRoot(uint256 requestId);
    error OutputTooLarge(uint256 size, uint256 max);
    error InsufficientGasForCallback(uint256 available, uint256 needed);
    error NotDisputeManager(address caller);

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
        _check(p.maxOutputBytes >= 1 && p.maxOutputBytes <= 64_000, "maxOutputBytes", p.maxOutputBytes);
        _check(p.maxNodes >= 1 && p.maxNodes <= 32, "maxNodes", p.maxNodes);
        params = p;
        emit ParamsUpdated(p);
    }

    function escrowKey(uint256 requestId) public pure returns (bytes32) {
        return keccak256(abi.encode("atoma.consensus", requestId));
    }

    /// Asks n nodes of `echelon` for the output of `prompt` on `taskId`, paying each at most
    /// `maxPricePerMillion` per million units for at most `maxUnits` units. The escrow, n × cost(maxUnits,
    /// maxPricePerMillion), is pulled from the caller (approve the vault first); what is not paid is refunded.
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
        requestId = ++requestCount;
        uint256[] memory chosen = _drawNodes(requestId, taskId, n, maxPricePerMillion, echelon);
        uint64 commitDeadline = _store(requestId, taskId, n, maxUnits, maxPricePerMillion, echelon, callbackGas);
        _requests[requestId].promptHash = keccak256(prompt);
        vault.lock(escrowKey(requestId), msg.sender, n * Units.cost(maxUnits, maxPricePerMillion));
        emit ConsensusRequested(requestId, msg.sender, taskId, chosen, prompt, maxUnits, commitDeadline);
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

    function _store(
        uint256 requestId,
        uint256 taskId,
        uint8 n,
        uint64 maxUnits,
        uint128 maxPricePerMillion,
        uint32 echelon,
        uint32 callbackGas
    ) internal returns (uint64 commitDeadline) {
        Request storage r = _requests[requestId];
        commitDeadline = uint64(block.timestamp) + params.commitWindow;
        r.requester = msg.sender;
        r.status = Status.Committing;
        r.n = n;
        r.echelon = echelon;
        r.callbackGas = callbackGas;
        r.taskId = uint64(taskId);
        r.maxUnits = maxUnits;
        r.commitDeadline = commitDeadline;
        r.maxPricePerMillion = maxPricePerMillion;
    }

    function _drawNodes(uint256 requestId, uint256 taskId, uint8 n, uint128 maxPrice, uint32 echelon)
        internal
        returns (uint256[] memory chosen)
    {
        chosen = taskRegistry.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: echelon,
                count: n,
                maxPrice: maxPrice,
                units: 0,
                exclude: new uint256[](0),
                seed: _random(bytes32(requestId))
            })
        );
        if (chosen.length < n) revert NotEnoughNodes(chosen.length, n);
        Seat[] storage seats = _seats[requestId];
        for (uint256 i = 0; i < n; ++i) {
            seats.push(
                Seat({
                    nodeId: uint64(chosen[i]),
                    committed: false,
                    absent: false,
                    units: 0,
                    pricePerMillion: taskRegistry.getSubscription(taskId, chosen[i]).pricePerMillion,
                    root: 0,
                    leaf: 0
                })
            );
            nodeRegistry.addObligation(chosen[i]);
        }
    }

    /// Node at 1-based `index` commits (root, its leaf, the units the request used).
    function commitResult(uint256 requestId, uint256 index, bytes32 root, bytes32 leaf, uint64 units) external {
        Request storage r = _existing(requestId);
        if (r.status != Status.Committing) revert WrongStatus(requestId, r.status);
        if (block.timestamp > r.commitDeadline) revert DeadlinePassed(requestId, r.commitDeadline);
        if (index == 0 || index > r.n) revert NotSeatHolder(requestId, index, msg.sender);
        Seat storage seat = _seats[requestId][index - 1];
        if (!nodeRegistry.isNodeActor(seat.nodeId, msg.sender)) revert NotSeatHolder(requestId, index, msg.sender);
        if (seat.committed) revert AlreadyCommitted(requestId, index);
        if (root == 0 || leaf == 0 || units == 0 || units > r.maxUnits) revert InvalidCommitment();
        seat.committed = true;
        seat.root = root;
        seat.leaf = leaf;
        seat.units = units;
        emit ResultCommitted(requestId, seat.nodeId, index, root, leaf);
        if (++r.committed == r.n) _evaluate(requestId, r);
    }

    /// Past the commit deadline: nodes that did not commit are slashed the timeout share; the rest proceed.
    function timeoutCommits(uint256 requestId) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != Status.Committing) revert WrongStatus(requestId, r.status);
        if (block.timestamp <= r.commitDeadline) revert DeadlineNotPassed(requestId, r.commitDeadline);
        Seat[] storage seats = _seats[requestId];
        for (uint256 i = 0; i < seats.length; ++i) {
            if (seats[i].committed) continue;
            seats[i].absent = true;
            nodeRegistry.removeObligation(seats[i].nodeId);
            nodeRegistry.slashTimeout(seats[i].nodeId, r.requester);
            emit NodeTimedOut(requestId, seats[i].nodeId);
        }
        _evaluate(requestId, r);
    }

    /// Delivers the output the nodes agreed on; it must hash to the agreed root. Anyone may deliver.
    function deliverResult(uint256 requestId, bytes calldata output) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != Status.Delivering) revert WrongStatus(requestId, r.status);
        if (block.timestamp > r.deliveryDeadline) revert DeadlinePassed(requestId, r.deliveryDeadline);
        if (output.length > params.maxOutputBytes) revert OutputTooLarge(output.length, params.maxOutputBytes);
        if (ConsensusCommitment.root(output, r.n) != r.agreedRoot) revert OutputDoesNotMatchRoot(requestId);
        r.status = Status.Delivered;
        (uint256[] memory paid, uint64 units) = _payAndSlash(requestId, r, output);
        emit ResultDelivered(requestId, output, units, paid);
        _callBack(requestId, r, output);
    }

    /// Past the delivery deadline without delivery: the requester is refunded; the agreeing nodes, which held
    /// the output back, are slashed the timeout share.
    function timeoutDelivery(uint256 requestId) external nonReentrant {
        Request storage r = _existing(requestId);
        if (r.status != Status.Delivering) revert WrongStatus(requestId, r.status);
        if (block.timestamp <= r.deliveryDeadline) revert DeadlineNotPassed(requestId, r.deliveryDeadline);
        Seat[] storage seats = _seats[requestId];
        for (uint256 i = 0; i < seats.length; ++i) {
            if (!seats[i].committed || seats[i].root != r.agreedRoot) continue;
            nodeRegistry.removeObligation(seats[i].nodeId);
            nodeRegistry.slashTimeout(seats[i].nodeId, r.requester);
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
            if (!seats[i].committed) continue;
            if (!decided || seats[i].root != winner) nodeRegistry.removeObligation(seats[i].nodeId);
        }
        if (!decided) {
            _fail(requestId, r);
            return;
        }
        _agree(requestId, r, winner);
    }

    // ---------------------------------------------------------------- views

    /// The root a node commits to for `output` on this request (what a dispute committee member's shown output
    /// must match).
    function outputRoot(uint256 requestId, bytes calldata output) external view returns (bytes32) {
        return ConsensusCommitment.root(output, _existing(requestId).n);
    }

    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    function seatsOf(uint256 requestId) external view returns (Seat[] memory) {
        return _seats[requestId];
    }

    // ---------------------------------------------------------------- internals

    function _existing(uint256 requestId) internal view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
    }

    function _evaluate(uint256 requestId, Request storage r) internal {
        Seat[] storage seats = _seats[requestId];
        uint256 present;
        bytes32 root;
        bool same = true;
        for (uint256 i = 0; i < seats.length; ++i) {
            if (!seats[i].committed) continue;
            if (present == 0) root = seats[i].root;
            else if (seats[i].root != root) same = false;
            ++present;
        }
        if (present == 0) {
            _fail(requestId, r);
            return;
        }
        if (same) {
            _agree(requestId, r, root);
            return;
        }
        r.status = Status.Disputed;
        uint256[] memory nodeIds = new uint256[](present);
        bytes32[] memory roots = new bytes32[](present);
        uint256 k;
        for (uint256 i = 0; i < seats.length; ++i) {
            if (!seats[i].committed) continue;
            nodeIds[k] = seats[i].nodeId;
            roots[k++] = seats[i].root;
        }
        uint256 disputeId =
            disputeManager.openConsensusDispute(requestId, r.taskId, r.echelon, r.requester, nodeIds, roots);
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

    /// Pays every node that committed the agreed root with its correct leaf, at the fewest units any of them
    /// reported; slashes in full those whose leaf does not match the output (they did not compute it).
    function _payAndSlash(uint256 requestId, Request storage r, bytes calldata output)
        internal
        returns (uint256[] memory paid, uint64 units)
    {
        Seat[] storage seats = _seats[requestId];
        paid = new uint256[](seats.length);
        uint256[] memory lazy = new uint256[](seats.length);
        uint256 h;
        uint256 l;
        units = type(uint64).max;
        for (uint256 i = 0; i < seats.length; ++i) {
            Seat storage seat = seats[i];
            if (!seat.committed || seat.root != r.agreedRoot) continue;
            if (seat.leaf == ConsensusCommitment.leaf(output, i + 1)) {
                paid[h++] = i;
                if (seat.units < units) units = seat.units;
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
            nodeRegistry.slashFraud(lazy[i], r.requester, paid);
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
