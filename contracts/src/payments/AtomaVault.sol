// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {EpochClock} from "../common/EpochClock.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";

/// @title AtomaVault: every TOMA users have paid and not yet been paid out, and every payout owed.
/// @notice Escrows (stacks, smart-contract requests) are locked here and can only be paid out up to what was
/// locked: `payOut`, `payNodes` and `refund` all draw on one escrow balance, so the total paid for an escrow
/// never exceeds it. Node fees are credited to the epoch in which they were earned and claimable once it has
/// ended; model owners' fees likewise. Refunds and slashed shares owed to users and the treasury are pull
/// balances. Slashed collateral that is not redistributed is burned, and so is `feeBurnBps` of every fee (a node's
/// service or attestation fee, a model owner's share) as it is credited: what a fee burned is what earns emission
/// (EmissionSchedule), so a fee a party pays itself costs it that burn.
/// Invariant: token balance ≥ totalEscrowed + totalOwed.
contract AtomaVault is IAtomaVault, AtomaAccess, EpochClock, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    uint256 internal constant BPS = 10_000;
    /// The most of each fee governance may burn.
    uint16 public constant MAX_FEE_BURN_BPS = 5_000;

    struct Entry {
        uint128 claimable;
        /// Fees earned for service and attestation before their burn (not slashed shares): the emission's shares.
        uint128 earned;
    }

    struct EpochTotals {
        uint128 nodeFees;
        uint128 modelFees;
    }

    IERC20 public immutable token;
    INodeRegistry public immutable nodeRegistry;
    address public treasury;
    uint16 public feeBurnBps;

    uint128 public totalEscrowed;
    uint128 public totalOwed;
    mapping(bytes32 key => uint256) public escrowOf;
    mapping(uint256 nodeId => mapping(uint256 epoch => Entry)) public nodeLedger;
    mapping(address owner => mapping(uint256 epoch => Entry)) public ownerLedger;
    mapping(uint256 epoch => EpochTotals) public epochTotals;
    mapping(address account => uint256) public balanceOf;
    /// What the fees credited to a node (or a model owner) in an epoch burned: the base of its emission.
    mapping(uint256 nodeId => mapping(uint256 epoch => uint256)) public nodeBurned;
    mapping(address owner => mapping(uint256 epoch => uint256)) public ownerBurned;

    event NodeCredited(uint256 indexed nodeId, uint256 indexed epoch, uint256 amount, bool fee);
    event OwnerCredited(address indexed owner, uint256 indexed epoch, uint256 amount);
    event BalanceCredited(address indexed account, uint256 amount);
    event EscrowClosed(bytes32 indexed key, uint256 refunded, address indexed refundTo);
    event SlashDistributed(uint256 amount, address indexed user, uint256 toUser, uint256 toHonest, uint256 toTreasury, uint256 burned);
    event NodeFeesClaimed(uint256 indexed nodeId, address indexed operator, uint256 amount);
    event OwnerFeesClaimed(address indexed owner, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event TreasuryChanged(address treasury);
    event FeeBurnChanged(uint16 feeBurnBps);
    event FeesBurned(uint256 amount);

    error EscrowExceeded(bytes32 key, uint256 requested, uint256 available);
    error EscrowExists(bytes32 key);
    error SlashedFundsMissing(uint256 amount);
    error InvalidSplit();
    error EpochNotEnded(uint256 epoch);
    error NothingToClaim();

    constructor(address admin, IERC20 token_, INodeRegistry nodeRegistry_, address treasury_, uint16 feeBurnBps_)
        AtomaAccess(admin)
        EpochClock(nodeRegistry_.GENESIS(), nodeRegistry_.EPOCH_LENGTH())
    {
        if (address(token_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        token = token_;
        nodeRegistry = nodeRegistry_;
        treasury = treasury_;
        _setFeeBurn(feeBurnBps_);
    }

    /// The share of every fee burned from now on (fees already credited keep theirs).
    function setFeeBurnBps(uint16 feeBurnBps_) external onlyRole(GOVERNOR_ROLE) {
        _setFeeBurn(feeBurnBps_);
    }

    function _setFeeBurn(uint16 bps) internal {
        _check(bps <= MAX_FEE_BURN_BPS, "feeBurnBps", bps);
        feeBurnBps = bps;
        emit FeeBurnChanged(bps);
    }

    function setTreasury(address treasury_) external onlyRole(GOVERNOR_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }

    // ---------------------------------------------------------------- escrows (protocol contracts)

    /// Pulls `amount` from `payer` (who approved this vault) into the escrow `key`.
    function lock(bytes32 key, address payer, uint256 amount) external onlyRole(PROTOCOL_ROLE) nonReentrant {
        if (escrowOf[key] != 0) revert EscrowExists(key);
        escrowOf[key] = amount;
        totalEscrowed += amount.toUint128();
        // No event of its own (issue 15: it cost every purchase ~1.8k gas). `StackRequested` logs a stack's payer and
        // the amount locked; a consensus request's amount is not in its event: read `escrowOf` for it.
        if (amount > 0) token.safeTransferFrom(payer, address(this), amount);
    }

    /// Pays an escrow out in full: node, model owner, attesters, and the rest back to `refundTo`.
    function payOut(bytes32 key, Payout calldata p) external onlyRole(PROTOCOL_ROLE) returns (uint256 refunded) {
        uint256 available = escrowOf[key];
        uint256 paid = p.nodeAmount + p.modelAmount + p.attesterIds.length * p.attesterAmountEach;
        if (paid > available) revert EscrowExceeded(key, paid, available);
        uint256 epoch = currentEpoch();
        uint256 burned;
        // The settlement's own event itemises this payout; crediting here emits nothing more.
        if (p.nodeAmount > 0) burned += _creditNode(p.nodeId, epoch, p.nodeAmount, true, false);
        if (p.modelAmount > 0) burned += _creditOwner(p.modelOwner, epoch, p.modelAmount, false);
        for (uint256 i = 0; i < p.attesterIds.length; ++i) {
            if (p.attesterAmountEach > 0) {
                burned += _creditNode(p.attesterIds[i], epoch, p.attesterAmountEach, true, false);
            }
        }
        refunded = available - paid;
        if (refunded > 0) balanceOf[p.refundTo] += refunded;
        escrowOf[key] = 0;
        totalEscrowed -= available.toUint128();
        totalOwed += (available - burned).toUint128();
        _burnFees(burned);
        emit EscrowClosed(key, refunded, p.refundTo);
    }

    /// Pays nodes (and the model owner's share) from an escrow that stays open for the rest.
    function payNodes(
        bytes32 key,
        uint256[] calldata nodeIds,
        uint256[] calldata amounts,
        address modelOwner,
        uint256 modelAmount
    ) external onlyRole(PROTOCOL_ROLE) {
        uint256 total = modelAmount;
        for (uint256 i = 0; i < amounts.length; ++i) total += amounts[i];
        uint256 available = escrowOf[key];
        if (total > available || nodeIds.length != amounts.length) revert EscrowExceeded(key, total, available);
        uint256 epoch = currentEpoch();
        uint256 burned;
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            if (amounts[i] > 0) burned += _creditNode(nodeIds[i], epoch, amounts[i], true, true);
        }
        if (modelAmount > 0) burned += _creditOwner(modelOwner, epoch, modelAmount, true);
        escrowOf[key] = available - total;
        totalEscrowed -= total.toUint128();
        totalOwed += (total - burned).toUint128();
        _burnFees(burned);
    }

    /// Pays `amount` of an escrow, which stays open for the rest, to the balance of `to` (the owner's excess once
    /// a stack's price is known, a stack's minimum charge to the treasury).
    function release(bytes32 key, address to, uint256 amount) external onlyRole(PROTOCOL_ROLE) {
        uint256 available = escrowOf[key];
        if (amount > available) revert EscrowExceeded(key, amount, available);
        if (amount == 0) return;
        escrowOf[key] = available - amount;
        totalEscrowed -= amount.toUint128();
        totalOwed += amount.toUint128();
        _creditBalance(to, amount);
    }

    /// Returns what is left of an escrow to `to`.
    function refund(bytes32 key, address to) external onlyRole(PROTOCOL_ROLE) returns (uint256 refunded) {
        refunded = escrowOf[key];
        escrowOf[key] = 0;
        if (refunded > 0) {
            totalEscrowed -= refunded.toUint128();
            totalOwed += refunded.toUint128();
            _creditBalance(to, refunded);
        }
        emit EscrowClosed(key, refunded, to);
    }

    /// Shares collateral the node registry has just transferred here: `userBps` to `user`, `honestBps` split
    /// equally among `honestNodeIds` (burned when there are none), `treasuryBps` to the treasury, the rest burned.
    function distributeSlashed(
        uint256 amount,
        address user,
        uint256 userBps,
        uint256[] calldata honestNodeIds,
        uint256 honestBps,
        uint256 treasuryBps
    ) external onlyRole(PROTOCOL_ROLE) {
        if (userBps + honestBps + treasuryBps > BPS) revert InvalidSplit();
        if (token.balanceOf(address(this)) < uint256(totalEscrowed) + totalOwed + amount) {
            revert SlashedFundsMissing(amount);
        }
        uint256 toUser = user == address(0) ? 0 : amount * userBps / BPS;
        uint256 toHonest;
        if (honestNodeIds.length > 0) {
            uint256 each = amount * honestBps / BPS / honestNodeIds.length;
            uint256 epoch = currentEpoch();
            for (uint256 i = 0; i < honestNodeIds.length; ++i) {
                if (each > 0) _creditNode(honestNodeIds[i], epoch, each, false, true);
            }
            toHonest = each * honestNodeIds.length;
        }
        uint256 toTreasury = amount * treasuryBps / BPS;
        if (toUser > 0) _creditBalance(user, toUser);
        if (toTreasury > 0) _creditBalance(treasury, toTreasury);
        totalOwed += (toUser + toHonest + toTreasury).toUint128();
        uint256 burned = amount - toUser - toHonest - toTreasury;
        if (burned > 0) ERC20Burnable(address(token)).burn(burned);
        emit SlashDistributed(amount, user, toUser, toHonest, toTreasury, burned);
    }

    // ---------------------------------------------------------------- claims

    /// Pays a node's operator what it earned in `epochs`, each of which must have ended. Anyone may trigger it.
    function claimNodeFees(uint256 nodeId, uint256[] calldata epochs) external nonReentrant returns (uint256 total) {
        uint256 current = currentEpoch();
        for (uint256 i = 0; i < epochs.length; ++i) {
            if (epochs[i] >= current) revert EpochNotEnded(epochs[i]);
            Entry storage entry = nodeLedger[nodeId][epochs[i]];
            total += entry.claimable;
            entry.claimable = 0;
        }
        if (total == 0) revert NothingToClaim();
        totalOwed -= total.toUint128();
        address operator = nodeRegistry.operatorOf(nodeId);
        token.safeTransfer(operator, total);
        emit NodeFeesClaimed(nodeId, operator, total);
    }

    /// Pays a model owner its fee share from `epochs`, each of which must have ended.
    function claimOwnerFees(uint256[] calldata epochs) external nonReentrant returns (uint256 total) {
        uint256 current = currentEpoch();
        for (uint256 i = 0; i < epochs.length; ++i) {
            if (epochs[i] >= current) revert EpochNotEnded(epochs[i]);
            Entry storage entry = ownerLedger[msg.sender][epochs[i]];
            total += entry.claimable;
            entry.claimable = 0;
        }
        if (total == 0) revert NothingToClaim();
        totalOwed -= total.toUint128();
        token.safeTransfer(msg.sender, total);
        emit OwnerFeesClaimed(msg.sender, total);
    }

    /// Pays `account` its balance (refunds, slashed shares). Anyone may trigger it; the tokens go to `account`.
    function withdraw(address account) external nonReentrant returns (uint256 amount) {
        amount = balanceOf[account];
        if (amount == 0) revert NothingToClaim();
        balanceOf[account] = 0;
        totalOwed -= amount.toUint128();
        token.safeTransfer(account, amount);
        emit Withdrawn(account, amount);
    }

    // ---------------------------------------------------------------- internals

    /// Credits a node; a fee (`fee`) counts towards its emission and burns `feeBurnBps`, which it returns.
    function _creditNode(uint256 nodeId, uint256 epoch, uint256 amount, bool fee, bool log)
        internal
        returns (uint256 burned)
    {
        Entry storage entry = nodeLedger[nodeId][epoch];
        if (fee) {
            burned = amount * feeBurnBps / BPS;
            if (burned > 0) nodeBurned[nodeId][epoch] += burned;
            uint128 gross = amount.toUint128();
            (entry.claimable, entry.earned) = (entry.claimable + uint128(amount - burned), entry.earned + gross);
            epochTotals[epoch].nodeFees += gross;
        } else {
            entry.claimable += amount.toUint128();
        }
        if (log) emit NodeCredited(nodeId, epoch, amount, fee);
    }

    function _creditOwner(address owner, uint256 epoch, uint256 amount, bool log) internal returns (uint256 burned) {
        Entry storage entry = ownerLedger[owner][epoch];
        burned = amount * feeBurnBps / BPS;
        if (burned > 0) ownerBurned[owner][epoch] += burned;
        uint128 gross = amount.toUint128();
        (entry.claimable, entry.earned) = (entry.claimable + uint128(amount - burned), entry.earned + gross);
        epochTotals[epoch].modelFees += gross;
        if (log) emit OwnerCredited(owner, epoch, amount);
    }

    function _burnFees(uint256 amount) internal {
        if (amount == 0) return;
        ERC20Burnable(address(token)).burn(amount);
        emit FeesBurned(amount);
    }

    function _creditBalance(address account, uint256 amount) internal {
        balanceOf[account] += amount;
        emit BalanceCredited(account, amount);
    }
}
