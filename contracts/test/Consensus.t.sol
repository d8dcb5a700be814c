// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {ConsensusCommitment} from "../src/common/ConsensusCommitment.sol";
import {ConsensusRequests} from "../src/consensus/ConsensusRequests.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {ExampleConsumer} from "../src/test/ExampleConsumer.sol";
import {EmissionSchedule} from "../src/token/EmissionSchedule.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";
import {DisputeSteps} from "./lib/DisputeSteps.sol";
import {Vm} from "./lib/Vm.sol";

contract RevertingConsumer {
    function onAtomaResult(uint256, bytes calldata) external pure {
        revert("no thanks");
    }
}

/// A requester that would keep a request only if its own node were seated: it needs to see the seats inside its
/// own transaction, and cannot.
contract SeatPickingRequester {
    ConsensusRequests internal immutable atoma;

    constructor(ConsensusRequests atoma_) {
        atoma = atoma_;
    }

    function askAndPick(uint256 taskId, bytes calldata prompt, uint256 wanted) external returns (uint256 requestId) {
        requestId = atoma.submitRequest(taskId, prompt, 1, 1_000, 2 ether, 2, 0);
        require(atoma.seatsOf(requestId).length == 0, "seats known at submission");
        atoma.drawSeats(requestId, new uint256[](0)); // reverts: the draw needs a later block
        require(atoma.seatsOf(requestId)[0].nodeId == wanted, "not my node");
    }
}

