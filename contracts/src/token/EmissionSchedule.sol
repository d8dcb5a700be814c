// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../common/AtomaAccess.sol";
import {EpochClock} from "../common/EpochClock.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";

interface IMintable {
    function mint(address to, uint256 amount) external;
}

/// @title EmissionSchedule: new TOMA per epoch, inflationary at first and decaying to a tail emission.
/// @notice emission(e) = max(tail, initial × (decayBps / 10_000)^e). Each ended epoch's emission is shared:
/// `nodeShareBps` to nodes pro rata to the fees they earned in it (service and attestation, as the vault
/// records them; a node barred for fraud claims none), `modelShareBps` to model owners pro rata to their fee shares, `treasuryBps` to the treasury.
/// Shares are minted when claimed; a share nobody earned (an epoch without fees) is never minted. The schedule
/// is fixed at deployment so that no later change can alter what an unclaimed epoch pays.
contract EmissionSchedule is AtomaAccess, EpochClock {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant ONE = 1e18;

    struct Schedule {
        uint256 initialEmission;
        uint256 tailEmission;
        uint16 decayBps;
        uint16 nodeShareBps;
        uint16 modelShareBps;
        uint16 treasuryBps;
    }

    IMintable public immutable token;
    IAtomaVault public immutable vault;
    INodeRegistry public immutable nodeRegistry;
    uint256 public immutable initialEmission;
    uint256 public immutable tailEmission;
    uint256 public immutable decayBps;
    uint256 public immutable nodeShareBps;
    uint256 public immutable modelShareBps;
    uint256 public immutable treasuryBps;

    mapping(uint256 nodeId => mapping(uint256 epoch => bool)) public nodeClaimed;
    mapping(address owner => mapping(uint256 epoch => bool)) public ownerClaimed;
    mapping(uint256 epoch => bool) public treasuryClaimed;

    event EmissionClaimed(uint256 indexed epoch, uint8 indexed kind, bytes32 indexed account, address to, uint256 amount);

    error EpochNotEnded(uint256 epoch);
    error AlreadyClaimed(uint256 epoch);
    error NothingToClaim(uint256 epoch);
    error NodeBarred(uint256 nodeId);

    constructor(address admin, IMintable token_, IAtomaVault vault_, INodeRegistry nodeRegistry_, Schedule memory s)
        AtomaAccess(admin)
        EpochClock(nodeRegistry_.GENESIS(), nodeRegistry_.EPOCH_LENGTH())
    {
        if (address(token_) == address(0) || address(vault_) == address(0)) revert ZeroAddress();
        _check(s.tailEmission <= s.initialEmission && s.initialEmission <= 1e30, "initialEmission", s.initialEmission);
        _check(s.decayBps <= BPS, "decayBps", s.decayBps);
        _check(uint256(s.nodeShareBps) + s.modelShareBps + s.treasuryBps == BPS, "shares", s.nodeShareBps);
        token = token_;
        vault = vault_;
        nodeRegistry = nodeRegistry_;
        initialEmission = s.initialEmission;
        tailEmission = s.tailEmission;
        decayBps = s.decayBps;
        nodeShareBps = s.nodeShareBps;
        modelShareBps = s.modelShareBps;
        treasuryBps = s.treasuryBps;
    }

    /// TOMA emitted for `epoch` (before the split).
    function emissionFor(uint256 epoch) public view returns (uint256) {
        if (epoch > 10_000) return tailEmission;
        uint256 factor = ONE;
        uint256 base = decayBps * ONE / BPS;
        for (uint256 e = epoch; e > 0; e >>= 1) {
            if (e & 1 == 1) factor = factor * base / ONE;
            base = base * base / ONE;
        }
        uint256 amount = initialEmission * factor / ONE;
        return amount > tailEmission ? amount : tailEmission;
    }

    /// Mints a node's share of an ended epoch's emission to its operator.
    function claimNodeEmission(uint256 nodeId, uint256 epoch) external returns (uint256 amount) {
        _ended(epoch);
        if (nodeClaimed[nodeId][epoch]) revert AlreadyClaimed(epoch);
        if (nodeRegistry.getNode(nodeId).status == INodeRegistry.NodeStatus.Slashed) revert NodeBarred(nodeId);
        (, uint128 earned) = vault.nodeLedger(nodeId, epoch);
        (uint128 totalFees,) = vault.epochTotals(epoch);
        if (earned == 0) revert NothingToClaim(epoch);
        nodeClaimed[nodeId][epoch] = true;
        amount = emissionFor(epoch) * nodeShareBps / BPS * earned / totalFees;
        address operator = nodeRegistry.operatorOf(nodeId);
        if (amount > 0) token.mint(operator, amount);
        emit EmissionClaimed(epoch, 0, bytes32(nodeId), operator, amount);
    }

    /// Mints a model owner's share of an ended epoch's emission to it.
    function claimOwnerEmission(address owner, uint256 epoch) external returns (uint256 amount) {
        _ended(epoch);
        if (ownerClaimed[owner][epoch]) revert AlreadyClaimed(epoch);
        (, uint128 earned) = vault.ownerLedger(owner, epoch);
        (, uint128 totalFees) = vault.epochTotals(epoch);
        if (earned == 0) revert NothingToClaim(epoch);
        ownerClaimed[owner][epoch] = true;
        amount = emissionFor(epoch) * modelShareBps / BPS * earned / totalFees;
        if (amount > 0) token.mint(owner, amount);
        emit EmissionClaimed(epoch, 1, bytes32(uint256(uint160(owner))), owner, amount);
    }

    /// Mints the treasury's share of an ended epoch's emission to the vault's treasury address.
    function claimTreasuryEmission(uint256 epoch) external returns (uint256 amount) {
        _ended(epoch);
        if (treasuryClaimed[epoch]) revert AlreadyClaimed(epoch);
        treasuryClaimed[epoch] = true;
        amount = emissionFor(epoch) * treasuryBps / BPS;
        address treasury = vault.treasury();
        if (amount > 0) token.mint(treasury, amount);
        emit EmissionClaimed(epoch, 2, bytes32(0), treasury, amount);
    }

    function _ended(uint256 epoch) internal view {
        if (epoch >= currentEpoch()) revert EpochNotEnded(epoch);
    }
}
