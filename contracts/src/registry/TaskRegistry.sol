// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../common/AtomaAccess.sol";
import {IAttestationRegistry} from "../interfaces/IAttestationRegistry.sol";
import {Units} from "../common/Units.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @title TaskRegistry: tasks (role, model, security level, minimum reputation, verification parameters) and the
/// nodes subscribed to them with a price per 1M compute units, a capacity and bonded collateral.
/// @notice Each subscription bonds at least `minSubscriptionCollateral` of the node's collateral (the node registry
/// refuses more than the node has free), and a stack is assigned to a subscription only while the value of its
/// unsettled units, the new stack's included, stays within that bond.
/// @notice `draw` picks nodes uniformly at random among a task's eligible subscribers; the stack, settlement,
/// dispute and consensus contracts use it for serving nodes, attesters, committees and n-node requests.
/// @notice Leaving a task takes `exitNotice`: `unsubscribe` stops new work at once (no new stack or consensus
/// seat), but the subscription stays a checking candidate (attesters, dispute committees) with its bond in place
/// until the notice ends; then anyone completes the exit (`completeExit`) and the bond is released. The notice
/// covers the longest path from a purchase to its dispute committee being frozen (the stack and settlement
/// contracts refuse parameters that would not fit it), so the peers counted when a stack is sold are still there
/// to check it. Subscribing again during the notice cancels it. A node whose collateral falls below the minimum or
/// its bonds (timeout slashes) is put on notice from all its tasks the same way (`startExitAll`), and subscribes
/// again only once topped up: a worn-down node does not stay a checker with next to nothing at stake.
/// Security level 3 (confidential compute): a node subscribes, and is a candidate for new work, only while the
/// attestation registry accepts it for the task (a current record with an allowed measurement; the dev kind only
/// where governance allowed it). Once it does not (expired, measurement withdrawn), anyone may put the node's
/// confidential subscriptions on exit notice (`dropUnattested`, `dropUnattestedAll`). Such tasks are never
/// sampled: the attestation stands in for Sampling Consensus.
contract TaskRegistry is ITaskRegistry, AtomaAccess {
    uint256 public constant MAX_ROLE = 15;
    uint32 public constant PPM = 1_000_000;
    uint32 internal constant ANY_ECHELON = type(uint32).max;

    struct Params {
        uint32 minReplicationPpm;
        uint16 maxSubscribersPerTask;
        uint16 maxSubscriptionsPerNode;
        uint8 maxAttesters;
        uint16 maxSampleSize;
        /// The least collateral a subscription bonds: with it, a stake backs a bounded number of subscriptions.
        uint128 minSubscriptionCollateral;
        /// Seconds a leaving subscription stays a checking candidate, and a node's collateral stays after its
        /// deregistration or last obligation. At least a day; may be raised, never lowered.
        uint64 exitNotice;
    }

    INodeRegistry public immutable nodeRegistry;
    IModelRegistry public immutable modelRegistry;
    Params public params;
    /// The attestation registry that admits nodes to confidential tasks (wired once; until then, none exist).
    IAttestationRegistry public attestations;

    uint256 public taskCount;
    mapping(uint256 taskId => Task) internal _tasks;
    mapping(uint256 taskId => mapping(uint256 nodeId => Subscription)) internal _subscriptions;
    mapping(uint256 taskId => uint256[]) internal _subscribers;
    mapping(uint256 nodeId => uint256[]) internal _nodeTasks;
    /// 1-based positions in `_subscribers[taskId]` and `_nodeTasks[nodeId]`, 0 when absent.
    mapping(uint256 taskId => mapping(uint256 nodeId => uint256)) internal _subscriberPos;
    mapping(uint256 nodeId => mapping(uint256 taskId => uint256)) internal _taskPos;
    /// Nodes that ever subscribed to a confidential task (`ITaskRegistry.tookConfidential`): set once, never cleared.
    mapping(uint256 nodeId => bool) public tookConfidential;

    event TaskCreated(
        uint256 indexed taskId,
        bytes32 indexed modelId,
        uint8 role,
        SecurityLevel securityLevel,
        uint8 minReputation,
        uint32 replicationPpm,
        uint8 attesters,
        uint16 sampleSize,
        address creator
    );
    event TaskDeactivated(uint256 indexed taskId);
    event Subscribed(
        uint256 indexed taskId, uint256 indexed nodeId, uint128 pricePerMillion, uint64 capacity, uint128 collateral
    );
    event SubscriptionCollateralChanged(uint256 indexed taskId, uint256 indexed nodeId, uint128 collateral);
    event SubscriptionUpdated(
        uint256 indexed taskId, uint256 indexed nodeId, uint128 pricePerMillion, uint64 capacity
    );
    /// The node left the task for new work; it stays a checking candidate until `exitAt`.
    event ExitStarted(uint256 indexed taskId, uint256 indexed nodeId, uint64 exitAt);
    /// The exit is complete (or the node was slashed for fraud): the subscription and its bond are gone.
    event Unsubscribed(uint256 indexed taskId, uint256 indexed nodeId);
    event ParamsUpdated(Params params);
    /// A confidential subscription lost its attestation and was put on exit notice by `caller`.
    event UnattestedDropped(uint256 indexed taskId, uint256 indexed nodeId, address caller);

    error UnknownTask(uint256 taskId);
    error TaskInactive(uint256 taskId);
    error ModelNotActive(bytes32 modelId);
    error InvalidRole(uint8 role);
    error InvalidVerification(uint32 replicationPpm, uint8 attesters, uint16 sampleSize);
    error InvalidReputation(uint8 minReputation);
    /// A task takes subscribers with at least its minimum reputation (they then check others whatever happens to it).
    error ReputationTooLow(uint256 nodeId, uint8 reputation, uint8 minReputation);
    error NotTaskCreator(uint256 taskId, address caller);
    error NotNodeActor(uint256 nodeId, address caller);
    error NodeNotActive(uint256 nodeId);
    error AlreadySubscribed(uint256 taskId, uint256 nodeId);
    error NotSubscribed(uint256 taskId, uint256 nodeId);
    error NotBarred(uint256 nodeId);
    error InvalidCapacity();
    error TooManySubscribers(uint256 taskId);
    error TooManySubscriptions(uint256 nodeId);
    error SubscriptionCollateralTooLow(uint128 given, uint128 required);
    /// The node holds less than the node registry's minimum collateral or what it bonded: it tops up first.
    error NodeUnderfunded(uint256 nodeId);
    error NotLeaving(uint256 taskId, uint256 nodeId);
    error ExitNoticeRunning(uint256 taskId, uint256 nodeId, uint64 exitAt);
    /// The task is not confidential (security level 3).
    error NotConfidential(uint256 taskId);
    /// The node's attestation is current and allowed for the task: its subscription may not be dropped.
    error AttestationCurrent(uint256 taskId, uint256 nodeId);
    /// None of the node's confidential subscriptions can be dropped.
    error NothingToDrop(uint256 nodeId);

    constructor(address admin, INodeRegistry nodeRegistry_, IModelRegistry modelRegistry_, Params memory params_)
        AtomaAccess(admin)
    {
        if (address(nodeRegistry_) == address(0) || address(modelRegistry_) == address(0)) revert ZeroAddress();
        nodeRegistry = nodeRegistry_;
        modelRegistry = modelRegistry_;
        _setParams(params_);
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    /// Links the attestation registry once: confidential tasks can be created from then on.
    function wireAttestations(IAttestationRegistry attestations_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(attestations) != address(0)) revert AlreadyWired();
        if (address(attestations_) == address(0)) revert ZeroAddress();
        attestations = attestations_;
    }

    function _setParams(Params memory p) internal {
        _check(p.minReplicationPpm <= PPM, "minReplicationPpm", p.minReplicationPpm);
        _check(p.maxSubscribersPerTask >= 1 && p.maxSubscribersPerTask <= 512, "maxSubscribers", p.maxSubscribersPerTask);
        _check(
            p.maxSubscriptionsPerNode >= 1 && p.maxSubscriptionsPerNode <= 64,
            "maxSubscriptions",
            p.maxSubscriptionsPerNode
        );
        _check(p.maxAttesters >= 1 && p.maxAttesters <= 16, "maxAttesters", p.maxAttesters);
        _check(p.maxSampleSize >= 1 && p.maxSampleSize <= 64, "maxSampleSize", p.maxSampleSize);
        _check(
            p.minSubscriptionCollateral > 0 && p.minSubscriptionCollateral <= 1e36,
            "minSubscriptionCollateral",
            p.minSubscriptionCollateral
        );
        // A notice once given covers stacks sold under it: lowering it would shorten the notice of later exits
        // below what stacks in flight were sold with.
        _check(
            p.exitNotice >= 1 days && p.exitNotice <= 730 days && p.exitNotice >= params.exitNotice,
            "exitNotice",
            p.exitNotice
        );
        params = p;
        emit ParamsUpdated(p);
    }

    // ---------------------------------------------------------------- tasks

    /// Creates a task. Level 0 has no verification; level 1 samples `attesters` attesters with probability
    /// `replicationPpm`/1e6 per settlement and checks `sampleSize` requests; level 2 is n-node consensus for
    /// smart-contract requests (the request names n); level 3 is confidential compute, with no verification
    /// parameters (attested nodes only, never sampled), once the attestation registry is wired.
    function createTask(
        bytes32 modelId,
        uint8 role,
        SecurityLevel securityLevel,
        uint8 minReputation,
        uint32 replicationPpm,
        uint8 attesters,
        uint16 sampleSize
    ) external returns (uint256 taskId) {
        if (!modelRegistry.isActive(modelId)) revert ModelNotActive(modelId);
        if (role > MAX_ROLE) revert InvalidRole(role);
        if (minReputation > 100) revert InvalidReputation(minReputation);
        if (securityLevel == SecurityLevel.Confidential && address(attestations) == address(0)) revert NotWired();
        Params memory p = params;
        if (securityLevel == SecurityLevel.CrossValidation) {
            if (
                replicationPpm < p.minReplicationPpm || replicationPpm > PPM || replicationPpm == 0 || attesters == 0
                    || attesters > p.maxAttesters || sampleSize == 0 || sampleSize > p.maxSampleSize
            ) revert InvalidVerification(replicationPpm, attesters, sampleSize);
        } else if (replicationPpm != 0 || attesters != 0 || sampleSize != 0) {
            revert InvalidVerification(replicationPpm, attesters, sampleSize);
        }
        taskId = ++taskCount;
        _tasks[taskId] = Task({
            modelId: modelId,
            role: role,
            securityLevel: securityLevel,
            minReputation: minReputation,
            attesters: attesters,
            sampleSize: sampleSize,
            active: true,
            replicationPpm: replicationPpm,
            creator: msg.sender
        });
        emit TaskCreated(
            taskId, modelId, role, securityLevel, minReputation, replicationPpm, attesters, sampleSize, msg.sender
        );
    }

    /// No new stacks, requests or subscriptions on the task; what is under way completes.
    function deactivateTask(uint256 taskId) external {
        Task storage task = _existing(taskId);
        if (msg.sender != task.creator && !hasRole(GOVERNOR_ROLE, msg.sender)) {
            revert NotTaskCreator(taskId, msg.sender);
        }
        if (!task.active) revert TaskInactive(taskId);
        task.active = false;
        emit TaskDeactivated(taskId);
    }

    // ---------------------------------------------------------------- subscriptions

    function exitNotice() external view returns (uint64) {
        return params.exitNotice;
    }

    /// Offers the task at `pricePerMillion` for up to `capacity` unsettled units, bonding `collateral` of the
    /// node's collateral to it (the node must be in an approved echelon and have that much not yet bonded).
    /// During an exit notice this cancels the exit, the bond moving to `collateral`.
    function subscribe(uint256 taskId, uint256 nodeId, uint128 pricePerMillion, uint64 capacity, uint128 collateral)
        external
    {
        Task storage task = _existing(taskId);
        if (!task.active) revert TaskInactive(taskId);
        if (!modelRegistry.isActive(task.modelId)) revert ModelNotActive(task.modelId);
        _checkActor(nodeId);
        if (task.securityLevel == SecurityLevel.Confidential) {
            attestations.check(taskId, task.modelId, nodeId);
            tookConfidential[nodeId] = true;
        }
        INodeRegistry.Node memory node = nodeRegistry.getNode(nodeId);
        if (node.status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        if (node.reputation < task.minReputation) revert ReputationTooLow(nodeId, node.reputation, task.minReputation);
        if (capacity == 0) revert InvalidCapacity();
        Subscription storage sub = _subscriptions[taskId][nodeId];
        if (sub.active) revert AlreadySubscribed(taskId, nodeId);
        _checkCollateral(collateral);
        if (sub.exitAt != 0) {
            // Still listed and bonded: the exit is cancelled and the bond adjusted.
            _rebond(nodeId, sub.collateral, collateral);
            sub.exitAt = 0;
        } else {
            if (_subscribers[taskId].length >= params.maxSubscribersPerTask) revert TooManySubscribers(taskId);
            if (_nodeTasks[nodeId].length >= params.maxSubscriptionsPerNode) revert TooManySubscriptions(nodeId);
            nodeRegistry.bondSubscription(nodeId, collateral);
            _subscribers[taskId].push(nodeId);
            _subscriberPos[taskId][nodeId] = _subscribers[taskId].length;
            _nodeTasks[nodeId].push(taskId);
            _taskPos[nodeId][taskId] = _nodeTasks[nodeId].length;
        }
        // A node short of the minimum or its bonds (timeout slashes) subscribes, or cancels the exit that put it
        // on notice, only once topped up: it would otherwise be a checker with almost nothing at stake.
        if (!nodeRegistry.isFunded(nodeId)) revert NodeUnderfunded(nodeId);
        sub.pricePerMillion = pricePerMillion;
        sub.capacity = capacity;
        sub.active = true;
        sub.collateral = collateral;
        emit Subscribed(taskId, nodeId, pricePerMillion, capacity, collateral);
    }

    /// Bonds more, or less, of the node's collateral to a subscription (at least the minimum).
    function setSubscriptionCollateral(uint256 taskId, uint256 nodeId, uint128 collateral) external {
        _checkActor(nodeId);
        Subscription storage sub = _subscriptions[taskId][nodeId];
        if (!sub.active) revert NotSubscribed(taskId, nodeId);
        _checkCollateral(collateral);
        _rebond(nodeId, sub.collateral, collateral);
        sub.collateral = collateral;
        emit SubscriptionCollateralChanged(taskId, nodeId, collateral);
    }

    /// New price and capacity; stacks already bought keep the price they were bought at.
    function updateSubscription(uint256 taskId, uint256 nodeId, uint128 pricePerMillion, uint64 capacity) external {
        _checkActor(nodeId);
        Subscription storage sub = _subscriptions[taskId][nodeId];
        if (!sub.active) revert NotSubscribed(taskId, nodeId);
        if (capacity == 0) revert InvalidCapacity();
        sub.pricePerMillion = pricePerMillion;
        sub.capacity = capacity;
        emit SubscriptionUpdated(taskId, nodeId, pricePerMillion, capacity);
    }

    /// Starts the exit notice: no new stack or consensus seat from now on (stacks already assigned must still be
    /// settled), but the node stays a checking candidate of the task, its bond in place, until `exitAt`; then
    /// `completeExit` releases the bond.
    function unsubscribe(uint256 taskId, uint256 nodeId) external {
        _checkActor(nodeId);
        Subscription storage sub = _subscriptions[taskId][nodeId];
        if (!sub.active) revert NotSubscribed(taskId, nodeId);
        _startExit(sub, taskId, nodeId, uint64(block.timestamp) + params.exitNotice);
    }

    /// Called by the node registry when the node's collateral falls below the minimum or below its bonds (a
    /// timeout slash): every active subscription starts its exit notice, as if the node had called `unsubscribe`
    /// on each. The node stays a checking candidate, bonds in place, until the notice ends, so the pool that
    /// checks a stack sold before cannot shrink; after it, a worn-down node checks nothing. Topping up and
    /// subscribing again during the notice cancels it. One pass over the node's subscriptions
    /// (`maxSubscriptionsPerNode` at most); those already leaving keep their notice.
    function startExitAll(uint256 nodeId) external onlyRole(PROTOCOL_ROLE) {
        uint256[] storage tasks = _nodeTasks[nodeId];
        uint256 n = tasks.length;
        uint64 exitAt = uint64(block.timestamp) + params.exitNotice;
        for (uint256 i = 0; i < n; ++i) {
            uint256 taskId = tasks[i];
            Subscription storage sub = _subscriptions[taskId][nodeId];
            if (sub.active) _startExit(sub, taskId, nodeId, exitAt);
        }
    }

    /// Anyone puts a node's confidential subscription on exit notice once the attestation registry no longer
    /// accepts the node for the task (its record expired, or its measurement or kind is no longer allowed): no
    /// new work from now on, as after `unsubscribe`. Reverts `AttestationCurrent` while the node is accepted.
    function dropUnattested(uint256 taskId, uint256 nodeId) external {
        Task storage task = _existing(taskId);
        if (task.securityLevel != SecurityLevel.Confidential) revert NotConfidential(taskId);
        Subscription storage sub = _subscriptions[taskId][nodeId];
        if (!sub.active) revert NotSubscribed(taskId, nodeId);
        if (attestations.accepts(taskId, task.modelId, nodeId)) revert AttestationCurrent(taskId, nodeId);
        _dropUnattested(sub, taskId, nodeId);
    }

    /// `dropUnattested` for every confidential subscription of the node that can be dropped, in one pass over its
    /// subscriptions (`maxSubscriptionsPerNode` at most, so the caller's gas is bounded). Reverts `NothingToDrop`
    /// when there is none.
    function dropUnattestedAll(uint256 nodeId) external {
        uint256[] storage list = _nodeTasks[nodeId];
        uint256 n = list.length;
        uint256 dropped;
        for (uint256 i = 0; i < n; ++i) {
            uint256 taskId = list[i];
            Task storage task = _tasks[taskId];
            Subscription storage sub = _subscriptions[taskId][nodeId];
            if (task.securityLevel != SecurityLevel.Confidential || !sub.active) continue;
            if (attestations.accepts(taskId, task.modelId, nodeId)) continue;
            _dropUnattested(sub, taskId, nodeId);
            ++dropped;
        }
        if (dropped == 0) revert NothingToDrop(nodeId);
    }

    function _dropUnattested(Subscription storage sub, uint256 taskId, uint256 nodeId) internal {
        _startExit(sub, taskId, nodeId, uint64(block.timestamp) + params.exitNotice);
        emit UnattestedDropped(taskId, nodeId, msg.sender);
    }

    function _startExit(Subscription storage sub, uint256 taskId, uint256 nodeId, uint64 exitAt) internal {
        sub.active = false;
        sub.exitAt = exitAt;
        emit ExitStarted(taskId, nodeId, exitAt);
    }

    /// Ends an exit whose notice is over (anyone may call): the subscription is removed and its bond released.
    function completeExit(uint256 taskId, uint256 nodeId) external {
        Subscription storage sub = _subscriptions[taskId][nodeId];
        uint64 exitAt = sub.exitAt;
        if (sub.active || exitAt == 0) revert NotLeaving(taskId, nodeId);
        if (block.timestamp < exitAt) revert ExitNoticeRunning(taskId, nodeId, exitAt);
        nodeRegistry.unbondSubscription(nodeId, sub.collateral);
        _unsubscribe(taskId, nodeId);
    }

    /// Removes a subscription of a node slashed for fraud (its bonds went with its collateral), leaving or not.
    /// Anyone may call it: the slash itself stays constant-cost, and draws skip a barred node meanwhile.
    function removeBarred(uint256 taskId, uint256 nodeId) external {
        if (nodeRegistry.getNode(nodeId).status != INodeRegistry.NodeStatus.Slashed) revert NotBarred(nodeId);
        if (_subscriberPos[taskId][nodeId] == 0) revert NotSubscribed(taskId, nodeId);
        _unsubscribe(taskId, nodeId);
    }

    function _unsubscribe(uint256 taskId, uint256 nodeId) internal {
        Subscription storage sub = _subscriptions[taskId][nodeId];
        sub.active = false;
        sub.collateral = 0;
        sub.exitAt = 0;
        _removeAt(_subscribers[taskId], _subscriberPos[taskId], nodeId);
        _removeAt(_nodeTasks[nodeId], _taskPos[nodeId], taskId);
        emit Unsubscribed(taskId, nodeId);
    }

    function _rebond(uint256 nodeId, uint128 previous, uint128 collateral) internal {
        if (collateral > previous) nodeRegistry.bondSubscription(nodeId, collateral - previous);
        else if (collateral < previous) nodeRegistry.unbondSubscription(nodeId, previous - collateral);
    }

    function _removeAt(uint256[] storage list, mapping(uint256 => uint256) storage pos, uint256 value) internal {
        uint256 index = pos[value] - 1;
        uint256 last = list[list.length - 1];
        list[index] = last;
        pos[last] = index + 1;
        list.pop();
        delete pos[value];
    }

    // ---------------------------------------------------------------- protocol

    function reserve(uint256 taskId, uint256 nodeId, uint64 units) external onlyRole(PROTOCOL_ROLE) {
        _subscriptions[taskId][nodeId].reserved += units;
    }

    function release(uint256 taskId, uint256 nodeId, uint64 units) external onlyRole(PROTOCOL_ROLE) {
        Subscription storage sub = _subscriptions[taskId][nodeId];
        sub.reserved = sub.reserved > units ? sub.reserved - units : 0;
    }

    /// Up to `d.count` distinct nodes drawn uniformly among the task's subscribers that are eligible (active,
    /// past their registration epoch, in an approved echelon, collateral at the minimum and covering their bonds),
    /// meet the task's minimum reputation, are in `d.echelon`, price at most `d.maxPrice`, have room for
    /// `d.units` within both their capacity and their subscription's collateral, and are not in `d.exclude`.
    /// Subscriptions in their exit notice count only for a `d.checking` draw. On a confidential task a draw for
    /// new work takes only nodes the attestation registry accepts now.
    function draw(Draw calldata d) external view returns (uint256[] memory chosen) {
        Task storage task = _existing(d.taskId);
        uint256[] storage subscribers = _subscribers[d.taskId];
        uint256[] memory candidates = new uint256[](subscribers.length);
        uint256 found;
        for (uint256 i = 0; i < subscribers.length; ++i) {
            uint256 nodeId = subscribers[i];
            Subscription storage sub = _subscriptions[d.taskId][nodeId];
            if (!sub.active && !(d.checking && block.timestamp < sub.exitAt)) continue;
            if (sub.pricePerMillion > d.maxPrice) continue;
            if (d.units != 0) {
                uint256 units = uint256(sub.reserved) + d.units;
                if (units > sub.capacity || Units.cost(units, sub.pricePerMillion) > sub.collateral) continue;
            }
            if (_contains(d.exclude, nodeId)) continue;
            candidates[found++] = nodeId;
        }
        if (!d.checking && task.securityLevel == SecurityLevel.Confidential) {
            found = _attestedOnly(d.taskId, task.modelId, candidates, found);
        }
        assembly ("memory-safe") {
            mstore(candidates, found)
        }
        INodeRegistry.NodeState[] memory states = nodeRegistry.nodeStates(candidates);
        uint8 minReputation = task.minReputation;
        uint256 kept;
        for (uint256 i = 0; i < found; ++i) {
            INodeRegistry.NodeState memory s = states[i];
            // A checker met the task's reputation when it subscribed; what it loses since (a timeout) must not
            // take it out of the pool that checks others.
            if (d.checking ? !s.checkable : (!s.eligible || s.reputation < minReputation)) continue;
            if (d.echelon != ANY_ECHELON && s.echelon != d.echelon) continue;
            candidates[kept++] = candidates[i];
        }
        uint256 count = d.count < kept ? d.count : kept;
        chosen = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(d.seed, i))) % (kept - i);
            (candidates[i], candidates[j]) = (candidates[j], candidates[i]);
            chosen[i] = candidates[i];
        }
    }

    /// The pool a purchase draws from, in one pass over the task's subscribers (order as listed): those a draw for
    /// new work at any price and capacity takes (active, eligible, at the task's reputation; on a confidential task
    /// accepted by the attestation registry now), each with its echelon, its price, and whether it is `offered` at
    /// `maxPrice` for `units` (price at most `maxPrice`, room for `units` within its capacity and the collateral
    /// its subscription bonds, as `draw` requires). The stack manager counts a candidate's checkers in the same
    /// pool, so a purchase reads each subscription and node once.
    function offers(uint256 taskId, uint64 units, uint256 maxPrice) external view returns (Offer[] memory pool) {
        Task storage task = _existing(taskId);
        bool confidential = task.securityLevel == SecurityLevel.Confidential;
        uint256[] storage subscribers = _subscribers[taskId];
        uint256 n = subscribers.length;
        uint256[] memory ids = new uint256[](n);
        pool = new Offer[](n);
        uint256 found;
        for (uint256 i = 0; i < n; ++i) {
            uint256 nodeId = subscribers[i];
            Subscription storage sub = _subscriptions[taskId][nodeId];
            if (!sub.active) continue;
            if (confidential && !attestations.accepts(taskId, task.modelId, nodeId)) continue;
            uint128 price = sub.pricePerMillion;
            bool offered = price <= maxPrice;
            if (offered) {
                uint256 reserved = uint256(sub.reserved) + units;
                offered = reserved <= sub.capacity && Units.cost(reserved, price) <= sub.collateral;
            }
            ids[found] = nodeId;
            pool[found++] = Offer({nodeId: uint64(nodeId), echelon: 0, offered: offered, pricePerMillion: price});
        }
        assembly ("memory-safe") {
            mstore(ids, found)
        }
        INodeRegistry.NodeState[] memory states = nodeRegistry.nodeStates(ids);
        uint8 minReputation = task.minReputation;
        uint256 kept;
        for (uint256 i = 0; i < found; ++i) {
            INodeRegistry.NodeState memory s = states[i];
            if (!s.eligible || s.reputation < minReputation) continue;
            Offer memory o = pool[i];
            o.echelon = s.echelon;
            pool[kept++] = o;
        }
        assembly ("memory-safe") {
            mstore(pool, kept)
        }
    }

    /// Keeps, in order, the first `found` of `candidates` that the attestation registry accepts for the task.
    function _attestedOnly(uint256 taskId, bytes32 modelId, uint256[] memory candidates, uint256 found)
        internal
        view
        returns (uint256 kept)
    {
        for (uint256 i = 0; i < found; ++i) {
            if (attestations.accepts(taskId, modelId, candidates[i])) candidates[kept++] = candidates[i];
        }
    }

    // ---------------------------------------------------------------- views

    /// Whether the node may take new work on the task as far as attestation goes: true on a task that is not
    /// confidential, else whether the attestation registry accepts it now.
    function attested(uint256 taskId, uint256 nodeId) external view returns (bool) {
        Task storage task = _existing(taskId);
        if (task.securityLevel != SecurityLevel.Confidential) return true;
        return attestations.accepts(taskId, task.modelId, nodeId);
    }

    /// As `attested`, but reverts with the attestation registry's reason when it is false.
    function checkAttested(uint256 taskId, uint256 nodeId) external view {
        Task storage task = _existing(taskId);
        if (task.securityLevel == SecurityLevel.Confidential) attestations.check(taskId, task.modelId, nodeId);
    }

    function getTask(uint256 taskId) external view returns (Task memory) {
        return _tasks[taskId];
    }

    function getSubscription(uint256 taskId, uint256 nodeId) external view returns (Subscription memory) {
        return _subscriptions[taskId][nodeId];
    }

    function allActive(uint256 taskId, uint256[] calldata nodeIds) external view returns (bool) {
        mapping(uint256 => Subscription) storage subs = _subscriptions[taskId];
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            if (!subs[nodeIds[i]].active) return false;
        }
        return true;
    }

    function subscribersOf(uint256 taskId) external view returns (uint256[] memory) {
        return _subscribers[taskId];
    }

    function tasksOf(uint256 nodeId) external view returns (uint256[] memory) {
        return _nodeTasks[nodeId];
    }

    function _existing(uint256 taskId) internal view returns (Task storage task) {
        task = _tasks[taskId];
        if (task.creator == address(0)) revert UnknownTask(taskId);
    }

    function _checkActor(uint256 nodeId) internal view {
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
    }

    function _checkCollateral(uint128 collateral) internal view {
        uint128 required = params.minSubscriptionCollateral;
        if (collateral < required) revert SubscriptionCollateralTooLow(collateral, required);
    }

    function _contains(uint256[] calldata list, uint256 value) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
