// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {RandomSource} from "../common/RandomSource.sol";
import {Units} from "../common/Units.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @title StackManager: users buy stacks of compute units for a task; the contract picks the serving node.
/// @notice The node is drawn uniformly at random among the task's eligible subscribers (price at most the
/// buyer's cap, room for the units, reputation at least the task's minimum, active). The buyer's TOMA is locked
/// in the vault: price × units, plus the verification surcharge of the task's security level, which pays the
/// attesters if the settlement is sampled and is refunded otherwise. This contract is the EIP-712 verifying
/// contract of the owner's request signatures and the node's response signatures (domain "Atoma", version "1").
contract StackManager is IStackManager, AtomaAccess, EIP712, RandomSource, ReentrancyGuardTransient {
    uint256 internal constant BPS = 10_000;

    struct Params {
        uint64 minDuration;
        uint64 maxDuration;
        /// Seconds after expiry (or the owner's close) within which the node must submit its settlement.
        uint64 settleWindow;
        uint64 maxUnits;
        /// Verification surcharge of security level 1, in bps of the stack's price.
        uint16 surchargeBps;
    }

    ITaskRegistry public immutable taskRegistry;
    INodeRegistry public immutable nodeRegistry;
    IModelRegistry public immutable modelRegistry;
    IAtomaVault public immutable vault;
    Params public params;

    uint256 public stackCount;
    mapping(uint256 stackId => Stack) internal _stacks;

    event StackBought(
        uint256 indexed stackId,
        address indexed owner,
        uint256 indexed nodeId,
        uint256 taskId,
        uint64 units,
        uint128 pricePerMillion,
        uint256 escrow,
        uint64 expiresAt
    );
    event StackClosed(uint256 indexed stackId, uint256 indexed nodeId, uint256 settleDeadline);
    event ParamsUpdated(Params params);

    error UnknownStack(uint256 stackId);
    error NotStackOwner(uint256 stackId, address caller);
    error StackNotActive(uint256 stackId);
    error TaskUnavailable(uint256 taskId);
    error InvalidUnits(uint64 units, uint64 maxUnits);
    error InvalidDuration(uint64 duration);
    error NoEligibleNode(uint256 taskId);
    error NotServingNode(uint256 stackId, address caller);
    error SettlementTooLate(uint256 stackId, uint256 deadline);
    error UnitsExceedStack(uint64 units, uint64 bought);

    constructor(
        address admin,
        ITaskRegistry taskRegistry_,
        INodeRegistry nodeRegistry_,
        IModelRegistry modelRegistry_,
        IAtomaVault vault_,
        Params memory params_
    ) AtomaAccess(admin) EIP712("Atoma", "1") {
        if (
            address(taskRegistry_) == address(0) || address(nodeRegistry_) == address(0)
                || address(modelRegistry_) == address(0) || address(vault_) == address(0)
        ) revert ZeroAddress();
        taskRegistry = taskRegistry_;
        nodeRegistry = nodeRegistry_;
        modelRegistry = modelRegistry_;
        vault = vault_;
        _setParams(params_);
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.minDuration >= 60 && p.minDuration <= p.maxDuration, "minDuration", p.minDuration);
        _check(p.maxDuration <= 365 days, "maxDuration", p.maxDuration);
        _check(p.settleWindow >= 60 && p.settleWindow <= 30 days, "settleWindow", p.settleWindow);
        _check(p.maxUnits >= 1 && p.maxUnits <= 1e15, "maxUnits", p.maxUnits);
        _check(p.surchargeBps <= 5_000, "surchargeBps", p.surchargeBps);
        params = p;
        emit ParamsUpdated(p);
    }

    /// The key of a stack's escrow in the vault.
    function escrowKey(uint256 stackId) public pure returns (bytes32) {
        return bytes32(stackId);
    }

    /// Buys `units` compute units on `taskId` at a price per million of at most `maxPricePerMillion`, valid for
    /// `duration` seconds. Pulls the escrow from the caller (approve the vault first).
    function buyStack(uint256 taskId, uint64 units, uint128 maxPricePerMillion, uint64 duration)
        external
        nonReentrant
        returns (uint256 stackId, uint256 nodeId)
    {
        Params memory p = params;
        if (units == 0 || units > p.maxUnits) revert InvalidUnits(units, p.maxUnits);
        if (duration < p.minDuration || duration > p.maxDuration) revert InvalidDuration(duration);
        ITaskRegistry.Task memory task = taskRegistry.getTask(taskId);
        if (
            !task.active || uint8(task.securityLevel) > uint8(ITaskRegistry.SecurityLevel.CrossValidation)
                || !modelRegistry.isActive(task.modelId)
        ) revert TaskUnavailable(taskId);
        stackId = ++stackCount;
        uint256[] memory drawn = taskRegistry.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: type(uint32).max,
                count: 1,
                maxPrice: maxPricePerMillion,
                units: units,
                exclude: new uint256[](0),
                seed: _random(bytes32(stackId))
            })
        );
        if (drawn.length == 0) revert NoEligibleNode(taskId);
        nodeId = drawn[0];
        _open(stackId, taskId, nodeId, units, uint64(block.timestamp) + duration, uint8(task.securityLevel));
    }

    function _open(uint256 stackId, uint256 taskId, uint256 nodeId, uint64 units, uint64 expiresAt, uint8 level)
        internal
    {
        uint16 surchargeBps = level == uint8(ITaskRegistry.SecurityLevel.CrossValidation) ? params.surchargeBps : 0;
        uint128 price = taskRegistry.getSubscription(taskId, nodeId).pricePerMillion;
        uint256 cost = Units.cost(units, price);
        uint256 escrow = cost + cost * surchargeBps / BPS;
        _stacks[stackId] = Stack({
            owner: msg.sender,
            taskId: uint64(taskId),
            status: StackStatus.Active,
            securityLevel: level,
            nodeId: uint64(nodeId),
            units: units,
            expiresAt: expiresAt,
            closedAt: 0,
            pricePerMillion: price,
            escrow: uint128(escrow)
        });
        taskRegistry.reserve(taskId, nodeId, units);
        nodeRegistry.addObligation(nodeId);
        vault.lock(escrowKey(stackId), msg.sender, escrow);
        emit StackBought(stackId, msg.sender, nodeId, taskId, units, price, escrow, expiresAt);
    }

    /// The owner asks the node to settle now: the stack stops serving and the settlement deadline starts.
    function closeStack(uint256 stackId) external {
        Stack storage stack = _existing(stackId);
        if (stack.owner != msg.sender) revert NotStackOwner(stackId, msg.sender);
        if (stack.status != StackStatus.Active || stack.closedAt != 0) revert StackNotActive(stackId);
        stack.closedAt = uint64(block.timestamp);
        emit StackClosed(stackId, stack.nodeId, settleDeadline(stackId));
    }

    // ---------------------------------------------------------------- protocol

    /// The node (`caller` must act for it) submits its settlement of `units`, by the deadline: the stack serves
    /// no more and its capacity is freed. Returns the stack, so the settlement needs no second call.
    function markSettling(uint256 stackId, address caller, uint64 units)
        external
        onlyRole(PROTOCOL_ROLE)
        returns (Stack memory stack)
    {
        Stack storage stored = _existing(stackId);
        if (stored.status != StackStatus.Active) revert StackNotActive(stackId);
        stack = stored;
        if (!nodeRegistry.isNodeActor(stack.nodeId, caller)) revert NotServingNode(stackId, caller);
        uint256 deadline = settleDeadline(stackId);
        if (block.timestamp > deadline) revert SettlementTooLate(stackId, deadline);
        if (units > stack.units) revert UnitsExceedStack(units, stack.units);
        stored.status = StackStatus.Settling;
        taskRegistry.release(stack.taskId, stack.nodeId, stack.units);
    }

    /// The stack's escrow is paid out: the node's obligation ends, with a reputation point when it was honest.
    function markClosed(uint256 stackId, bool honest) external onlyRole(PROTOCOL_ROLE) {
        Stack storage stack = _existing(stackId);
        StackStatus previous = stack.status;
        if (previous == StackStatus.Closed) revert StackNotActive(stackId);
        stack.status = StackStatus.Closed;
        if (previous == StackStatus.Active) taskRegistry.release(stack.taskId, stack.nodeId, stack.units);
        nodeRegistry.releaseObligation(stack.nodeId, honest);
    }

    // ---------------------------------------------------------------- views

    function getStack(uint256 stackId) external view returns (Stack memory) {
        return _stacks[stackId];
    }

    /// Unix time by which the node must submit its settlement: expiry (or the owner's close) plus the window.
    function settleDeadline(uint256 stackId) public view returns (uint256) {
        Stack storage stack = _stacks[stackId];
        uint256 end = stack.closedAt != 0 && stack.closedAt < stack.expiresAt ? stack.closedAt : stack.expiresAt;
        return end + params.settleWindow;
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function requestDigest(AtomaTypedData.Request calldata request) public view returns (bytes32) {
        return _hashTypedDataV4(AtomaTypedData.hashRequest(request));
    }

    function responseDigest(AtomaTypedData.Response calldata response) public view returns (bytes32) {
        return _hashTypedDataV4(AtomaTypedData.hashResponse(response));
    }

    /// The signer of an owner's request signature, or the zero address when the signature is malformed.
    function recoverRequestSigner(AtomaTypedData.Request calldata request, bytes calldata signature)
        external
        view
        returns (address signer)
    {
        (signer,,) = ECDSA.tryRecoverCalldata(requestDigest(request), signature);
    }

    /// The signer of a node's response signature, or the zero address when the signature is malformed.
    function recoverResponseSigner(AtomaTypedData.Response calldata response, bytes calldata signature)
        external
        view
        returns (address signer)
    {
        (signer,,) = ECDSA.tryRecoverCalldata(responseDigest(response), signature);
    }

    function _existing(uint256 stackId) internal view returns (Stack storage stack) {
        stack = _stacks[stackId];
        if (stack.status == StackStatus.None) revert UnknownStack(stackId);
    }
}
