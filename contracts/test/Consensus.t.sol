// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsensusCommitment} from "../src/common/ConsensusCommitment.sol";
import {ConsensusRequests} from "../src/consensus/ConsensusRequests.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {ExampleConsumer} from "../src/test/ExampleConsumer.sol";
import {EmissionSchedule} from "../src/token/EmissionSchedule.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

contract RevertingConsumer {
    function onAtomaResult(uint256, bytes calldata) external pure {
        revert("no thanks");
    }
}

contract ConsensusTest is AtomaFixture {
    uint256 internal task;
    ExampleConsumer internal consumer;
    bytes internal constant PROMPT = "Should the DAO fund proposal 7? Answer yes or no.";
    bytes internal constant ANSWER = "yes";

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) addNode(2);
        task = createTask(ITaskRegistry.SecurityLevel.Consensus, 0, 0, 0);
        for (uint256 i = 0; i < nodeIds.length; ++i) subscribe(task, nodeIds[i], PRICE);
        consumer = new ExampleConsumer(consensus, token, address(vault));
        vm.prank(admin);
        token.mint(address(consumer), 100 ether);
        nextEpoch();
    }

    function _ask(uint8 n) internal returns (uint256 requestId, ConsensusRequests.Seat[] memory seats) {
        requestId = consumer.ask(task, PROMPT, n, 1_000, PRICE, 2, 200_000);
        seats = consensus.seatsOf(requestId);
    }

    function _commit(uint256 requestId, ConsensusRequests.Seat[] memory seats, uint256 index, bytes memory output)
        internal
    {
        uint256 n = seats.length;
        bytes32 root = ConsensusCommitment.root(output, n);
        bytes32 leaf = ConsensusCommitment.leaf(output, index);
        vm.prank(vm.addr(signerKey[seats[index - 1].nodeId]));
        consensus.commitResult(requestId, index, root, leaf, 120);
    }

    function test_agreeingNodesDeliverTheAnswerToTheConsumer() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        assertEq(seats.length, 3, "three nodes");
        assertTrue(seats[0].nodeId != seats[1].nodeId && seats[1].nodeId != seats[2].nodeId, "distinct");
        assertEq(vault.escrowOf(consensus.escrowKey(requestId)), 3 * 0.002 ether, "n x cost(maxUnits, cap)");
        for (uint256 i = 1; i <= 3; ++i) _commit(requestId, seats, i, ANSWER);
        assertTrue(consensus.getRequest(requestId).status == ConsensusRequests.Status.Delivering, "agreed");
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.OutputDoesNotMatchRoot.selector, requestId));
        consensus.deliverResult(requestId, "no");
        consensus.deliverResult(requestId, ANSWER);
        assertTrue(consumer.answered(requestId), "consumer called back");
        assertEq(keccak256(consumer.answers(requestId)), keccak256(ANSWER), "with the agreed output");
        (uint128 fee,) = vault.nodeLedger(seats[0].nodeId, nodes.currentEpoch());
        assertEq(fee, 0.00024 ether - 0.000012 ether, "fee for 120 units less the model share");
        uint256 refund = vault.balanceOf(address(consumer));
        assertEq(refund, 0.006 ether - 3 * 0.00024 ether, "unused escrow refunded");
        consumer.collectRefund();
        assertEq(token.balanceOf(address(consumer)), 100 ether - 3 * 0.00024 ether, "consumer paid only what was used");
    }

    function test_aLazyNodeThatCopiesTheRootIsSlashedAtDelivery() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        _commit(requestId, seats, 1, ANSWER);
        _commit(requestId, seats, 2, ANSWER);
        bytes32 copiedRoot = ConsensusCommitment.root(ANSWER, 3);
        vm.prank(vm.addr(signerKey[seats[2].nodeId]));
        consensus.commitResult(requestId, 3, copiedRoot, ConsensusCommitment.leaf(ANSWER, 1), 120);
        consensus.deliverResult(requestId, ANSWER);
        assertEq(nodes.getNode(seats[2].nodeId).collateral, 0, "copier slashed");
        assertEq(nodes.getNode(seats[0].nodeId).collateral, COLLATERAL, "honest kept");
        assertTrue(consumer.answered(requestId), "delivered anyway");
    }

    function test_aDissentingNodeOpensADisputeAndLoses() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        _commit(requestId, seats, 1, ANSWER);
        _commit(requestId, seats, 2, "no");
        _commit(requestId, seats, 3, ANSWER);
        assertTrue(consensus.getRequest(requestId).status == ConsensusRequests.Status.Disputed, "dispute");
        uint256 disputeId = disputes.disputeCount();
        DisputeManager.Member[] memory committee = disputes.committeeOf(disputeId);
        assertEq(committee.length, 3, "committee from the other four nodes");
        bytes32 truth = ConsensusCommitment.root(ANSWER, 3);
        for (uint256 i = 0; i < 3; ++i) {
            uint256 member = committee[i].nodeId;
            bytes32 c = disputes.voteCommitment(disputeId, member, truth, bytes32(i));
            vm.prank(operatorOf[member]);
            disputes.commitVote(disputeId, member, c);
        }
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(operatorOf[committee[i].nodeId]);
            disputes.revealVote(disputeId, committee[i].nodeId, truth, bytes32(i));
        }
        disputes.resolve(disputeId);
        assertEq(nodes.getNode(seats[1].nodeId).collateral, 0, "dissenter slashed");
        assertEq(nodes.getNode(seats[1].nodeId).reputation, 0, "reputation zero");
        assertTrue(consensus.getRequest(requestId).status == ConsensusRequests.Status.Delivering, "truth stands");
        consensus.deliverResult(requestId, ANSWER);
        assertTrue(consumer.answered(requestId), "honest output delivered");
        (uint128 fee,) = vault.nodeLedger(seats[1].nodeId, nodes.currentEpoch());
        assertEq(fee, 0, "the liar earns nothing");
    }

    function test_aSplitWithoutAMajorityFailsAndRefunds() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(2);
        _commit(requestId, seats, 1, ANSWER);
        _commit(requestId, seats, 2, "no");
        uint256 disputeId = disputes.disputeCount();
        vm.warp(block.timestamp + 20 minutes + 1);
        disputes.resolve(disputeId);
        assertTrue(consensus.getRequest(requestId).status == ConsensusRequests.Status.Failed, "failed");
        assertEq(nodes.getNode(seats[0].nodeId).collateral, COLLATERAL, "no fraud slash without a majority");
        assertEq(nodes.getNode(seats[0].nodeId).obligations, 0, "released");
        assertGe(vault.balanceOf(address(consumer)), 0.004 ether, "escrow refunded");
    }

    function test_missedCommitsAreSlashedAndTheRestProceed() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        _commit(requestId, seats, 1, ANSWER);
        _commit(requestId, seats, 2, ANSWER);
        vm.expectRevert();
        consensus.timeoutCommits(requestId);
        vm.warp(block.timestamp + 10 minutes + 1);
        consensus.timeoutCommits(requestId);
        assertEq(nodes.getNode(seats[2].nodeId).collateral, COLLATERAL * 9_500 / 10_000, "timeout slash");
        consensus.deliverResult(requestId, ANSWER);
        assertTrue(consumer.answered(requestId), "delivered");
    }

    function test_undeliveredResultRefundsTheRequester() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(2);
        _commit(requestId, seats, 1, ANSWER);
        _commit(requestId, seats, 2, ANSWER);
        vm.warp(block.timestamp + 10 minutes + 1);
        consensus.timeoutDelivery(requestId);
        uint256 slashShares = 2 * (COLLATERAL * 500 / 10_000) / 2;
        assertEq(vault.balanceOf(address(consumer)), 0.004 ether + slashShares, "full refund and half the slashes");
        assertTrue(consensus.getRequest(requestId).status == ConsensusRequests.Status.Failed, "failed");
    }

    function test_aRevertingCallbackDoesNotBlockDelivery() public {
        RevertingConsumer bad = new RevertingConsumer();
        vm.prank(admin);
        token.mint(address(bad), 1 ether);
        vm.prank(address(bad));
        token.approve(address(vault), type(uint256).max);
        vm.prank(address(bad));
        uint256 requestId = consensus.submitRequest(task, PROMPT, 1, 1_000, PRICE, 2, 100_000);
        ConsensusRequests.Seat[] memory seats = consensus.seatsOf(requestId);
        _commit(requestId, seats, 1, ANSWER);
        consensus.deliverResult(requestId, ANSWER);
        assertTrue(consensus.getRequest(requestId).status == ConsensusRequests.Status.Delivered, "delivered");
    }

    function test_requestsAreBounded() public {
        vm.expectRevert(ConsensusRequests.InvalidRequest.selector);
        consumer.ask(task, PROMPT, 0, 1_000, PRICE, 2, 0);
        vm.expectRevert(ConsensusRequests.InvalidRequest.selector);
        consumer.ask(task, PROMPT, 3, 1_000, PRICE, 2, 600_000);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotEnoughNodes.selector, 7, 8));
        consumer.ask(task, PROMPT, 8, 1_000, PRICE, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotEnoughNodes.selector, 0, 1));
        consumer.ask(task, PROMPT, 1, 1_000, PRICE, 9, 0);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotEnoughNodes.selector, 0, 1));
        consumer.ask(task, PROMPT, 1, 1_000, PRICE - 1, 2, 0);
    }
}

