// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../common/AtomaAccess.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";

interface IMintable {
    function mint(address to, uint256 amount) external;
    function minter() external view returns (address);
}

/// @title EmissionSchedule: new TOMA per epoch, inflationary at first and decaying to a tail emission.
/// @notice emission(e) = max(tail, initial × (decayBps / 10_000)^e), shared: `nodeShareBps` to nodes,
/// `modelShareBps` to model owners, `treasuryBps` to the treasury. A node's claim for an ended epoch is the least of
///   - its pro-rata share of the node pool by the fees it earned (service and attestation, as the vault records
///     them; slashed shares earn nothing),
///   - `maxEmissionPerBurnBps` of what its fees burned in the epoch (emission is earned by burning), and
///   - `maxStakeYieldBps` of its stake in the epoch (the lowest collateral it held during it);
/// a model owner's is the least of its pro-rata share and what its fees burned. So fees a party pays itself
/// cost it the burn, and since `maxEmissionPerBurnBps` can never exceed 1× (a hard bound), they never bring back
/// more than they burned: self-dealing cannot profit in absolute terms (docs/soundness.md, "wash trading"). Whatever the caps withhold is never minted, nor is a share nobody earned. The schedule is
/// fixed at deployment, and the mints of an epoch can never exceed its emission, whatever the wiring.
contract EmissionSchedule is AtomaAccess {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant ONE = 1e18;
    /// Bounds of the caps: emission at most 1× what a node's fees burned (never more than was burned, so a fee a
    /// node pays itself never pays back more than it cost), and 10 % of its stake per epoch.
    uint256 public constant MAX_EMISSION_PER_BURN_BPS = 10_000;
    uint256 public constant MAX_STAKE_YIELD_BPS = 1_000;

    struct Schedule {
        uint256 initialEmission;
        uint256 tailEmission;
        uint16 decayBps;
        uint16 nodeShareBps;
        uint16 modelShareBps;
        uint16 treasuryBps;
        uint32 maxEmissionPerBurnBps;
        uint16 maxStakeYieldBps;
    }

    IMintable public token;
    IAtomaVault public vault;
    INodeRegistry public nodeRegistry;
    uint256 public immutable initialEmission;
    uint256 public immutable tailEmission;
    uint256 public immutable decayBps;
    uint256 public immutable nodeShareBps;
    uint256 public immutable modelShareBps;
    uint256 public immutable treasuryBps;
    uint256 public immutable maxEmissionPerBurnBps;
    uint256 public immutable maxStakeYieldBps;

    mapping(uint256 nodeId => mapping(uint256 epoch => bool)) public nodeClaimed;
    mapping(address owner => mapping(uint256 epoch => bool)) public ownerClaimed;
    mapping(uint256 epoch => bool) public treasuryClaimed;
    /// What each pool of an epoch has minted so far, never more than the pool.
    mapping(uint256 epoch => uint256) public nodeMinted;
    mapping(uint256 epoch => uint256) public ownerMinted;

    event EmissionClaimed(uint256 indexed epoch, uint8 indexed kind, bytes32 indexed account, address to, uint256 amount);

    error EpochNotEnded(uint256 epoch);
    error AlreadyClaimed(uint256 epoch);
    error NothingToClaim(uint256 epoch);
    error NodeBarred(uint256 nodeId);
    /// `maxEmissionPerBurnBps` above 1×: a self-dealer would be paid more emission than its fees burned.
    error EmissionPerBurnAboveOne(uint256 given, uint256 max);
    /// The token's minter is not this schedule.
    error WiringMismatch();

    /// Deployed before the token, which names this schedule its only minter; `wire` then links the rest.
    constructor(address admin, Schedule memory s) AtomaAccess(admin) {
        _check(s.tailEmission <= s.initialEmission && s.initialEmission <= 1e30, "initialEmission", s.initialEmission);
        _check(s.decayBps <= BPS, "decayBps", s.decayBps);
        _check(uint256(s.nodeShareBps) + s.modelShareBps + s.treasuryBps == BPS, "shares", s.nodeShareBps);
        if (s.maxEmissionPerBurnBps > MAX_EMISSION_PER_BURN_BPS) {
            revert EmissionPerBurnAboveOne(s.maxEmissionPerBurnBps, MAX_EMISSION_PER_BURN_BPS);
        }
        _check(s.maxStakeYieldBps <= MAX_STAKE_YIELD_BPS, "maxStakeYieldBps", s.maxStakeYieldBps);
        initialEmission = s.initialEmission;
        tailEmission = s.tailEmission;
        decayBps = s.decayBps;
        nodeShareBps = s.nodeShareBps;
        modelShareBps = s.modelShareBps;
        treasuryBps = s.treasuryBps;
        maxEmissionPerBurnBps = s.maxEmissionPerBurnBps;
        maxStakeYieldBps = s.maxStakeYieldBps;
    }

    /// Links the token (whose minter this schedule must be), the vault and the node registry (whose epochs this
    /// schedule counts). Once.
    function wire(IMintable token_, IAtomaVault vault_, INodeRegistry nodeRegistry_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (address(token) != address(0)) revert AlreadyWired();
        if (address(token_) == address(0) || address(vault_) == address(0) || address(nodeRegistry_) == address(0)) {
            revert ZeroAddress();
        }
        if (token_.minter() != address(this)) revert WiringMismatch();
        token = token_;
        vault = vault_;
        nodeRegistry = nodeRegistry_;
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

    /// What a node may claim for an ended epoch (the least of its share and its two caps), claimed or not.
    function nodeEmission(uint256 nodeId, uint256 epoch) public view returns (uint256 amount) {
        (, uint128 earned) = vault.nodeLedger(nodeId, epoch);
        if (earned == 0) return 0;
        (uint128 totalFees,) = vault.epochTotals(epoch);
        amount = emissionFor(epoch) * nodeShareBps / BPS * earned / totalFees;
        amount = _min(amount, vault.nodeBurned(nodeId, epoch) * maxEmissionPerBurnBps / BPS);
        amount = _min(amount, nodeRegistry.stakeAt(nodeId, epoch) * maxStakeYieldBps / BPS);
    }

    /// What a model owner may claim for an ended epoch (the least of its share and what its fees burned).
    function ownerEmission(address owner, uint256 epoch) public view returns (uint256 amount) {
        (, uint128 earned) = vault.ownerLedger(owner, epoch);
        if (earned == 0) return 0;
        (, uint128 totalFees) = vault.epochTotals(epoch);
        amount = emissionFor(epoch) * modelShareBps / BPS * earned / totalFees;
        amount = _min(amount, vault.ownerBurned(owner, epoch));
    }

    /// Mints a node's emission for an ended epoch to its operator.
    function claimNodeEmission(uint256 nodeId, uint256 epoch) external returns (uint256 amount) {
        _ended(epoch);
        if (nodeClaimed[nodeId][epoch]) revert AlreadyClaimed(epoch);
        if (nodeRegistry.getNode(nodeId).status == INodeRegistry.NodeStatus.Slashed) revert NodeBarred(nodeId);
        (, uint128 earned) = vault.nodeLedger(nodeId, epoch);
        if (earned == 0) revert NothingToClaim(epoch);
        nodeClaimed[nodeId][epoch] = true;
        uint256 pool = emissionFor(epoch) * nodeShareBps / BPS;
        amount = _min(nodeEmission(nodeId, epoch), pool - nodeMinted[epoch]);
        nodeMinted[epoch] += amount;
        address operator = nodeRegistry.operatorOf(nodeId);
        if (amount > 0) token.mint(operator, amount);
        emit EmissionClaimed(epoch, 0, bytes32(nodeId), operator, amount);
    }

    /// Mints a model owner's emission for an ended epoch to it.
    function claimOwnerEmission(address owner, uint256 epoch) external returns (uint256 amount) {
        _ended(epoch);
        if (ownerClaimed[owner][epoch]) revert AlreadyClaimed(epoch);
        (, uint128 earned) = vault.ownerLedger(owner, epoch);
        if (earned == 0) revert NothingToClaim(epoch);
        ownerClaimed[owner][epoch] = true;
        uint256 pool = emissionFor(epoch) * modelShareBps / BPS;
        amount = _min(ownerEmission(owner, epoch), pool - ownerMinted[epoch]);
        ownerMinted[epoch] += amount;
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

    /// The node registry's epoch.
    function currentEpoch() public view returns (uint256) {
        if (address(nodeRegistry) == address(0)) revert NotWired();
        return nodeRegistry.currentEpoch();
    }

    function _ended(uint256 epoch) internal view {
        if (epoch >= currentEpoch()) revert EpochNotEnded(epoch);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }
}