contract ConsensusTest is DisputeSteps {
    uint256 internal task;
    ExampleConsumer internal consumer;
    bytes internal constant PROMPT = "Should the DAO fund proposal 7? Answer yes or no.";
    bytes internal constant ANSWER = "yes";
    bytes internal constant REFUSAL = '{"object":"atoma.invalid_request"}';
    uint64 internal constant UNITS = 120;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) {
            addNode(2);
        }
        task = createTask(ITaskRegistry.SecurityLevel.Consensus, 0, 0, 0);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(task, nodeIds[i], PRICE);
        }
        consumer = new ExampleConsumer(consensus, token, address(vault));
        vm.prank(admin);
        token.transfer(address(consumer), 100 ether);
        nextEpoch();
    }

    // ---------------------------------------------------------------- helpers

    function _ask(uint8 n) internal returns (uint256 requestId, ConsensusRequests.Seat[] memory seats) {
        return _askFor(n, 1_000);
    }

    function _askFor(uint8 n, uint64 maxUnits)
        internal
        returns (uint256 requestId, ConsensusRequests.Seat[] memory seats)
    {
        requestId = _submit(n, maxUnits);
        seats = _draw(requestId);
    }

    mapping(uint256 requestId => uint256[]) internal candidatesOf;

    /// The consumer asks; the request's candidates are kept from its `ConsensusRequested` event.
    function _submit(uint8 n, uint64 maxUnits) internal returns (uint256 requestId) {
        vm.recordLogs();
        requestId = consumer.ask(task, PROMPT, n, maxUnits, PRICE, 2, 200_000);
        _keepCandidates();
    }

    function _keepCandidates() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (
                logs[i].emitter != address(consensus)
                    || logs[i].topics[0] != ConsensusRequests.ConsensusRequested.selector
            ) {
                continue;
            }
            (,,,, uint256[] memory candidates) = abi.decode(logs[i].data, (bytes, uint8, uint64, uint64, uint256[]));
            candidatesOf[uint256(logs[i].topics[1])] = candidates;
        }
    }

    function _draw(uint256 requestId) internal returns (ConsensusRequests.Seat[] memory) {
        vm.roll(block.number + 1);
        consensus.drawSeats(requestId, candidatesOf[requestId]);
        return consensus.seatsOf(requestId);
    }

    function _salt(uint256 requestId, uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", requestId, index));
    }

    function _signer(ConsensusRequests.Seat[] memory seats, uint256 index) internal view returns (address) {
        return vm.addr(signerKey[seats[index - 1].nodeId]);
    }

    function _seal(
        uint256 requestId,
        ConsensusRequests.Seat[] memory seats,
        uint256 index,
        bytes memory output,
        uint64 units
    ) internal {
        bytes32 seal = _sealOf(requestId, seats.length, index, output, units);
        vm.prank(_signer(seats, index));
        consensus.sealResult(requestId, index, seal);
    }

    function _sealOf(uint256 requestId, uint256 n, uint256 index, bytes memory output, uint64 units)
        internal
        pure
        returns (bytes32)
    {
        bytes32 root = ConsensusCommitment.root(output, units, n);
        bytes32 leaf = ConsensusCommitment.leaf(output, units, index);
        return ConsensusCommitment.seal(requestId, index, root, leaf, _salt(requestId, index));
    }

    function _reveal(
        uint256 requestId,
        ConsensusRequests.Seat[] memory seats,
        uint256 index,
        bytes memory output,
        uint64 units
    ) internal {
        bytes32 root = ConsensusCommitment.root(output, units, seats.length);
        bytes32 leaf = ConsensusCommitment.leaf(output, units, index);
        bytes32 salt = _salt(requestId, index);
        vm.prank(_signer(seats, index));
        consensus.revealResult(requestId, index, root, leaf, salt);
    }

    /// Every seat seals, then every seat reveals: `outputs[i]` and `units[i]` for seat i + 1.
    function _commitAll(
        uint256 requestId,
        ConsensusRequests.Seat[] memory seats,
        bytes[] memory outputs,
        uint64[] memory units
    ) internal {
        for (uint256 i = 0; i < seats.length; ++i) {
            _seal(requestId, seats, i + 1, outputs[i], units[i]);
        }
        for (uint256 i = 0; i < seats.length; ++i) {
            _reveal(requestId, seats, i + 1, outputs[i], units[i]);
        }
    }

    function _same(uint256 count, bytes memory output, uint64 units)
        internal
        pure
        returns (bytes[] memory outputs, uint64[] memory unitCounts)
    {
        outputs = new bytes[](count);
        unitCounts = new uint64[](count);
        for (uint256 i = 0; i < count; ++i) {
            outputs[i] = output;
            unitCounts[i] = units;
        }
    }

    function _status(uint256 requestId) internal view returns (ConsensusRequests.Status) {
        return consensus.getRequest(requestId).status;
    }

    /// The committee of the latest dispute (drawn if it is not yet) computes `output` with `units` over n seats,
    /// each member committing, revealing and showing it; then the dispute is resolved.
    function _committeeVotes(bytes memory output, uint64 units, uint256 n) internal returns (uint256 disputeId) {
        disputeId = disputes.disputeCount();
        if (!disputes.getDispute(disputeId).drawn) draw(disputeId);
        uint256[] memory committee = committeeIds(disputeId);
        Ballot[] memory ballots = new Ballot[](committee.length);
        for (uint256 i = 0; i < committee.length; ++i) {
            ballots[i] = consensusBallot(committee[i], output, units, n);
        }
        cast(disputeId, committee, ballots);
        disputes.resolve(disputeId);
    }

    // ---------------------------------------------------------------- the happy path

    function test_agreeingNodesDeliverTheAnswerToTheConsumer() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        assertEq(seats.length, 3, "three nodes");
        assertTrue(seats[0].nodeId != seats[1].nodeId && seats[1].nodeId != seats[2].nodeId, "distinct");
        assertEq(vault.escrowOf(consensus.escrowKey(requestId)), 3 * 0.002 ether, "n x cost(maxUnits, cap)");
        (bytes[] memory outputs, uint64[] memory units) = _same(3, ANSWER, UNITS);
        _commitAll(requestId, seats, outputs, units);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Delivering, "agreed");
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.OutputDoesNotMatchRoot.selector, requestId));
        consensus.deliverResult(requestId, "no", UNITS);
        consensus.deliverResult(requestId, ANSWER, UNITS);
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
        _seal(requestId, seats, 1, ANSWER, UNITS);
        _seal(requestId, seats, 2, ANSWER, UNITS);
        // Seat 3 got the root from a colluder but not the output: it cannot make its own leaf.
        bytes32 copiedRoot = ConsensusCommitment.root(ANSWER, UNITS, 3);
        bytes32 wrongLeaf = ConsensusCommitment.leaf(ANSWER, UNITS, 1);
        vm.prank(_signer(seats, 3));
        consensus.sealResult(
            requestId, 3, ConsensusCommitment.seal(requestId, 3, copiedRoot, wrongLeaf, _salt(requestId, 3))
        );
        _reveal(requestId, seats, 1, ANSWER, UNITS);
        _reveal(requestId, seats, 2, ANSWER, UNITS);
        vm.prank(_signer(seats, 3));
        consensus.revealResult(requestId, 3, copiedRoot, wrongLeaf, _salt(requestId, 3));
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertEq(nodes.getNode(seats[2].nodeId).collateral, 0, "copier slashed");
        assertEq(nodes.getNode(seats[0].nodeId).collateral, COLLATERAL, "honest kept");
        assertTrue(consumer.answered(requestId), "delivered anyway");
    }

    function test_aDissentingNodeOpensADisputeAndLoses() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        (bytes[] memory outputs, uint64[] memory units) = _same(3, ANSWER, UNITS);
        outputs[1] = "no";
        _commitAll(requestId, seats, outputs, units);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Disputed, "dispute");
        uint256 disputeId = disputes.disputeCount();
        draw(disputeId);
        assertEq(committeeIds(disputeId).length, 3, "committee from the other four nodes");
        _committeeVotes(ANSWER, UNITS, 3);
        assertEq(disputes.getDispute(disputeId).winner, ConsensusCommitment.root(ANSWER, UNITS, 3), "the computed root");
        assertEq(nodes.getNode(seats[1].nodeId).collateral, 0, "dissenter slashed");
        assertEq(nodes.getNode(seats[1].nodeId).reputation, 0, "reputation zero");
        assertTrue(_status(requestId) == ConsensusRequests.Status.Delivering, "truth stands");
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertTrue(consumer.answered(requestId), "honest output delivered");
        (uint128 fee,) = vault.nodeLedger(seats[1].nodeId, nodes.currentEpoch());
        assertEq(fee, 0, "the liar earns nothing");
    }

    function test_aSplitWithoutAMajorityFailsAndRefunds() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(2);
        (bytes[] memory outputs, uint64[] memory units) = _same(2, ANSWER, UNITS);
        outputs[1] = "no";
        _commitAll(requestId, seats, outputs, units);
        uint256 disputeId = disputes.disputeCount();
        draw(disputeId);
        vm.warp(block.timestamp + 20 minutes + 1);
        disputes.resolve(disputeId);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Failed, "failed");
        assertEq(nodes.getNode(seats[0].nodeId).collateral, COLLATERAL, "no fraud slash without a majority");
        assertEq(nodes.getNode(seats[0].nodeId).obligations, 0, "released");
        assertGe(vault.balanceOf(address(consumer)), 0.004 ether, "escrow refunded");
    }

    function test_missedCommitsAreSlashedAndTheRestProceed() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        _seal(requestId, seats, 1, ANSWER, UNITS);
        _seal(requestId, seats, 2, ANSWER, UNITS);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.RevealNotOpen.selector, requestId));
        _reveal(requestId, seats, 1, ANSWER, UNITS);
        vm.expectRevert();
        consensus.closeRound(requestId);
        vm.warp(block.timestamp + 10 minutes + 1);
        _reveal(requestId, seats, 1, ANSWER, UNITS);
        _reveal(requestId, seats, 2, ANSWER, UNITS); // every seat that sealed has revealed: the round closes
        assertEq(nodes.getNode(seats[2].nodeId).collateral, COLLATERAL * 9_500 / 10_000, "timeout slash");
        assertEq(nodes.getNode(seats[2].nodeId).obligations, 0, "released");
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertTrue(consumer.answered(requestId), "delivered");
    }

    function test_undeliveredResultRefundsTheRequester() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(2);
        (bytes[] memory outputs, uint64[] memory units) = _same(2, ANSWER, UNITS);
        _commitAll(requestId, seats, outputs, units);
        vm.warp(block.timestamp + 10 minutes + 1);
        consensus.timeoutDelivery(requestId);
        assertEq(vault.balanceOf(address(consumer)), 0.004 ether, "full refund, and no share of the slashes");
        assertEq(nodes.getNode(seats[0].nodeId).collateral, COLLATERAL * 9_500 / 10_000, "holders slashed");
        assertTrue(_status(requestId) == ConsensusRequests.Status.Failed, "failed");
    }

    function test_aRevertingCallbackDoesNotBlockDelivery() public {
        RevertingConsumer bad = new RevertingConsumer();
        vm.prank(admin);
        token.transfer(address(bad), 1 ether);
        vm.prank(address(bad));
        token.approve(address(vault), type(uint256).max);
        vm.recordLogs();
        vm.prank(address(bad));
        uint256 requestId = consensus.submitRequest(task, PROMPT, 1, 1_000, PRICE, 2, 100_000);
        _keepCandidates();
        ConsensusRequests.Seat[] memory seats = _draw(requestId);
        _seal(requestId, seats, 1, ANSWER, UNITS);
        _reveal(requestId, seats, 1, ANSWER, UNITS);
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Delivered, "delivered");
    }

    function test_requestsAreBounded() public {
        vm.expectRevert(ConsensusRequests.InvalidRequest.selector);
        consumer.ask(task, PROMPT, 0, 1_000, PRICE, 2, 0);
        vm.expectRevert(ConsensusRequests.InvalidRequest.selector);
        consumer.ask(task, PROMPT, 3, 1_000, PRICE, 2, 600_000);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotEnoughNodes.selector, 7, 8));
        consumer.ask(task, PROMPT, 8, 1_000, PRICE, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.TooFewForCommittee.selector, 7, 8));
        consumer.ask(task, PROMPT, 5, 1_000, PRICE, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotEnoughNodes.selector, 0, 1));
        consumer.ask(task, PROMPT, 1, 1_000, PRICE, 9, 0);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotEnoughNodes.selector, 0, 1));
        consumer.ask(task, PROMPT, 1, 1_000, PRICE - 1, 2, 0);
    }

    // ---------------------------------------------------------------- the seat draw (issue 10)

    function test_seatsAreDrawnInALaterBlockFromTheHashOfTheRequestBlock() public {
        uint256 requestId = _submit(3, 1_000);
        uint256[] memory candidates = candidatesOf[requestId];
        assertEq(candidates.length, 7, "every eligible node is a candidate");
        assertTrue(_status(requestId) == ConsensusRequests.Status.Drawing, "waiting for its draw");
        assertEq(consensus.seatsOf(requestId).length, 0, "no seat known in the request's block");
        uint256 recorded = block.number;
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.DrawNotReady.selector, requestId, recorded));
        consensus.drawSeats(requestId, candidates);

        vm.roll(recorded + 1);
        uint256 snapshot = vm.snapshotState();
        uint256[4] memory firstSeat;
        for (uint256 k = 0; k < 4; ++k) {
            vm.revertToState(snapshot);
            vm.setBlockhash(recorded, keccak256(abi.encode("block", k)));
            consensus.drawSeats(requestId, candidates);
            firstSeat[k] = consensus.seatsOf(requestId)[0].nodeId;
        }
        bool differ;
        for (uint256 k = 1; k < 4; ++k) {
            if (firstSeat[k] != firstSeat[0]) differ = true;
        }
        assertTrue(differ, "the seats follow the recorded block's hash, not the requester");
        vm.expectRevert(
            abi.encodeWithSelector(
                ConsensusRequests.WrongStatus.selector, requestId, ConsensusRequests.Status.Committing
            )
        );
        consensus.drawSeats(requestId, candidates);
    }

    function test_aRequesterCannotSeeOrPickItsSeatsInItsOwnTransaction() public {
        SeatPickingRequester picker = new SeatPickingRequester(consensus);
        fund(address(picker), 1 ether);
        vm.prank(address(picker));
        token.approve(address(vault), type(uint256).max);
        for (uint256 k = 0; k < 5; ++k) {
            vm.roll(block.number + 1);
            vm.expectRevert(
                abi.encodeWithSelector(
                    ConsensusRequests.DrawNotReady.selector, consensus.requestCount() + 1, block.number
                )
            );
            picker.askAndPick(task, PROMPT, nodeIds[0]);
        }
        assertEq(consensus.requestCount(), 0, "no request kept: retrying its own transaction gains nothing");
    }

    function test_aDrawPastTheBlockHashWindowIsRearmedOnALaterBlock() public {
        uint256 requestId = _submit(3, 1_000);
        vm.roll(block.number + 300);
        vm.setBlockhash(consensus.getRequest(requestId).drawBlock, 0);
        vm.expectEmit(address(consensus));
        emit ConsensusRequests.DrawRearmed(requestId, uint64(block.number));
        consensus.drawSeats(requestId, candidatesOf[requestId]);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Drawing, "still to draw");
        assertEq(consensus.getRequest(requestId).drawBlock, block.number, "on the current block");
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.DrawNotReady.selector, requestId, block.number));
        consensus.drawSeats(requestId, candidatesOf[requestId]);
        ConsensusRequests.Seat[] memory seats = _draw(requestId);
        assertEq(seats.length, 3, "drawn in the next block");
    }

    function test_aDrawWithTooFewCandidatesHoldingCollateralFailsAndRefunds() public {
        uint256 requestId = _submit(4, 1_000);
        // Nobody draws for two exit notices: four candidates leave the task, serve their notice, deregister and,
        // a notice later, take their collateral out.
        for (uint256 i = 0; i < 4; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.unsubscribe(task, nodeIds[i]);
        }
        vm.warp(block.timestamp + EXIT_NOTICE);
        for (uint256 i = 0; i < 4; ++i) {
            tasks.completeExit(task, nodeIds[i]);
            vm.prank(operatorOf[nodeIds[i]]);
            nodes.deregister(nodeIds[i]);
        }
        vm.warp(block.timestamp + EXIT_NOTICE);
        for (uint256 i = 0; i < 4; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            nodes.withdrawCollateral(nodeIds[i]);
        }
        _draw(requestId);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Failed, "failed");
        assertEq(consensus.seatsOf(requestId).length, 0, "no seat");
        assertEq(vault.balanceOf(address(consumer)), 4 * 0.002 ether, "escrow refunded");
    }

    function test_theDrawIsAmongTheRequestsOwnCandidates() public {
        uint256 requestId = _submit(3, 1_000);
        uint256[] memory others = candidatesOf[requestId];
        others[0] = others[1];
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.WrongCandidates.selector, requestId));
        consensus.drawSeats(requestId, others);
    }

    /// A requester that runs nodes learns the seed one block before the draw and changes its nodes' subscriptions:
    /// joining is too late (only the request's candidates are drawn from), and leaving changes no seat (or, when
    /// no committee would be left besides the seats, fails the request).
    function test_changingSubscriptionsAfterTheSeedIsKnownCannotPullSeatsToTheRequester() public {
        uint256 late = addNode(2);
        uint256 requestId = _submit(3, 1_000);
        uint256 recorded = block.number;
        nextEpoch();
        subscribe(task, late, PRICE); // eligible now, but after the request
        uint256[3] memory mine = [nodeIds[4], nodeIds[5], nodeIds[6]];
        vm.roll(recorded + 1);
        for (uint256 k = 0; k < 6; ++k) {
            uint256 snapshot = vm.snapshotState();
            vm.setBlockhash(recorded, keccak256(abi.encode("seed", k)));
            uint256 fair = _honestSeats(requestId, mine, 0);
            for (uint256 leaving = 1; leaving < 8; ++leaving) {
                vm.revertToState(snapshot);
                vm.setBlockhash(recorded, keccak256(abi.encode("seed", k)));
                assertGe(_honestSeats(requestId, mine, leaving), fair, "leaving never removes an honest seat");
                for (uint256 i = 0; i < 3; ++i) {
                    assertTrue(consensus.seatsOf(requestId)[i].nodeId != late, "a node that joined late is never drawn");
                }
            }
            vm.revertToState(snapshot);
        }
    }

    /// Unsubscribes the nodes of `mine` named by the bits of `leaving`, draws, and counts the seats not in `mine`.
    function _honestSeats(uint256 requestId, uint256[3] memory mine, uint256 leaving)
        internal
        returns (uint256 honest)
    {
        for (uint256 i = 0; i < 3; ++i) {
            if (leaving & (1 << i) == 0) continue;
            vm.prank(operatorOf[mine[i]]);
            tasks.unsubscribe(task, mine[i]);
        }
        consensus.drawSeats(requestId, candidatesOf[requestId]);
        ConsensusRequests.Seat[] memory seats = consensus.seatsOf(requestId);
        if (seats.length == 0) return 3; // too few left: the request fails, and no seat is the requester's
        for (uint256 i = 0; i < seats.length; ++i) {
            if (seats[i].nodeId != mine[0] && seats[i].nodeId != mine[1] && seats[i].nodeId != mine[2]) ++honest;
        }
    }

    // ---------------------------------------------------------------- room for a dispute committee (review M1)

    /// A requester colluding with a seat asks for every node of the echelon, so that a dispute among the seats
    /// finds no committee and the liar keeps its collateral: refused, whatever the price cap leaves out.
    function test_aRequestForEveryCandidateOfTheEchelonIsRefused() public {
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.TooFewForCommittee.selector, 7, 10));
        consumer.ask(task, PROMPT, 7, 1_000, PRICE, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.TooFewForCommittee.selector, 7, 8));
        consumer.ask(task, PROMPT, 5, 1_000, PRICE, 2, 0);
        // The committee is drawn at any price: a node the cap excludes from the seats still counts for it.
        uint256 pricey = addNode(2);
        subscribe(task, pricey, 2 * PRICE);
        nextEpoch();
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotEnoughNodes.selector, 7, 8));
        consumer.ask(task, PROMPT, 8, 1_000, PRICE, 2, 0);
        vm.recordLogs();
        uint256 requestId = consumer.ask(task, PROMPT, 5, 1_000, PRICE, 2, 0);
        _keepCandidates();
        assertEq(candidatesOf[requestId].length, 7, "the seats come from under the cap");
        // Another echelon's nodes never sit on this echelon's committees: they do not count.
        for (uint256 i = 0; i < 3; ++i) {
            subscribe(task, addNode(1), PRICE);
        }
        nextEpoch();
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.TooFewForCommittee.selector, 8, 9));
        consumer.ask(task, PROMPT, 6, 1_000, PRICE, 2, 0);
    }

    /// The check reads the dispute manager's committee minimum as it is now, not a copy.
    function test_theRoomForACommitteeFollowsTheDisputeManagersMinimum() public {
        DisputeManager.Params memory p = disputeParams(disputes);
        p.committeeSize = 5;
        p.minCommittee = 5;
        vm.prank(admin);
        disputes.setParams(p);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.TooFewForCommittee.selector, 7, 8));
        consumer.ask(task, PROMPT, 3, 1_000, PRICE, 2, 0);
        _submit(2, 1_000);
    }

    /// A node counted for the committee at the draw may leave the task at once; it stays a committee candidate for
    /// the exit notice, so the seal and reveal windows (and the call closing the round) must fit in that notice.
    function test_theSealAndRevealWindowsMustFitTheExitNotice() public {
        ConsensusRequests.Params memory p;
        (p.commitWindow, p.deliveryWindow, p.maxCallbackGas, p.maxPromptBytes, p.maxOutputBytes, p.maxNodes) =
            consensus.params();
        uint256 slack = consensus.KEEPER_SLACK();
        p.commitWindow = uint64((EXIT_NOTICE - slack) / 2 + 1);
        vm.startPrank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(
                ConsensusRequests.ExitNoticeTooShort.selector, 2 * uint256(p.commitWindow) + slack, EXIT_NOTICE
            )
        );
        consensus.setParams(p);
        p.commitWindow = uint64((EXIT_NOTICE - slack) / 2);
        consensus.setParams(p);
        vm.stopPrank();
    }

    /// The most seats allowed leave exactly `minCommittee` other nodes; one of the seats colludes with the
    /// requester and lies. The dispute draws its committee from those others and the liar is slashed.
    function test_aRequestLeavingExactlyACommitteeIsAcceptedAndItsColludingLiarIsSlashed() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(4);
        assertEq(seats.length, 4, "n + minCommittee = the echelon's seven");
        (bytes[] memory outputs, uint64[] memory units) = _same(4, ANSWER, UNITS);
        outputs[2] = "no"; // the requester's seat
        _commitAll(requestId, seats, outputs, units);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Disputed, "dispute");
        uint256 disputeId = disputes.disputeCount();
        draw(disputeId);
        uint256[] memory committee = committeeIds(disputeId);
        assertEq(committee.length, 3, "a committee of the three others");
        for (uint256 i = 0; i < committee.length; ++i) {
            for (uint256 k = 0; k < seats.length; ++k) {
                assertTrue(committee[i] != seats[k].nodeId, "no seat sits on the committee");
            }
        }
        _committeeVotes(ANSWER, UNITS, 4);
        assertTrue(disputes.getDispute(disputeId).decided, "decided, not NoCommittee");
        assertEq(nodes.getNode(seats[2].nodeId).collateral, 0, "the colluding liar is slashed");
        assertTrue(nodes.getNode(seats[2].nodeId).status == INodeRegistry.NodeStatus.Slashed, "and out");
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertTrue(consumer.answered(requestId), "the honest output is delivered");
        for (uint256 i = 0; i < seats.length; ++i) {
            if (i == 2) continue;
            assertEq(nodes.getNode(seats[i].nodeId).collateral, COLLATERAL, "honest seats keep their collateral");
        }
    }

    /// Draws request `requestId` with `hash` as its block's hash; returns its seats' node ids.
    function _drawWith(uint256 requestId, bytes32 hash) internal returns (uint256[] memory ids) {
        vm.roll(consensus.getRequest(requestId).drawBlock + 1);
        vm.setBlockhash(consensus.getRequest(requestId).drawBlock, hash);
        consensus.drawSeats(requestId, candidatesOf[requestId]);
        ConsensusRequests.Seat[] memory seats = consensus.seatsOf(requestId);
        ids = new uint256[](seats.length);
        for (uint256 i = 0; i < seats.length; ++i) {
            ids[i] = seats[i].nodeId;
        }
    }

    function _isIn(uint256 id, uint256[] memory list) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == id) return true;
        }
        return false;
    }

    /// Between the request and the draw, seat candidates leave the task (those the seed would seat, or others):
    /// the seats drawn are the same, all n of them, and a seat that left is held to its answer at its price.
    function test_aSeatCandidateLeavingBetweenRequestAndDrawChangesNoSeat() public {
        for (uint256 i = 0; i < 3; ++i) {
            subscribe(task, addNode(2), PRICE);
        }
        nextEpoch();
        uint256 requestId = _submit(3, 1_000); // ten candidates
        for (uint256 k = 0; k < 4; ++k) {
            bytes32 label = keccak256(abi.encode("seed", k));
            uint256 snapshot = vm.snapshotState();
            uint256[] memory fair = _drawWith(requestId, label);
            assertEq(fair.length, 3, "three seats");
            // The seats-to-be leave, then (another run) three others do: nothing moves.
            for (uint256 run = 0; run < 2; ++run) {
                vm.revertToState(snapshot);
                uint256[] memory candidates = candidatesOf[requestId];
                uint256 left;
                for (uint256 i = 0; i < candidates.length && left < 3; ++i) {
                    if (_isIn(candidates[i], fair) != (run == 0)) continue;
                    vm.prank(operatorOf[candidates[i]]);
                    tasks.unsubscribe(task, candidates[i]);
                    ++left;
                }
                uint256[] memory drawn = _drawWith(requestId, label);
                assertEq(drawn.length, 3, "leaving does not shrink the seats");
                for (uint256 i = 0; i < 3; ++i) {
                    assertEq(drawn[i], fair[i], "leaving does not change the seats");
                }
                if (run == 0) {
                    ConsensusRequests.Seat[] memory seats = consensus.seatsOf(requestId);
                    assertEq(seats[0].pricePerMillion, PRICE, "paid at its price, capped by the request's");
                    assertEq(nodes.getNode(seats[0].nodeId).obligations, 1, "and held to its seat");
                }
            }
            vm.revertToState(snapshot);
        }
    }

    /// A candidate that raises its price past the cap after the request keeps its seat, paid at the cap.
    function test_aSeatCandidateRaisingItsPriceKeepsItsSeatAtTheCap() public {
        uint256 requestId = _submit(3, 1_000);
        uint256 snapshot = vm.snapshotState();
        uint256[] memory fair = _drawWith(requestId, keccak256("price"));
        vm.revertToState(snapshot);
        vm.prank(operatorOf[fair[1]]);
        tasks.updateSubscription(task, fair[1], 10 * PRICE, 1e12);
        uint256[] memory drawn = _drawWith(requestId, keccak256("price"));
        assertEq(drawn[1], fair[1], "same seat");
        assertEq(consensus.seatsOf(requestId)[1].pricePerMillion, PRICE, "paid at most the cap");
    }

    /// A node besides the seats left the task right after the request and nobody drew for most of its notice:
    /// the notice would end before a dispute among the seats froze its committee, so it no longer counts, the pool
    /// can no longer give a committee, and the request fails and is refunded rather than seat nodes whose dispute
    /// would end without one. A notice lasting exactly to the round's close still counts.
    function test_aDrawFailsAndRefundsWhenAnExitEndsBeforeTheRoundCouldBeDisputed() public {
        uint256 requestId = _submit(4, 1_000); // exactly n + minCommittee
        uint256 snapshot = vm.snapshotState();
        uint256[] memory fair = _drawWith(requestId, keccak256("pool"));
        vm.revertToState(snapshot);
        uint256[] memory candidates = candidatesOf[requestId];
        for (uint256 i = 0; i < candidates.length; ++i) {
            if (_isIn(candidates[i], fair)) continue;
            vm.prank(operatorOf[candidates[i]]);
            tasks.unsubscribe(task, candidates[i]);
            break;
        }
        (uint64 window,,,,,) = consensus.params();
        uint256 path = 2 * uint256(window) + consensus.KEEPER_SLACK();
        vm.warp(block.timestamp + EXIT_NOTICE - path);
        snapshot = vm.snapshotState();
        assertEq(_drawWith(requestId, keccak256("pool")).length, 4, "its notice lasts to the round's close: it counts");
        vm.revertToState(snapshot);
        vm.warp(block.timestamp + 1);
        assertEq(_drawWith(requestId, keccak256("pool")).length, 0, "no seat");
        assertTrue(_status(requestId) == ConsensusRequests.Status.Failed, "failed");
        assertEq(vault.balanceOf(address(consumer)), 4 * 0.002 ether, "escrow refunded");
        for (uint256 i = 0; i < fair.length; ++i) {
            assertEq(nodes.getNode(fair[i]).obligations, 0, "nobody held");
        }
    }

    /// Seat re-roll (review): an attacker holds four of the echelon's seven nodes, exactly n + minCommittee for
    /// n = 4. Once the request's block is known it computes the seats; whenever an honest node would be seated, one
    /// of its unseated nodes leaves the task before the keepers draw, hoping the recount fails the draw (refund)
    /// so it can re-subscribe and wait for a request it seats alone. The leaver stays a committee candidate for its
    /// notice, so the draw goes ahead with the honest seat; a lie then opens a dispute, the leaver sits on the
    /// committee, and the honest majority there slashes the liars.
    function test_leavingBeforeTheDrawCannotReRollTheSeats() public {
        uint256 requestId = _submit(4, 1_000);
        bool played;
        for (uint256 k = 0; k < 8; ++k) {
            bytes32 label = keccak256(abi.encode("reroll", k));
            uint256 snapshot = vm.snapshotState();
            uint256[] memory fair = _drawWith(requestId, label);
            vm.revertToState(snapshot);
            (uint256 honestSeats, uint256 leaver) = _attackerLeaves(fair);
            if (honestSeats == 0) continue; // all four seats are the attacker's already: nothing to re-roll
            uint256[] memory drawn = _drawWith(requestId, label);
            assertTrue(_status(requestId) == ConsensusRequests.Status.Committing, "the draw goes ahead");
            for (uint256 i = 0; i < 4; ++i) {
                assertEq(drawn[i], fair[i], "with the seats the seed gave, the honest one included");
            }
            if (honestSeats == 1 && !played) {
                _lieAndLose(requestId, leaver);
                played = true;
            }
            vm.revertToState(snapshot);
        }
        assertTrue(played, "a draw with one honest seat was played out");
    }

    /// The attacker holds `nodeIds[0..3]`: one of them not in `fair` leaves the task. Returns the honest seats.
    function _attackerLeaves(uint256[] memory fair) internal returns (uint256 honestSeats, uint256 leaver) {
        for (uint256 i = 0; i < fair.length; ++i) {
            if (fair[i] == nodeIds[4] || fair[i] == nodeIds[5] || fair[i] == nodeIds[6]) ++honestSeats;
        }
        if (honestSeats == 0) return (0, 0);
        for (uint256 i = 0; i < 4; ++i) {
            if (_isIn(nodeIds[i], fair)) continue;
            leaver = nodeIds[i];
            vm.prank(operatorOf[leaver]);
            tasks.unsubscribe(task, leaver);
            return (honestSeats, leaver);
        }
    }

    /// The attacker's three seats reveal a lie, the honest seat the answer; the committee (two honest nodes and the
    /// attacker's leaver, which votes the lie) decides for the answer and the three liars are slashed.
    function _lieAndLose(uint256 requestId, uint256 leaver) internal {
        ConsensusRequests.Seat[] memory seats = consensus.seatsOf(requestId);
        (bytes[] memory outputs, uint64[] memory units) = _same(4, ANSWER, UNITS);
        for (uint256 i = 0; i < 4; ++i) {
            if (seats[i].nodeId != nodeIds[4] && seats[i].nodeId != nodeIds[5] && seats[i].nodeId != nodeIds[6]) {
                outputs[i] = "no";
            }
        }
        _commitAll(requestId, seats, outputs, units);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Disputed, "dispute");
        uint256 disputeId = disputes.disputeCount();
        draw(disputeId);
        uint256[] memory committee = committeeIds(disputeId);
        assertEq(committee.length, 3, "a full committee");
        assertTrue(_isIn(leaver, committee), "the leaver is on it: it counted, and it checks");
        Ballot[] memory ballots = new Ballot[](3);
        for (uint256 i = 0; i < 3; ++i) {
            ballots[i] = consensusBallot(committee[i], committee[i] == leaver ? bytes("no") : ANSWER, UNITS, 4);
        }
        cast(disputeId, committee, ballots);
        disputes.resolve(disputeId);
        assertTrue(disputes.getDispute(disputeId).decided, "decided");
        for (uint256 i = 0; i < 4; ++i) {
            bool liar = keccak256(outputs[i]) != keccak256(ANSWER);
            assertTrue((nodes.getNode(seats[i].nodeId).collateral == 0) == liar, "the liars, and only they, are slashed");
        }
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertTrue(consumer.answered(requestId), "the honest output is delivered");
    }

    // ---------------------------------------------------------------- seal before reveal (issue 10)

    function test_aLazySeatCannotCopyARevealedResult() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        _seal(requestId, seats, 1, ANSWER, UNITS);
        _seal(requestId, seats, 2, ANSWER, UNITS);
        // The lazy seat must seal before anything is revealed: it seals a guess.
        _seal(requestId, seats, 3, "maybe", 1);
        _reveal(requestId, seats, 1, ANSWER, UNITS);
        _reveal(requestId, seats, 2, ANSWER, UNITS);
        // From the revealed root it can now search the few plausible outputs and make its own leaf, too late.
        bytes32 root = ConsensusCommitment.root(ANSWER, UNITS, 3);
        bytes32 leaf = ConsensusCommitment.leaf(ANSWER, UNITS, 3);
        vm.prank(_signer(seats, 3));
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.SealMismatch.selector, requestId, 3));
        consensus.revealResult(requestId, 3, root, leaf, _salt(requestId, 3));
        // Keeping its seal closed costs all its collateral; the honest seats are paid.
        vm.warp(block.timestamp + 20 minutes + 1);
        consensus.closeRound(requestId);
        assertEq(nodes.getNode(seats[2].nodeId).collateral, 0, "an unopened seal is slashed in full");
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertTrue(consumer.answered(requestId), "delivered");
        assertEq(nodes.getNode(seats[0].nodeId).collateral, COLLATERAL, "honest kept");
    }

    function test_aCopiedSealCannotBeOpened() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(2);
        _seal(requestId, seats, 1, ANSWER, UNITS);
        bytes32 copied = consensus.seatsOf(requestId)[0].seal;
        vm.prank(_signer(seats, 2));
        consensus.sealResult(requestId, 2, copied);
        _reveal(requestId, seats, 1, ANSWER, UNITS);
        // Even with seat 1's salt, published by its reveal, the seal names seat 1.
        bytes32 root = ConsensusCommitment.root(ANSWER, UNITS, 2);
        vm.startPrank(_signer(seats, 2));
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.SealMismatch.selector, requestId, 2));
        consensus.revealResult(requestId, 2, root, ConsensusCommitment.leaf(ANSWER, UNITS, 1), _salt(requestId, 1));
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.SealMismatch.selector, requestId, 2));
        consensus.revealResult(requestId, 2, root, ConsensusCommitment.leaf(ANSWER, UNITS, 2), _salt(requestId, 1));
        vm.stopPrank();
    }

    function test_sealsAndRevealsAreTheSeatHoldersOwn() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(2);
        vm.prank(_signer(seats, 2));
        vm.expectRevert(
            abi.encodeWithSelector(ConsensusRequests.NotSeatHolder.selector, requestId, 1, _signer(seats, 2))
        );
        consensus.sealResult(requestId, 1, keccak256("x"));
        _seal(requestId, seats, 1, ANSWER, UNITS);
        vm.prank(_signer(seats, 1));
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.AlreadySealed.selector, requestId, 1));
        consensus.sealResult(requestId, 1, keccak256("x"));
        vm.warp(block.timestamp + 10 minutes + 1);
        vm.prank(_signer(seats, 2));
        vm.expectRevert(
            abi.encodeWithSelector(ConsensusRequests.DeadlinePassed.selector, requestId, block.timestamp - 1)
        );
        consensus.sealResult(requestId, 2, keccak256("x"));
        vm.prank(_signer(seats, 2));
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.NotSealed.selector, requestId, 2));
        consensus.revealResult(requestId, 2, bytes32(uint256(1)), bytes32(uint256(1)), 0);
    }

    // ---------------------------------------------------------------- units are committed (issue 6)

    function test_aSeatReportingOneUnitIsOutvotedAndTheHonestCountIsPaid() public {
        uint64 honestUnits = 900_000;
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _askFor(3, 1_000_000);
        (bytes[] memory outputs, uint64[] memory units) = _same(3, ANSWER, honestUnits);
        units[2] = 1; // same output, a count that would make the others work for nothing
        _commitAll(requestId, seats, outputs, units);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Disputed, "a count that disagrees is a dissent");
        _committeeVotes(ANSWER, honestUnits, 3);
        assertEq(nodes.getNode(seats[2].nodeId).collateral, 0, "the under-reporter is slashed as a liar");
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.OutputDoesNotMatchRoot.selector, requestId));
        consensus.deliverResult(requestId, ANSWER, 1);
        consensus.deliverResult(requestId, ANSWER, honestUnits);
        uint256 cost = 1.8 ether; // 900k units at 2 TOMA per million
        (uint128 fee,) = vault.nodeLedger(seats[0].nodeId, nodes.currentEpoch());
        assertGe(fee, cost * 95 / 100, "an honest seat is paid for the honest count (less the model share)");
        (uint128 liarFee,) = vault.nodeLedger(seats[2].nodeId, nodes.currentEpoch());
        assertEq(liarFee, 0, "the liar earns nothing");
        assertEq(vault.balanceOf(address(consumer)), 3 * 2 ether - 2 * cost, "requester pays for what was computed");
    }

    function test_deliveryBeyondTheRequestsUnitsIsRefused() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(1);
        _seal(requestId, seats, 1, ANSWER, 5_000);
        _reveal(requestId, seats, 1, ANSWER, 5_000);
        vm.expectRevert(abi.encodeWithSelector(ConsensusRequests.UnitsAboveMax.selector, 5_000, 1_000));
        consensus.deliverResult(requestId, ANSWER, 5_000);
        vm.warp(block.timestamp + 10 minutes + 1);
        consensus.timeoutDelivery(requestId);
        assertEq(vault.balanceOf(address(consumer)), 0.002 ether, "requester refunded in full");
    }

    // ---------------------------------------------------------------- requests nobody can serve (issue 13)

    function test_aRefusalIsAnAnswerThatCostsNobody() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        (bytes[] memory outputs, uint64[] memory units) = _same(3, REFUSAL, 0);
        _commitAll(requestId, seats, outputs, units);
        consensus.deliverResult(requestId, REFUSAL, 0);
        assertEq(keccak256(consumer.answers(requestId)), keccak256(REFUSAL), "the requester learns it was refused");
        for (uint256 i = 0; i < 3; ++i) {
            assertEq(nodes.getNode(seats[i].nodeId).collateral, COLLATERAL, "no honest seat slashed");
            assertEq(nodes.getNode(seats[i].nodeId).obligations, 0, "released");
        }
        assertEq(vault.balanceOf(address(consumer)), 3 * 0.002 ether, "refunded, and nothing more");
    }

    function test_theOutputLimitAlwaysLeavesRoomForTheRefusal() public {
        assertLe(REFUSAL.length, 64, "the refusal fits the smallest limit");
        ConsensusRequests.Params memory p = ConsensusRequests.Params({
            commitWindow: 10 minutes,
            deliveryWindow: 10 minutes,
            maxCallbackGas: 500_000,
            maxPromptBytes: 8_192,
            maxOutputBytes: 63,
            maxNodes: 16
        });
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "maxOutputBytes", 63));
        consensus.setParams(p);
    }

    function test_whenNoSeatSealsNobodyIsSlashedAndTheRequesterGetsOnlyItsEscrow() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        vm.warp(block.timestamp + 10 minutes + 1);
        consensus.closeRound(requestId);
        assertTrue(_status(requestId) == ConsensusRequests.Status.Failed, "failed");
        for (uint256 i = 0; i < 3; ++i) {
            assertEq(nodes.getNode(seats[i].nodeId).collateral, COLLATERAL, "nobody slashed");
            assertEq(nodes.getNode(seats[i].nodeId).obligations, 0, "released");
        }
        assertEq(vault.balanceOf(address(consumer)), 3 * 0.002 ether, "escrow back, no more");
    }

    function test_timeoutSharesGoToTheTreasuryNeverToTheRequester() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _ask(3);
        _seal(requestId, seats, 1, ANSWER, UNITS);
        _seal(requestId, seats, 2, ANSWER, UNITS);
        vm.warp(block.timestamp + 10 minutes + 1);
        uint256 treasuryBefore = vault.balanceOf(treasury);
        _reveal(requestId, seats, 1, ANSWER, UNITS);
        _reveal(requestId, seats, 2, ANSWER, UNITS);
        uint256 slashed = COLLATERAL * 500 / 10_000;
        assertEq(nodes.getNode(seats[2].nodeId).collateral, COLLATERAL - slashed, "the absent seat is slashed");
        assertGe(vault.balanceOf(treasury) - treasuryBefore, slashed * 2_500 / 10_000, "the treasury's share");
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertEq(vault.balanceOf(address(consumer)), 3 * 0.002 ether - 2 * 0.00024 ether, "refund only");
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
        vm.prank(admin);
        vault.setFeeBurnBps(500);
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
        // Two small stacks: each node's claim is capped at what its fees burned (1x), the owner's at its burn.
        uint256 capped = vault.nodeBurned(a, epoch) + vault.nodeBurned(b, epoch) + vault.ownerBurned(modelOwner, epoch);
        assertEq(minted, total * 2_000 / 10_000 + capped, "the treasury's share, and the capped claims");
        assertEq(token.balanceOf(treasury), total * 2_000 / 10_000, "treasury share");
        vm.expectRevert(abi.encodeWithSelector(EmissionSchedule.AlreadyClaimed.selector, epoch));
        emission.claimNodeEmission(a, epoch);
        assertTrue(token.balanceOf(operatorOf[b]) > token.balanceOf(operatorOf[a]), "pro rata to fees");
    }
}
