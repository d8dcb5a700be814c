// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeDraw} from "../src/disputes/DisputeDraw.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {DisputeSteps} from "./lib/DisputeSteps.sol";

/// @notice The dispute manager's public committee draw (review R4-0): seeded by the block AFTER the arming one, so
/// the arming block's builder cannot steer it; its seed stored by the first read; and a disputed server that waits
/// for the seed to expire gets one fresh seed, then a failed round, never an unbounded stream of re-rolls.
contract PublicDrawSeedTest is DisputeSteps {
    uint256 internal verifiedTask;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) {
            addNode(1);
        }
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        nextEpoch();
    }

    /// A settlement dispute with its evidence complete, its public draw armed in the returned block.
    function _armed() internal returns (uint256 disputeId, uint256 armed) {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory claimed = serve(stackId, 4, "cheat", 1_000_000);
        settleAs(stackId, server, claimed.root, 1_000_000, 4);
        Served memory honest = serve(stackId, 4, "honest", 1_000_000);
        uint256[] memory idx = settlement.sampledIndices(stackId);
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        for (uint256 i = 0; i < list.length; ++i) {
            commitResult(stackId, list[i].nodeId, resultOf(idx, honest));
        }
        vm.prank(vm.addr(signerKey[server]));
        settlement.reveal(stackId, revealOf(idx, claimed));
        openAttestations(stackId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Disputed, "disputed");
        disputeId = disputes.disputeCount();
        vm.roll(block.number + 3);
        postEvidence(disputeId, stackId, server, claimed);
        armed = disputes.getDispute(disputeId).drawBlock;
        assertEq(armed, block.number, "armed by the completing post");
    }

    /// Attacker: whoever builds the arming block grinds its hash (orderings, its own transactions). The draw reads
    /// the next block's hash, so every hash of the arming block gives the same committee; and nobody can draw in
    /// the seed block itself, before that hash exists.
    function testFuzz_theArmingBlocksHashDoesNotSteerTheDraw(bytes32 ground) public {
        (uint256 disputeId, uint256 armed) = _armed();
        vm.roll(armed + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.DrawNotReady.selector, disputeId, armed));
        disputes.drawCommittee(disputeId);
        bytes32 seedBlockHash = keccak256("the seed block");
        vm.setBlockhash(armed + 1, seedBlockHash);
        uint256 snapshot = vm.snapshotState();
        vm.setBlockhash(armed, keccak256("honest arming block"));
        vm.roll(armed + 2);
        disputes.drawCommittee(disputeId);
        uint256[] memory expected = committeeIds(disputeId);
        vm.revertToState(snapshot);
        vm.setBlockhash(armed, ground);
        vm.roll(armed + 2);
        disputes.drawCommittee(disputeId);
        uint256[] memory got = committeeIds(disputeId);
        assertEq(got.length, expected.length, "size");
        for (uint256 i = 0; i < got.length; ++i) {
            assertEq(got[i], expected[i], "the same committee whatever the arming block's hash");
        }
        DisputeDraw helper = disputes.publicDraw();
        bytes32 seed = keccak256(abi.encode(seedBlockHash, disputeId, address(disputes)));
        assertEq(helper.seeds(disputeId, armed), seed, "seeded by the next block, stored");
    }

    /// Attacker: the disputed server dislikes the committee the seed gives and keeps every keeper away until the
    /// seed's hash is gone. It used to get a fresh seed every 257 blocks without bound; now one fresh seed (anyone
    /// may draw from it), then the round fails, and the rounds end the dispute with no committee (unpaid).
    function test_waitingOutTheHorizonYieldsOneFreshSeedThenAFailedRound() public {
        (uint256 disputeId, uint256 armed) = _armed();
        vm.roll(armed + 2 + 256);
        disputes.drawCommittee(disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        assertEq(d.drawBlock, block.number, "re-armed once on a fresh block");
        assertTrue(!d.drawn, "not drawn");
        assertTrue(disputes.publicDraw().rearmed(disputeId), "the one fresh seed is spent");
        uint256 again = d.drawBlock;
        vm.roll(again + 2 + 256);
        disputes.drawCommittee(disputeId);
        d = disputes.getDispute(disputeId);
        assertEq(d.drawRound, 1, "the second expiry fails the round");
        assertEq(d.drawBlock, 0, "no third seed in this round");
        uint8 rounds = disputeParams(disputes).drawRounds;
        uint256 seeds = 2;
        while (disputes.getDispute(disputeId).status == DisputeManager.Status.Open) {
            d = disputes.getDispute(disputeId);
            if (d.drawBlock == 0) {
                vm.warp(d.drawNotBefore);
                disputes.drawCommittee(disputeId);
                ++seeds;
            } else {
                vm.roll(d.drawBlock + 2 + 256);
                disputes.drawCommittee(disputeId);
            }
            assertTrue(seeds <= uint256(rounds) + 1, "bounded");
        }
        d = disputes.getDispute(disputeId);
        assertTrue(d.outcome == DisputeManager.Outcome.NoCommittee, "ends without a committee: the server is unpaid");
        assertEq(seeds, uint256(rounds) + 1, "drawRounds + 1 seeds in all");
    }

    /// A keeper (any node's duty) stores the seed in time: a draw made after the horizon uses that same seed, so
    /// waiting gains nothing once the seed was read.
    function test_aSeedStoredInTimeOutlivesTheHorizon() public {
        (uint256 disputeId, uint256 armed) = _armed();
        vm.roll(armed + 1);
        vm.setBlockhash(armed + 1, keccak256("seed block"));
        uint256 snapshot = vm.snapshotState();
        vm.roll(armed + 2);
        disputes.drawCommittee(disputeId);
        uint256[] memory inTime = committeeIds(disputeId);
        vm.revertToState(snapshot);
        DisputeDraw helper = disputes.publicDraw();
        assertEq(helper.pokeSeed(disputeId), bytes32(0), "not readable in the seed block");
        vm.roll(armed + 2);
        bytes32 seed = helper.pokeSeed(disputeId);
        assertTrue(seed != 0, "stored");
        vm.roll(armed + 1000);
        disputes.drawCommittee(disputeId);
        uint256[] memory late = committeeIds(disputeId);
        assertTrue(!helper.rearmed(disputeId), "no fresh seed");
        assertEq(late.length, inTime.length, "size");
        for (uint256 i = 0; i < late.length; ++i) {
            assertEq(late[i], inTime[i], "the same committee however late");
        }
        vm.expectRevert(abi.encodeWithSelector(DisputeDraw.NotDisputeManager.selector, address(this)));
        helper.draw(disputeId);
    }
}
