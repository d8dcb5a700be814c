// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";

/// @title ModelRegistry: models by id, with their weights Merkle root, owner, owner collateral and fee share.
/// @notice The owner earns `feeBps` of the fee of every settled stack on tasks of the model. Registered nodes
/// that find the published weights do not match the root report it; after `mismatchThreshold` distinct reports
/// the model is disabled. Governance whitelists (when `whitelistRequired`), disables, re-enables, forfeits the
/// collateral of a model proven bad, and sets bounded parameters.
contract ModelRegistry is IModelRegistry, AtomaAccess, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_URI_BYTES = 512;

    struct Params {
        uint256 minCollateral;
        uint16 maxFeeBps;
        uint32 mismatchThreshold;
        bool whitelistRequired;
    }

    IERC20 public immutable token;
    INodeRegistry public immutable nodeRegistry;
    Params public params;

    mapping(bytes32 modelId => Model) internal _models;
    /// Report rounds restart when governance re-enables a model, so old reports do not count twice.
    mapping(bytes32 modelId => uint256) public reportRound;
    mapping(bytes32 modelId => mapping(uint256 round => mapping(uint256 nodeId => bool))) public hasReported;

    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed owner,
        bytes32 weightsRoot,
        uint16 feeBps,
        uint256 collateral,
        ModelStatus status,
        string uri
    );
    event ModelStatusChanged(bytes32 indexed modelId, ModelStatus status);
    event WeightsMismatchReported(bytes32 indexed modelId, uint256 indexed nodeId, uint32 reports);
    event ModelCollateralWithdrawn(bytes32 indexed modelId, address indexed owner, uint256 amount);
    event ModelCollateralForfeited(bytes32 indexed modelId, address indexed to, uint256 amount);
    event ParamsUpdated(Params params);

    error ModelExists(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error InvalidModel();
    error FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error CollateralTooLow(uint256 given, uint256 required);
    error WrongModelStatus(bytes32 modelId, ModelStatus status);
    error NotModelOwner(bytes32 modelId, address caller);
    error NotNodeActor(uint256 nodeId, address caller);
    error NodeNotActive(uint256 nodeId);
    error AlreadyReported(bytes32 modelId, uint256 nodeId);
    error NothingToWithdraw(bytes32 modelId);

    constructor(address admin, IERC20 token_, INodeRegistry nodeRegistry_, Params memory params_)
        AtomaAccess(admin)
    {
        if (address(token_) == address(0) || address(nodeRegistry_) == address(0)) revert ZeroAddress();
        token = token_;
        nodeRegistry = nodeRegistry_;
        _setParams(params_);
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
    }

    function _setParams(Params memory p) internal {
        _check(p.minCollateral <= 1e36, "minCollateral", p.minCollateral);
        _check(p.maxFeeBps <= 5_000, "maxFeeBps", p.maxFeeBps);
        _check(p.mismatchThreshold >= 1 && p.mismatchThreshold <= 1_000, "mismatchThreshold", p.mismatchThreshold);
        params = p;
        emit ParamsUpdated(p);
    }

    /// Registers `modelId`, pulling `collateral` TOMA from the caller, who becomes its owner.
    function registerModel(
        bytes32 modelId,
        bytes32 weightsRoot,
        uint16 feeBps,
        uint256 collateral,
        string calldata uri
    ) external nonReentrant {
        if (modelId == bytes32(0) || weightsRoot == bytes32(0) || bytes(uri).length > MAX_URI_BYTES) {
            revert InvalidModel();
        }
        if (_models[modelId].status != ModelStatus.None) revert ModelExists(modelId);
        Params memory p = params;
        if (feeBps > p.maxFeeBps) revert FeeTooHigh(feeBps, p.maxFeeBps);
        if (collateral < p.minCollateral) revert CollateralTooLow(collateral, p.minCollateral);
        ModelStatus status = p.whitelistRequired ? ModelStatus.Pending : ModelStatus.Active;
        _models[modelId] = Model({
            owner: msg.sender,
            feeBps: feeBps,
            status: status,
            mismatchReports: 0,
            registeredEpoch: uint32(nodeRegistry.currentEpoch()),
            retiredEpoch: 0,
            weightsRoot: weightsRoot,
            collateral: collateral,
            uri: uri
        });
        if (collateral > 0) token.safeTransferFrom(msg.sender, address(this), collateral);
        emit ModelRegistered(modelId, msg.sender, weightsRoot, feeBps, collateral, status, uri);
    }

    /// A registered node found that the weights it fetched do not hash to the registered root.
    function reportWeightsMismatch(bytes32 modelId, uint256 nodeId) external {
        Model storage model = _existing(modelId);
        if (model.status != ModelStatus.Active && model.status != ModelStatus.Pending) {
            revert WrongModelStatus(modelId, model.status);
        }
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
        if (nodeRegistry.getNode(nodeId).status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        uint256 round = reportRound[modelId];
        if (hasReported[modelId][round][nodeId]) revert AlreadyReported(modelId, nodeId);
        hasReported[modelId][round][nodeId] = true;
        uint32 reports = ++model.mismatchReports;
        emit WeightsMismatchReported(modelId, nodeId, reports);
        if (reports >= params.mismatchThreshold) _setStatus(modelId, model, ModelStatus.Disabled);
    }

    function whitelistModel(bytes32 modelId) external onlyRole(GOVERNOR_ROLE) {
        Model storage model = _existing(modelId);
        if (model.status != ModelStatus.Pending) revert WrongModelStatus(modelId, model.status);
        _setStatus(modelId, model, ModelStatus.Active);
    }

    function disableModel(bytes32 modelId) external onlyRole(GOVERNOR_ROLE) {
        Model storage model = _existing(modelId);
        if (model.status == ModelStatus.Retired || model.status == ModelStatus.Disabled) {
            revert WrongModelStatus(modelId, model.status);
        }
        _setStatus(modelId, model, ModelStatus.Disabled);
    }

    /// Re-enables a disabled model and starts a new round of mismatch reports.
    function enableModel(bytes32 modelId) external onlyRole(GOVERNOR_ROLE) {
        Model storage model = _existing(modelId);
        if (model.status != ModelStatus.Disabled) revert WrongModelStatus(modelId, model.status);
        model.mismatchReports = 0;
        reportRound[modelId] += 1;
        _setStatus(modelId, model, ModelStatus.Active);
    }

    /// Sends a disabled model's collateral to `to` (the treasury), when governance judges the model bad.
    function forfeitCollateral(bytes32 modelId, address to) external onlyRole(GOVERNOR_ROLE) nonReentrant {
        Model storage model = _existing(modelId);
        if (model.status != ModelStatus.Disabled) revert WrongModelStatus(modelId, model.status);
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = model.collateral;
        if (amount == 0) revert NothingToWithdraw(modelId);
        model.collateral = 0;
        token.safeTransfer(to, amount);
        emit ModelCollateralForfeited(modelId, to, amount);
    }

    /// The owner withdraws the model from service; no new stacks or subscriptions use it.
    function retireModel(bytes32 modelId) external {
        Model storage model = _owned(modelId);
        if (model.status != ModelStatus.Active && model.status != ModelStatus.Pending) {
            revert WrongModelStatus(modelId, model.status);
        }
        model.retiredEpoch = uint32(nodeRegistry.currentEpoch());
        _setStatus(modelId, model, ModelStatus.Retired);
    }

    /// Returns a retired model's collateral to its owner from the epoch after retirement.
    function withdrawCollateral(bytes32 modelId) external nonReentrant {
        Model storage model = _owned(modelId);
        if (model.status != ModelStatus.Retired || nodeRegistry.currentEpoch() <= model.retiredEpoch) {
            revert WrongModelStatus(modelId, model.status);
        }
        uint256 amount = model.collateral;
        if (amount == 0) revert NothingToWithdraw(modelId);
        model.collateral = 0;
        token.safeTransfer(model.owner, amount);
        emit ModelCollateralWithdrawn(modelId, model.owner, amount);
    }

    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _models[modelId];
    }

    function isActive(bytes32 modelId) external view returns (bool) {
        return _models[modelId].status == ModelStatus.Active;
    }

    function feeTerms(bytes32 modelId) external view returns (address owner, uint16 feeBps) {
        Model storage model = _models[modelId];
        return (model.owner, model.feeBps);
    }

    function _existing(bytes32 modelId) internal view returns (Model storage model) {
        model = _models[modelId];
        if (model.status == ModelStatus.None) revert UnknownModel(modelId);
    }

    function _owned(bytes32 modelId) internal view returns (Model storage model) {
        model = _existing(modelId);
        if (model.owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
    }

    function _setStatus(bytes32 modelId, Model storage model, ModelStatus status) internal {
        model.status = status;
        emit ModelStatusChanged(modelId, status);
    }
}
