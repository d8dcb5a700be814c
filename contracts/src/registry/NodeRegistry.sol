// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {EpochClock} from "../common/EpochClock.sol";
import {ReportWindow} from "../common/ReportWindow.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";
import {SignerBinding} from "./SignerBinding.sol";

/// @title NodeRegistry: execution nodes, their TOMA collateral, echelons, epochs, reputation and slashing.
/// @notice A node registers with at least `minCollateral` TOMA (pulled with transferFrom), its signing address
/// with the signer's proof that it lets this operator register it (`SignerBinding`), public URL and an echelon
/// governance approved, and becomes eligible from the next epoch. An approved echelon names the engine
/// fingerprint its nodes compute (nodes check theirs against it); an echelon never approved, or revoked, admits no
/// node and makes none eligible. Each task subscription bonds part of the collateral (TaskRegistry), so one stake
/// cannot back unlimited subscriptions. Leaving takes notice (`TaskRegistry.exitNotice`): a node deregisters only
/// once it has no subscription left (each exit's notice served), it moves to another echelon on the same
/// condition, and its collateral is withdrawable only once nothing it took part in (stacks, attestations,
/// committees, requests) is pending and `exitNotice` has passed since both its deregistration and the end of its
/// last obligation: so a receipt-fraud proof (`ReceiptFraud`) against a stack always has at least the notice after
/// the stack closed, and a frozen committee candidate cannot take its collateral out before a committee is drawn.
/// A fraud slash takes effect at once. A timeout slash that leaves the node short of the minimum or its bonds puts
/// every subscription on exit notice (`TaskRegistry.startExitAll`): it checks others until the notice ends, and
/// subscribes again once topped up. Reputation (0–100) starts at zero,
/// moves up on honest settlement, down on timeouts, and to zero with a fraud slash, which also takes all
/// collateral and bars the node for good: a fresh registration has nothing to reset to.
contract NodeRegistry is AtomaAccess, EpochClock, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_URL_BYTES = 256;
    uint256 internal constant BPS = 10_000;

    struct Params {
        uint256 minCollateral;
        uint8 honestReward;
        uint8 timeoutPenalty;
        uint16 timeoutSlashBps;
        uint16 timeoutUserBps;
        uint16 timeoutTreasuryBps;
        uint16 fraudUserBps;
        uint16 fraudHonestBps;
        uint16 fraudTreasuryBps;
    }

    IERC20 public immutable token;
    ITaskRegistry public taskRegistry;
    IAtomaVault public vault;
    Params public params;

    /// The lowest collateral a node held during `epoch`, and what it held at the epoch's end (its stake).
    struct StakePoint {
        uint32 epoch;
        uint112 low;
        uint112 end;
    }

    uint256 public nodeCount;
    mapping(uint256 nodeId => INodeRegistry.Node) internal _nodes;
    mapping(address signer => uint256 nodeId) public nodeIdOfSigner;
    /// The engine fingerprint approved for each echelon; zero when the echelon is not approved.
    mapping(uint32 echelon => bytes32 fingerprint) public echelonFingerprint;
    mapping(uint256 nodeId => StakePoint[]) internal _stakes;
    /// When a node that is no longer active was last bound: its deregistration, or the end of its last obligation
    /// after it. Its collateral is withdrawable `exitNotice` later.
    mapping(uint256 nodeId => uint256) public releasedAt;

    event NodeRegistered(
        uint256 indexed nodeId,
        address indexed operator,
        address indexed signer,
        uint32 echelon,
        uint256 collateral,
        uint256 eligibleFromEpoch,
        string url
    );
    event CollateralAdded(uint256 indexed nodeId, uint256 amount, uint256 collateral);
    event NodeUrlChanged(uint256 indexed nodeId, string url);
    /// `withdrawableAt`: the earliest time its collateral can be withdrawn (later if an obligation is still open).
    event NodeDeregistered(uint256 indexed nodeId, uint256 epoch, uint256 withdrawableAt);
    event CollateralWithdrawn(uint256 indexed nodeId, address indexed operator, uint256 amount);
    event ReputationChanged(uint256 indexed nodeId, uint8 reputation);
    event NodeSlashed(uint256 indexed nodeId, uint256 amount, bool indexed fraud, address indexed user);
    event ParamsUpdated(Params params);
    event EchelonApproved(uint32 indexed echelon, bytes32 fingerprint);
    event EchelonRevoked(uint32 indexed echelon);
    event NodeEchelonChanged(uint256 indexed nodeId, uint32 echelon);
    event CollateralBonded(uint256 indexed nodeId, uint256 bonded);

    error CollateralTooLow(uint256 given, uint256 required);
    error InvalidUrl();
    error InvalidSigner(address signer);
    /// The proof is not the signer's signature of its binding to the calling operator (`SignerBinding`).
    error InvalidSignerProof(address signer);
    error EchelonNotApproved(uint32 echelon);
    error InvalidEchelon(uint32 echelon);
    error InvalidFingerprint();
    error CollateralNotFree(uint256 nodeId, uint256 requested, uint256 free);
    error SignerInUse(address signer, uint256 nodeId);
    error UnknownNode(uint256 nodeId);
    error NotNodeOperator(uint256 nodeId, address caller);
    error NodeNotActive(uint256 nodeId);
    error NotDeregistered(uint256 nodeId);
    /// Collateral is withdrawable only from `withdrawableAt` (the exit notice after deregistration and after the
    /// last obligation).
    error WithdrawalTooEarly(uint256 nodeId, uint256 withdrawableAt);
    error ObligationsPending(uint256 nodeId, uint256 count);
    /// The node still holds task subscriptions (active or in their exit notice): it must leave them first.
    error SubscriptionsLeft(uint256 nodeId, uint256 bonded);
    error NothingToWithdraw(uint256 nodeId);
    error ZeroAmount();

    constructor(address admin, IERC20 token_, uint256 epochLength, Params memory params_)
        AtomaAccess(admin)
        EpochClock(block.timestamp, epochLength)
    {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        _setParams(params_);
    }

    /// Links the registry to the task registry (subscriptions) and the vault (slashed collateral). Once.
    function wire(ITaskRegistry taskRegistry_, IAtomaVault vault_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(taskRegistry) != address(0)) revert AlreadyWired();
        if (address(taskRegistry_) == address(0) || address(vault_) == address(0)) revert ZeroAddress();
        taskRegistry = taskRegistry_;
        vault = vault_;
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.minCollateral > 0 && p.minCollateral <= 1e36, "minCollateral", p.minCollateral);
        _check(p.honestReward <= 10, "honestReward", p.honestReward);
        _check(p.timeoutPenalty <= 100, "timeoutPenalty", p.timeoutPenalty);
        _check(p.timeoutSlashBps <= 5_000, "timeoutSlashBps", p.timeoutSlashBps);
        _check(uint256(p.timeoutUserBps) + p.timeoutTreasuryBps <= BPS, "timeoutSplit", p.timeoutUserBps);
        _check(
            uint256(p.fraudUserBps) + p.fraudHonestBps + p.fraudTreasuryBps <= BPS, "fraudSplit", p.fraudUserBps
        );
        params = p;
        emit ParamsUpdated(p);
    }

    // ---------------------------------------------------------------- echelons (governance)

    /// Approves `echelon` for nodes whose engine computes `fingerprint`, or moves an approved one to another
    /// fingerprint (its nodes then refuse verified work until they match). `type(uint32).max` means "any echelon"
    /// in draws and cannot be approved.
    function approveEchelon(uint32 echelon, bytes32 fingerprint) external onlyRole(GOVERNOR_ROLE) {
        if (echelon == type(uint32).max) revert InvalidEchelon(echelon);
        if (fingerprint == bytes32(0)) revert InvalidFingerprint();
        echelonFingerprint[echelon] = fingerprint;
        emit EchelonApproved(echelon, fingerprint);
    }

    /// No node registers in, moves to, or is eligible in `echelon` any more.
    function revokeEchelon(uint32 echelon) external onlyRole(GOVERNOR_ROLE) {
        if (echelonFingerprint[echelon] == bytes32(0)) revert EchelonNotApproved(echelon);
        delete echelonFingerprint[echelon];
        emit EchelonRevoked(echelon);
    }

    // ---------------------------------------------------------------- operators

    /// Registers a node, pulling `collateral` TOMA from the caller (approve this contract first). `signerProof`
    /// is the signer's EIP-191 signature of `SignerBinding.hash(chainid, this registry, caller)`: only the holder
    /// of a key can let an operator register it.
    function register(
        address signer,
        string calldata url,
        uint32 echelon,
        uint256 collateral,
        bytes calldata signerProof
    ) external nonReentrant returns (uint256 nodeId) {
        if (collateral < params.minCollateral) revert CollateralTooLow(collateral, params.minCollateral);
        _checkUrl(url);
        if (signer == address(0)) revert InvalidSigner(signer);
        if (nodeIdOfSigner[signer] != 0) revert SignerInUse(signer, nodeIdOfSigner[signer]);
        (address proven,,) =
            ECDSA.tryRecoverCalldata(SignerBinding.digest(block.chainid, address(this), msg.sender), signerProof);
        if (proven != signer) revert InvalidSignerProof(signer);
        _approved(echelon);
        nodeId = ++nodeCount;
        uint256 epoch = currentEpoch();
        _nodes[nodeId] = INodeRegistry.Node({
            operator: msg.sender,
            echelon: echelon,
            status: INodeRegistry.NodeStatus.Active,
            reputation: 0,
            obligations: 0,
            signer: signer,
            registeredEpoch: uint32(epoch),
            deregisteredEpoch: 0,
            collateral: 0,
            bonded: 0,
            url: url
        });
        _setCollateral(_nodes[nodeId], nodeId, collateral);
        nodeIdOfSigner[signer] = nodeId;
        token.safeTransferFrom(msg.sender, address(this), collateral);
        emit NodeRegistered(nodeId, msg.sender, signer, echelon, collateral, epoch + 1, url);
    }

    /// Adds collateral (from anyone, for instance to restore a node after a timeout slash).
    function topUp(uint256 nodeId, uint256 amount) external nonReentrant {
        INodeRegistry.Node storage node = _existing(nodeId);
        if (node.status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        if (amount == 0) revert ZeroAmount();
        _setCollateral(node, nodeId, node.collateral + amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit CollateralAdded(nodeId, amount, node.collateral);
    }

    /// Moves the node to another approved echelon (after a change of engine build or settings), keeping its
    /// reputation. Only with nothing pending (attestations and committees already drawn assumed the old one) and
    /// no subscription left (moving takes the node out of its echelon's checking pool, as leaving does).
    function setEchelon(uint256 nodeId, uint32 echelon) external {
        INodeRegistry.Node storage node = _operated(nodeId);
        if (node.status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        if (node.obligations != 0) revert ObligationsPending(nodeId, node.obligations);
        _noSubscriptions(nodeId);
        _approved(echelon);
        node.echelon = echelon;
        emit NodeEchelonChanged(nodeId, echelon);
    }

    function setUrl(uint256 nodeId, string calldata url) external {
        INodeRegistry.Node storage node = _operated(nodeId);
        _checkUrl(url);
        node.url = url;
        emit NodeUrlChanged(nodeId, url);
    }

    /// Leaves the network, once every task subscription has ended (`TaskRegistry.unsubscribe`, then
    /// `completeExit` after the notice). The collateral is withdrawable `exitNotice` after this, and after the end
    /// of the node's last obligation.
    function deregister(uint256 nodeId) external {
        INodeRegistry.Node storage node = _operated(nodeId);
        if (node.status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        _noSubscriptions(nodeId);
        uint256 epoch = currentEpoch();
        node.status = INodeRegistry.NodeStatus.Deregistered;
        node.deregisteredEpoch = uint32(epoch);
        releasedAt[nodeId] = block.timestamp;
        emit NodeDeregistered(nodeId, epoch, withdrawableAt(nodeId));
    }

    /// Returns the collateral to the operator: with nothing pending, from `withdrawableAt`.
    function withdrawCollateral(uint256 nodeId) external nonReentrant {
        INodeRegistry.Node storage node = _operated(nodeId);
        if (node.status == INodeRegistry.NodeStatus.Active) revert NotDeregistered(nodeId);
        if (node.obligations != 0) revert ObligationsPending(nodeId, node.obligations);
        if (node.status == INodeRegistry.NodeStatus.Deregistered) {
            uint256 from = withdrawableAt(nodeId);
            if (block.timestamp < from) revert WithdrawalTooEarly(nodeId, from);
        }
        uint256 amount = node.collateral;
        if (amount == 0) revert NothingToWithdraw(nodeId);
        _setCollateral(node, nodeId, 0);
        token.safeTransfer(node.operator, amount);
        emit CollateralWithdrawn(nodeId, node.operator, amount);
    }

    // ---------------------------------------------------------------- views

    /// When a deregistered node's collateral can leave (once nothing is pending): `exitNotice` after both its
    /// deregistration and the end of its last obligation (`releasedAt`), and not before every report and refund
    /// window that could reach it has closed, `REFUND_EPOCHS` epochs after the epoch `releasedAt` falls in (review
    /// R2-7: with epochs long beside the notice, a liar left before its statement's epoch was even over). A lying
    /// statement a buyer can be refunded for names an epoch in which one of its stacks was served, so no later one.
    /// `type(uint256).max` for a node that is not deregistered (an active one must deregister first; a slashed one
    /// holds nothing), so the view never reverts (review s5 L-5). The epoch bound applies only to a node that ever
    /// subscribed to a confidential task (`TaskRegistry.tookConfidential`, set at its first such subscription): no
    /// other can have served a stack a statement refunds, nor be believed by a confidential buyer (review L-5).
    function withdrawableAt(uint256 nodeId) public view returns (uint256) {
        if (_nodes[nodeId].status != INodeRegistry.NodeStatus.Deregistered) return type(uint256).max;
        uint256 released = releasedAt[nodeId];
        uint256 byNotice = released + taskRegistry.exitNotice();
        if (!taskRegistry.tookConfidential(nodeId)) return byNotice;
        uint256 byEpochs = epochEnd((released - GENESIS) / EPOCH_LENGTH + ReportWindow.REFUND_EPOCHS);
        return byNotice > byEpochs ? byNotice : byEpochs;
    }

    function getNode(uint256 nodeId) external view returns (INodeRegistry.Node memory) {
        return _nodes[nodeId];
    }

    function isRegistered(uint256 nodeId) external view returns (bool) {
        return _nodes[nodeId].status != INodeRegistry.NodeStatus.None;
    }

    /// Active, past its registration epoch, in an approved echelon, and holding at least the minimum collateral
    /// and all it bonded to its subscriptions (a timeout slash can leave it short until it tops up).
    function isEligible(uint256 nodeId) public view returns (bool) {
        return _eligible(nodeId, currentEpoch(), params.minCollateral);
    }

    function nodeStates(uint256[] calldata nodeIds) external view returns (INodeRegistry.NodeState[] memory states) {
        states = new INodeRegistry.NodeState[](nodeIds.length);
        uint256 epoch = currentEpoch();
        uint256 minCollateral = params.minCollateral;
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            INodeRegistry.Node storage node = _nodes[nodeIds[i]];
            states[i] = INodeRegistry.NodeState({
                eligible: _eligible(nodeIds[i], epoch, minCollateral),
                checkable: _checkable(node, epoch),
                reputation: node.reputation,
                echelon: node.echelon
            });
        }
    }

    function _checkable(INodeRegistry.Node storage node, uint256 epoch) internal view returns (bool) {
        return node.status == INodeRegistry.NodeStatus.Active && epoch > node.registeredEpoch && node.collateral != 0
            && echelonFingerprint[node.echelon] != bytes32(0);
    }

    function _eligible(uint256 nodeId, uint256 epoch, uint256 minCollateral) internal view returns (bool) {
        INodeRegistry.Node storage node = _nodes[nodeId];
        return node.status == INodeRegistry.NodeStatus.Active && epoch > node.registeredEpoch
            && _funded(node, minCollateral) && echelonFingerprint[node.echelon] != bytes32(0);
    }

    /// Holds at least the minimum collateral and all it bonded to its subscriptions (a task subscription, or the
    /// cancelling of an exit notice, requires it; falling short by a timeout slash puts every subscription on
    /// notice).
    /// Collateral bonded to the node's task subscriptions (never more than the collateral when bonded).
    function bonded(uint256 nodeId) external view returns (uint256) {
        return _nodes[nodeId].bonded;
    }

    function isFunded(uint256 nodeId) external view returns (bool) {
        return _funded(_nodes[nodeId], params.minCollateral);
    }

    function _funded(INodeRegistry.Node storage node, uint256 minCollateral)
        internal
        view
        returns (bool)
    {
        uint256 collateral = node.collateral;
        return collateral >= minCollateral && collateral >= node.bonded;
    }

    /// The stake that counts for `epoch` (emission caps): the lowest collateral the node held during it, zero in
    /// the epoch it registered. Collateral added late in an epoch does not count for it.
    function stakeAt(uint256 nodeId, uint256 epoch) external view returns (uint256) {
        StakePoint[] storage points = _stakes[nodeId];
        uint256 lo = 0;
        uint256 hi = points.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (points[mid].epoch <= epoch) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0) return 0;
        StakePoint storage point = points[lo - 1];
        return point.epoch == epoch ? point.low : point.end;
    }

    /// The fingerprint approved for the node's echelon (zero when its echelon is not approved).
    function fingerprintOf(uint256 nodeId) external view returns (bytes32) {
        return echelonFingerprint[_nodes[nodeId].echelon];
    }

    /// The operator and the node's signing address may both act for the node in the protocol, unless the node
    /// was slashed for fraud: a barred node settles, attests and votes no more (its stacks time out to a refund).
    function isNodeActor(uint256 nodeId, address account) external view returns (bool) {
        INodeRegistry.Node storage node = _nodes[nodeId];
        if (account == address(0) || (account != node.signer && account != node.operator)) return false;
        return node.status != INodeRegistry.NodeStatus.Slashed;
    }

    function signerOf(uint256 nodeId) external view returns (address) {
        return _nodes[nodeId].signer;
    }

    function operatorOf(uint256 nodeId) external view returns (address) {
        return _nodes[nodeId].operator;
    }

    function echelonOf(uint256 nodeId) external view returns (uint32) {
        return _nodes[nodeId].echelon;
    }

    // ---------------------------------------------------------------- protocol

    /// A task subscription bonds `amount` of the node's collateral (TaskRegistry): only an active node in an
    /// approved echelon with that much collateral not yet bonded can subscribe.
    function bondSubscription(uint256 nodeId, uint256 amount) external onlyRole(PROTOCOL_ROLE) {
        INodeRegistry.Node storage node = _existing(nodeId);
        if (node.status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        _approved(node.echelon);
        uint256 used = node.bonded;
        uint256 free = node.collateral > used ? node.collateral - used : 0;
        if (amount > free) revert CollateralNotFree(nodeId, amount, free);
        // At most the collateral, a uint112.
        node.bonded = uint112(used + amount);
        emit CollateralBonded(nodeId, used + amount);
    }

    function unbondSubscription(uint256 nodeId, uint256 amount) external onlyRole(PROTOCOL_ROLE) {
        INodeRegistry.Node storage node = _nodes[nodeId];
        uint256 used = node.bonded;
        uint256 left = used > amount ? used - amount : 0;
        node.bonded = uint112(left);
        emit CollateralBonded(nodeId, left);
    }

    /// A stack, attestation, committee seat or request now depends on the node: its collateral stays locked.
    function addObligation(uint256 nodeId) external onlyRole(PROTOCOL_ROLE) {
        _existing(nodeId).obligations += 1;
    }

    function removeObligation(uint256 nodeId) external onlyRole(PROTOCOL_ROLE) {
        _release(_existing(nodeId), nodeId);
    }

    function rewardHonest(uint256 nodeId) external onlyRole(PROTOCOL_ROLE) {
        _reward(_existing(nodeId), nodeId);
    }

    /// Ends an obligation and, when the node did its part honestly, raises its reputation (one storage write).
    function releaseObligation(uint256 nodeId, bool honest) external onlyRole(PROTOCOL_ROLE) {
        INodeRegistry.Node storage node = _existing(nodeId);
        _release(node, nodeId);
        if (honest) _reward(node, nodeId);
    }

    /// One obligation fewer; a node no longer active that is now free starts its exit notice again from here
    /// (an active node's starts at its deregistration, which comes later).
    function _release(INodeRegistry.Node storage node, uint256 nodeId) internal {
        uint32 obligations = node.obligations;
        if (obligations == 0) return;
        node.obligations = obligations - 1;
        if (obligations == 1 && node.status != INodeRegistry.NodeStatus.Active) releasedAt[nodeId] = block.timestamp;
    }

    function _reward(INodeRegistry.Node storage node, uint256 nodeId) internal {
        if (node.status != INodeRegistry.NodeStatus.Active) return;
        uint256 next = uint256(node.reputation) + params.honestReward;
        uint8 reputation = next > 100 ? 100 : uint8(next);
        if (reputation != node.reputation) {
            node.reputation = reputation;
            emit ReputationChanged(nodeId, reputation);
        }
    }

    /// A missed deadline: `timeoutSlashBps` of the collateral, shared between `user`, the treasury and burning.
    /// A `user` of zero sends the user's share to the treasury (an attester's or a committee member's timeout:
    /// no party may gain from a timeout it could have caused).
    function slashTimeout(uint256 nodeId, address user) external onlyRole(PROTOCOL_ROLE) returns (uint256 taken) {
        return _slashTimeout(nodeId, user, type(uint256).max, true);
    }

    /// A timeout slash whose user's share is at most `maxUserShare` (the slash shrinks to fit), with the reputation
    /// cut only when `penalize`: a refund for a stack never pays its owner more than it paid the node, and only a
    /// lie's first punishment cuts reputation, so many small refunds cannot farm a node's reputation away.
    function slashTimeoutUpTo(uint256 nodeId, address user, uint256 maxUserShare, bool penalize)
        external
        onlyRole(PROTOCOL_ROLE)
        returns (uint256 taken, uint256 userShare)
    {
        taken = _slashTimeout(nodeId, user, maxUserShare, penalize);
        userShare = taken * params.timeoutUserBps / BPS;
    }

    function _slashTimeout(uint256 nodeId, address user, uint256 maxUserShare, bool penalize)
        internal
        returns (uint256 taken)
    {
        INodeRegistry.Node storage node = _existing(nodeId);
        if (user == address(0)) user = vault.treasury();
        Params memory p = params;
        uint8 reputation = node.reputation > p.timeoutPenalty ? node.reputation - p.timeoutPenalty : 0;
        if (penalize && reputation != node.reputation) {
            node.reputation = reputation;
            emit ReputationChanged(nodeId, reputation);
        }
        taken = uint256(node.collateral) * p.timeoutSlashBps / BPS;
        // Capped: with no user's share a capped slash pays its user nothing, so it takes nothing either.
        if (maxUserShare != type(uint256).max) {
            if (p.timeoutUserBps == 0) taken = 0;
            else if (taken * p.timeoutUserBps / BPS > maxUserShare) taken = maxUserShare * BPS / p.timeoutUserBps;
        }
        if (taken == 0) return 0;
        _setCollateral(node, nodeId, node.collateral - taken);
        // Short of the minimum or its bonds, it is put on notice from every task: it checks others until the
        // notice ends (the pool that checks a stack sold before does not shrink), not forever for next to nothing.
        if (node.status == INodeRegistry.NodeStatus.Active && !_funded(node, p.minCollateral)) {
            taskRegistry.startExitAll(nodeId);
        }
        emit NodeSlashed(nodeId, taken, false, user);
        _distribute(taken, user, p.timeoutUserBps, new uint256[](0), 0, p.timeoutTreasuryBps);
    }

    /// Proven fraud: all collateral, shared between `user` (the treasury when zero), the honest nodes, the
    /// treasury and burning; reputation zero; the node is barred. Constant cost, however many tasks it served (a
    /// call that slashes many nodes must fit a block): draws skip a barred node at once, and anyone removes its
    /// subscriptions afterwards (`TaskRegistry.removeBarred`).
    function slashFraud(uint256 nodeId, address user, uint256[] calldata honestNodeIds)
        external
        onlyRole(PROTOCOL_ROLE)
        returns (uint256 taken)
    {
        INodeRegistry.Node storage node = _existing(nodeId);
        _clearBond(nodeId);
        node.status = INodeRegistry.NodeStatus.Slashed;
        if (node.reputation != 0) {
            node.reputation = 0;
            emit ReputationChanged(nodeId, 0);
        }
        taken = node.collateral;
        emit NodeSlashed(nodeId, taken, true, user);
        if (taken == 0) return 0;
        _setCollateral(node, nodeId, 0);
        Params memory p = params;
        _distribute(taken, user, p.fraudUserBps, honestNodeIds, p.fraudHonestBps, p.fraudTreasuryBps);
    }

    function _distribute(
        uint256 taken,
        address user,
        uint256 userBps,
        uint256[] memory honestNodeIds,
        uint256 honestBps,
        uint256 treasuryBps
    ) internal {
        if (user == address(0)) (userBps, treasuryBps) = (0, treasuryBps + userBps);
        token.safeTransfer(address(vault), taken);
        vault.distributeSlashed(taken, user, userBps, honestNodeIds, honestBps, treasuryBps);
    }

    // ---------------------------------------------------------------- internals

    /// Every change of collateral goes through here, so the stake of each epoch is known afterwards.
    function _setCollateral(INodeRegistry.Node storage node, uint256 nodeId, uint256 value) internal {
        uint112 before = _cap(node.collateral);
        uint112 next = _cap(value);
        node.collateral = SafeCast.toUint112(value);
        uint32 epoch = uint32(currentEpoch());
        StakePoint[] storage points = _stakes[nodeId];
        uint256 n = points.length;
        if (n != 0 && points[n - 1].epoch == epoch) {
            StakePoint storage last = points[n - 1];
            if (next < last.low) last.low = next;
            last.end = next;
        } else {
            points.push(StakePoint({epoch: epoch, low: before < next ? before : next, end: next}));
        }
    }

    function _cap(uint256 value) internal pure returns (uint112) {
        return value > type(uint112).max ? type(uint112).max : uint112(value);
    }

    function _clearBond(uint256 nodeId) internal {
        INodeRegistry.Node storage node = _nodes[nodeId];
        if (node.bonded == 0) return;
        node.bonded = 0;
        emit CollateralBonded(nodeId, 0);
    }

    function _noSubscriptions(uint256 nodeId) internal view {
        // Every subscription, active or in its exit notice, bonds at least the task registry's minimum (> 0).
        uint256 left = _nodes[nodeId].bonded;
        if (left != 0) revert SubscriptionsLeft(nodeId, left);
    }

    function _approved(uint32 echelon) internal view {
        if (echelonFingerprint[echelon] == bytes32(0)) revert EchelonNotApproved(echelon);
    }

    function _existing(uint256 nodeId) internal view returns (INodeRegistry.Node storage node) {
        node = _nodes[nodeId];
        if (node.status == INodeRegistry.NodeStatus.None) revert UnknownNode(nodeId);
    }

    function _operated(uint256 nodeId) internal view returns (INodeRegistry.Node storage node) {
        node = _existing(nodeId);
        if (node.operator != msg.sender) revert NotNodeOperator(nodeId, msg.sender);
    }

    function _checkUrl(string calldata url) internal pure {
        if (bytes(url).length == 0 || bytes(url).length > MAX_URL_BYTES) revert InvalidUrl();
    }
}