contract EmissionTest is AtomaFixture {
    function setUp() public {
        deployAtoma();
    }

    function test_scheduleDecaysToTheTail() public view {
        assertEq(emission.emissionFor(0), 1_000_000 ether, "initial");
        assertEq(emission.emissionFor(1), 990_000 ether, "1% decay");
        assertEq(emission.emissionFor(2), 980_100 ether, "compounded");
        assertEq(emission.emissionFor(1_000), 10_000 ether, "tail");
        assertEq(emission.emissionFor(1e9), 10_000 ether, "tail forever");
    }

    function test_nodesModelOwnersAndTreasuryShareAnEpochsEmission() public {
        uint256 a = addNode(1);
        uint256 b = addNode(1);
        uint256 t1 = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        uint256 t2 = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t1, a, PRICE);
        subscribe(t2, b, 3 * PRICE);
        nextEpoch();
        uint256 epoch = nodes.currentEpoch();
        for (uint256 i = 0; i < 2; ++i) {
            (uint256 stackId, uint256 server) = buyAs(user, i == 0 ? t1 : t2, 1_000_000, 3 * PRICE);
            assertEq(server, i == 0 ? a : b, "the task's only subscriber");
            vm.prank(operatorOf[server]);
            settlement.settle(stackId, keccak256("root"), 1_000_000, 1, 0);
        }
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(1);
        settlement.finalize(2);
        vm.expectRevert(abi.encodeWithSelector(EmissionSchedule.EpochNotEnded.selector, epoch));
        emission.claimNodeEmission(a, epoch);
        nextEpoch();
        uint256 total = emission.emissionFor(epoch);
        uint256 minted = emission.claimNodeEmission(a, epoch) + emission.claimNodeEmission(b, epoch)
            + emission.claimOwnerEmission(modelOwner, epoch) + emission.claimTreasuryEmission(epoch);
        assertLe(minted, total, "never more than the epoch's emission");
        assertGe(minted, total - 10, "all of it, up to rounding");
        assertEq(token.balanceOf(treasury), total * 2_000 / 10_000, "treasury share");
        vm.expectRevert(abi.encodeWithSelector(EmissionSchedule.AlreadyClaimed.selector, epoch));
        emission.claimNodeEmission(a, epoch);
        assertTrue(token.balanceOf(operatorOf[b]) > token.balanceOf(operatorOf[a]), "pro rata to fees");
    }
}
