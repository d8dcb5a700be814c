// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDisputeParams} from "../interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {DisputeManager} from "./DisputeManager.sol";

/// @title DisputeDraw: the dispute manager's public committee draw, kept out of DisputeManager (EIP-170).
/// @notice DisputeManager creates it in its constructor and asks it (`draw`) once an armed draw's seed can be read.
/// The seed of a draw armed in block A (the manager's `drawBlock`) is keccak256(hash(A + 1), disputeId, manager):
/// the hash of the block AFTER the arming one, which nobody knew when the candidates were frozen and which the
/// builder of A cannot grind by ordering A. The first call that can read that hash (blocks A + 2 … A + 257: the
/// manager's draw, or anyone's `pokeSeed`) stores it, so a draw made later uses the stored seed however late.
/// Bounded: a seed nobody read within the blockhash horizon is replaced once by a fresh one (the manager re-arms on
/// the current block, same candidates: anyone may then draw from it); if that one also goes unread, the round
/// fails as a draw that found nobody (`DrawFailed`, so later rounds and the `NoCommittee` end follow the manager's
/// `drawRounds`). A party that dislikes the committee its seed gives, and waits, therefore sees at most
/// `drawRounds` + 1 seeds, each only if every other node (the dissenter's and the candidates' duties poke the seed)
/// stays away for 256 blocks; it used to get a fresh seed every 257 blocks without bound.
contract DisputeDraw {
    uint256 internal constant BLOCKHASH_HORIZON = 256;

    DisputeManager public immutable disputes;
    INodeRegistry public immutable nodeRegistry;

    /// The public draw's seed of dispute `disputeId` armed in block `armed`, stored by the first call that read it.
    mapping(uint256 disputeId => mapping(uint256 armed => bytes32)) public seeds;
    /// Disputes whose public seed once expired unread and were re-armed on a fresh one (at most once).
    mapping(uint256 disputeId => bool) public rearmed;

    /// The armed seed expired unread: re-armed on a fresh block (`rearm`), or, once already, the round fails.
    event PublicSeedExpired(uint256 indexed disputeId, uint256 armed, bool rearm);

    error NotDisputeManager(address caller);

    constructor(INodeRegistry nodeRegistry_) {
        disputes = DisputeManager(msg.sender);
        nodeRegistry = nodeRegistry_;
    }

    /// Stores the seed of dispute `disputeId`'s armed draw (anyone may call) once the block after the arming one is
    /// mined and while its hash is readable; returns it (zero when nothing is armed, not mined yet, or expired
    /// unstored).
    function pokeSeed(uint256 disputeId) external returns (bytes32) {
        return _seed(disputeId, disputes.getDispute(disputeId).drawBlock);
    }

    /// The manager's public draw of dispute `disputeId` (only the manager may ask), called once a block after the
    /// seed block exists: the committee its seed draws, or `rearm` when the seed expired unread for the first time
    /// (an empty committee, so a failed round, the second time).
    function draw(uint256 disputeId) external returns (bool rearm, uint256[] memory chosen) {
        if (msg.sender != address(disputes)) revert NotDisputeManager(msg.sender);
        uint256 armed = disputes.getDispute(disputeId).drawBlock;
        bytes32 seed = _seed(disputeId, armed);
        if (seed == 0) {
            rearm = !rearmed[disputeId];
            rearmed[disputeId] = true;
            emit PublicSeedExpired(disputeId, armed, rearm);
            return (rearm, chosen);
        }
        chosen = pick(disputeId, uint256(seed));
    }

    function _seed(uint256 disputeId, uint256 armed) internal returns (bytes32 seed) {
        seed = seeds[disputeId][armed];
        if (seed != 0 || armed == 0 || block.number <= armed + 1 || block.number > armed + 1 + BLOCKHASH_HORIZON) {
            return seed;
        }
        seed = keccak256(abi.encode(blockhash(armed + 1), disputeId, address(disputes)));
        seeds[disputeId][armed] = seed;
    }

    /// The first `committeeSize` of the frozen candidates, in the permutation `seed` gives them (Fisher–Yates),
    /// that still hold collateral as registered nodes (active or deregistered, never slashed): a candidate keeps
    /// its place even if it left the task or became otherwise ineligible since the snapshot, so leaving cannot shrink
    /// the committee; drawn, it votes or pays the timeout share. An even count drops its last, so a committee is odd.
    function pick(uint256 disputeId, uint256 seed) public view returns (uint256[] memory chosen) {
        uint64[] memory order = disputes.candidatesOf(disputeId);
        (uint256 want,) = IDisputeParams(address(disputes)).params();
        chosen = new uint256[](want);
        uint256 found;
        for (uint256 i = 0; i < order.length && found < want; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (order.length - i);
            (order[i], order[j]) = (order[j], order[i]);
            INodeRegistry.Node memory n = nodeRegistry.getNode(order[i]);
            if (n.collateral != 0 && n.status != INodeRegistry.NodeStatus.Slashed) chosen[found++] = order[i];
        }
        if (found % 2 == 0 && found > 0) --found;
        assembly ("memory-safe") {
            mstore(chosen, found)
        }
    }
}
