// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {EpochClock} from "../common/EpochClock.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @title NodeRegistry: execution nodes, their TOMA collateral, epochs, reputation and slashing.
/// @notice A node registers with at least `minCollateral` TOMA (pulled with transferFrom), its signing address,
/// public URL and hardware echelon, and becomes eligible from the next epoch. Collateral can be withdrawn one epoch
/// after deregistering, once nothing it took part in (stacks, attestations, committees, requests) is pending.
/// Reputation (0–100) moves up on honest settlement, down on timeouts, and to zero with a fraud slash, which also
/// takes all collateral and bars the node for good.
contract NodeRegistry is AtomaAccess, EpochClock, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_URL_BYTES = 256;
    uint256 internal constant BPS = 10_000;

    struct Params {
        uint256 minCollateral;
        uint8 initialReputation;
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

    uint256 public nodeCount;
    mapping(uint256 nodeId => INodeRegistry.Node) internal _nodes;
    mapping(address signer => uint256 nodeId) public nodeIdOfSigner;

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
    event NodeDeregistered(uint256 indexed nodeId, uint256 epoch, uint256 withdrawableFromEpoch);
    event CollateralWithdrawn(uint256 indexed nodeId, address indexed operator, uint256 amount);
    event ReputationChanged(uint256 indexed nodeId, uint8 reputation);
    event NodeSlashed(uint256 indexed nodeId, uint256 amount, bool indexed fraud, address indexed user);
    event ParamsUpdated(Params params);

    error CollateralTooLow(uint256 given, uint256 required);
    error InvalidUrl();
    error InvalidSigner(address signer);
    error SignerInUse(address signer, uint256 nodeId);
    error UnknownNode(uint256 nodeId);
    error NotNodeOperator(uint256 nodeId, address caller);
    error NodeNotActive(uint256 nodeId);
    error NotDeregistered(uint256 nodeId);
    error WithdrawalTooEarly(uint256 nodeId, uint256 fromEpoch);
    error ObligationsPending(uint256 nodeId, uint256 count);
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
        _check(p.initialReputation > 0 && p.initialReputation <= 100, "initialReputation", p.initialReputation);
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

    // ---------------------------------------------------------------- operators

    /// Registers a node, pulling `collateral` TOMA from the caller (approve this contract first).
    function register(address signer, string calldata url, uint32 echelon, uint256 collateral)
        external
        nonReentrant
        returns (uint256 nodeId)
    {
        if (collateral < params.minCollateral) revert CollateralTooLow(collateral, params.minCollateral);
        _checkUrl(url);
        if (signer == address(0)) revert InvalidSigner(signer);
        if (nodeIdOfSigner[signer] != 0) revert SignerInUse(signer, nodeIdOfSigner[signer]);
        nodeId = ++nodeCount;
        uint256 epoch = currentEpoch();
        _nodes[nodeId] = INodeRegistry.Node({
            operator: msg.sender,
            echelon: echelon,
            status: INodeRegistry.NodeStatus.Active,
            reputation: params.initialReputation,
            obligations: 0,
            signer: signer,
            registeredEpoch: uint32(epoch),
            deregisteredEpoch: 0,
            collateral: collateral,
            url: url
        });
        nodeIdOfSigner[signer] = nodeId;
        token.safeTransferFrom(msg.sender, address(this), collateral);
        emit NodeRegistered(nodeId, msg.sender, signer, echelon, collateral, epoch + 1, url);
    }

    /// Adds collateral (from anyone, for instance to restore a node after a timeout slash).
    function topUp(uint256 nodeId, uint256 amount) external nonReentrant {
        INodeRegistry.Node storage node = _existing(nodeId);
        if (node.status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        if (amount == 0) revert ZeroAmount();
        node.collateral += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit CollateralAdded(nodeId, amount, node.collateral);
    }

    function setUrl(uint256 nodeId, string calldata url) external {
        INodeRegistry.Node storage node = _operated(nodeId);
        _checkUrl(url);
        node.url = url;
        emit NodeUrlChanged(nodeId, url);
    }

    /// Leaves the network: unsubscribes from every task at once; collateral is withdrawable from the next epoch.
    function deregister(uint256 nodeId) external {
        INodeRegistry.Node storage node = _operated(nodeId);
        if (node.status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        uint256 epoch = currentEpoch();
        node.status = INodeRegistry.NodeStatus.Deregistered;
        node.deregisteredEpoch = uint32(epoch);
        taskRegistry.unsubscribeAll(nodeId);
        emit NodeDeregistered(nodeId, epoch, epoch + 1);
    }

    /// Returns the collateral to the operator, one epoch after deregistration and with nothing pending.
    function withdrawCollateral(uint256 nodeId) external nonReentrant {
        INodeRegistry.Node storage node = _operated(nodeId);
        if (node.status == INodeRegistry.NodeStatus.Active) revert NotDeregistered(nodeId);
        if (node.status == INodeRegistry.NodeStatus.Deregistered && currentEpoch() <= node.deregisteredEpoch) {
            revert WithdrawalTooEarly(nodeId, uint256(node.deregisteredEpoch) + 1);
        }
        if (node.obligations != 0) revert ObligationsPending(nodeId, node.obligations);
        uint256 amount = node.collateral;
        if (amount == 0) revert NothingToWithdraw(nodeId);
        node.collateral = 0;
        token.safeTransfer(node.operator, amount);
        emit CollateralWithdrawn(nodeId, node.operator, amount);
    }

    // ---------------------------------------------------------------- views

    function getNode(uint256 nodeId) external view returns (INodeRegistry.Node memory) {
        return _nodes[nodeId];
    }

    function isRegistered(uint256 nodeId) external view returns (bool) {
        return _nodes[nodeId].status != INodeRegistry.NodeStatus.None;
    }

    /// Active, past its registration epoch, and holding at least the minimum collateral.
    function isEligible(uint256 nodeId) public view returns (bool) {
        INodeRegistry.Node storage node = _nodes[nodeId];
        return node.status == INodeRegistry.NodeStatus.Active && currentEpoch() > node.registeredEpoch
            && node.collateral >= params.minCollateral;
    }

    function nodeStates(uint256[] calldata nodeIds) external view returns (INodeRegistry.NodeState[] memory states) {
        states = new INodeRegistry.NodeState[](nodeIds.length);
        uint256 epoch = currentEpoch();
        uint256 minCollateral = params.minCollateral;
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            INodeRegistry.Node storage node = _nodes[nodeIds[i]];
            states[i] = INodeRegistry.NodeState({
                eligible: node.status == INodeRegistry.NodeStatus.Active && epoch > node.registeredEpoch
                    && node.collateral >= minCollateral,
                reputation: node.reputation,
                echelon: node.echelon
            });
        }
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

    /// A stack, attestation, committee seat or request now depends on the node: its collateral stays locked.
    function addObligation(uint256 nodeId) external onlyRole(PROTOCOL_ROLE) {
        _existing(nodeId).obligations += 1;
    }

    function removeObligation(uint256 nodeId) external onlyRole(PROTOCOL_ROLE) {
        INodeRegistry.Node storage node = _existing(nodeId);
        if (node.obligations > 0) node.obligations -= 1;
    }

    function rewardHonest(uint256 nodeId) external onlyRole(PROTOCOL_ROLE) {
        _reward(_existing(nodeId), nodeId);
    }

    /// Ends an obligation and, when the node did its part honestly, raises its reputation (one storage write).
    function releaseObligation(uint256 nodeId, bool honest) external onlyRole(PROTOCOL_ROLE) {
        INodeRegistry.Node storage node = _existing(nodeId);
        if (node.obligations > 0) node.obligations -= 1;
        if (honest) _reward(node, nodeId);
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
        INodeRegistry.Node storage node = _existing(nodeId);
        if (user == address(0)) user = vault.treasury();
        Params memory p = params;
        uint8 reputation = node.reputation > p.timeoutPenalty ? node.reputation - p.timeoutPenalty : 0;
        if (reputation != node.reputation) {
            node.reputation = reputation;
            emit ReputationChanged(nodeId, reputation);
        }
        taken = node.collateral * p.timeoutSlashBps / BPS;
        if (taken == 0) return 0;
        node.collateral -= taken;
        emit NodeSlashed(nodeId, taken, false, user);
        token.safeTransfer(address(vault), taken);
        vault.distributeSlashed(taken, user, p.timeoutUserBps, new uint256[](0), 0, p.timeoutTreasuryBps);
    }

    /// Proven fraud: all collateral, shared between `user`, the honest nodes, the treasury and burning; reputation
    /// zero; the node is barred and unsubscribed from everything.
    function slashFraud(uint256 nodeId, address user, uint256[] calldata honestNodeIds)
        external
        onlyRole(PROTOCOL_ROLE)
        returns (uint256 taken)
    {
        INodeRegistry.Node storage node = _existing(nodeId);
        if (node.status == INodeRegistry.NodeStatus.Active) taskRegistry.unsubscribeAll(nodeId);
        node.status = INodeRegistry.NodeStatus.Slashed;
        if (node.reputation != 0) {
            node.reputation = 0;
            emit ReputationChanged(nodeId, 0);
        }
        taken = node.collateral;
        emit NodeSlashed(nodeId, taken, true, user);
        if (taken == 0) return 0;
        node.collateral = 0;
        Params memory p = params;
        token.safeTransfer(address(vault), taken);
        vault.distributeSlashed(taken, user, p.fraudUserBps, honestNodeIds, p.fraudHonestBps, p.fraudTreasuryBps);
    }

    // ---------------------------------------------------------------- internals

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
