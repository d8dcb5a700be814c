// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {NodeRegistry} from "../src/registry/NodeRegistry.sol";
import {TaskRegistry} from "../src/registry/TaskRegistry.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {SettlementSteps} from "./lib/SettlementSteps.sol";

/// @notice Issue 10, review residuals (items 17, H1, L3): leaving the network or a task used to take effect at
/// once, so the nodes that check a stack could shrink between its purchase and its checks, and collateral could
/// leave before every check or fraud proof that could take it had had its chance. Leaving now takes an exit
/// notice; these are the attacks, played end to end through the deployed contracts.
contract ExitNoticeTest is SettlementSteps {
    uint256 internal verifiedTask;
    uint256 internal plainTask;
    /// The fewest nodes item 4 sells a verified stack with: the server, two attesters and a committee of three.
    uint256[] internal six;

    function setUp() public {
        deployAtoma();
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < 6; ++i) {
            six.push(addNode(1));
            subscribe(verifiedTask, six[i], PRICE);
            subscribe(plainTask, six[i], PRICE);
        }
        nextEpoch();
    }

    // ---------------------------------------------------------------- helpers

    struct Play {
        uint256 stackId;
        uint256 server;
        /// The liar's second node, neither the server nor an attester.
        uint256 sybil;
        uint256[] attesters;
        uint256 disputeId;
        Served claimed;
    }

    function _isIn(uint256 id, uint256[] memory list) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == id) return true;
        }
        return false;
    }

    function _buyFor(uint256 taskId, uint64 duration) internal returns (uint256 stackId, uint256 server) {
        StackManager.Candidate[] memory candidates;
        vm.prank(user);
        (stackId, candidates) = stacks.buyStack(taskId, 1_000_000, type(uint128).max, duration);
        vm.roll(block.number + 1);
        server = stacks.drawNode(stackId, candidates);
    }

    /// The attesters the settlement of `p` will draw (the leaving node among the candidates either way: it is
    /// one for its notice), read ahead under a snapshot so the test can name a sybil that is not one of them.
    function _attestersAhead(Play memory p, uint256 settleAt) internal returns (uint256[] memory ids) {
        uint256 snap = vm.snapshotState();
        vm.warp(settleAt);
        settleAs(p.stackId, p.server, p.claimed.root, 1_000_000, 4);
        ids = attesterIdsOf(p.stackId);
        vm.revertToState(snap);
    }

    function attesterIdsOf(uint256 stackId) internal view returns (uint256[] memory ids) {
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        ids = new uint256[](list.length);
        for (uint256 i = 0; i < list.length; ++i) ids[i] = list[i].nodeId;
    }

    /// A stack bought for `duration` on the verified task; its server lies ("cheap model") and settles at
    /// `settleDelay` after the purchase. Right after the purchase the liar's second node (`sybil`, not an
    /// attester) leaves the task (after trying to deregister, which it may not while subscribed). Both attesters
    /// recompute honestly and dissent; the reveal opens the dispute.
    function _liarsNodeLeaves(uint64 duration, uint256 settleDelay) internal returns (Play memory p) {
        return _liarsNodeDropsOut(duration, settleDelay, false);
    }

    /// As `_liarsNodeLeaves`, or, with `bySlash`, the sybil stays subscribed but has itself timeout-slashed until
    /// it holds less than the minimum and its bonds (a node below them is not eligible to serve).
    function _liarsNodeDropsOut(uint64 duration, uint256 settleDelay, bool bySlash) internal returns (Play memory p) {
        uint256 boughtAt = block.timestamp;
        (p.stackId, p.server) = _buyFor(verifiedTask, duration);
        p.claimed = serve(p.stackId, 4, "cheap model", 1_000_000);
        p.attesters = _attestersAhead(p, boughtAt + settleDelay);
        for (uint256 i = 0; i < six.length; ++i) {
            if (six[i] != p.server && !_isIn(six[i], p.attesters)) {
                p.sybil = six[i];
                break;
            }
        }
        if (bySlash) {
            for (uint256 i = 0; i < 3; ++i) {
                vm.prank(address(settlement));
                nodes.slashTimeout(p.sybil, address(0));
            }
            assertTrue(!nodes.isEligible(p.sybil), "below the minimum: it serves no more");
        } else {
            vm.startPrank(operatorOf[p.sybil]);
            vm.expectRevert(
                abi.encodeWithSelector(NodeRegistry.SubscriptionsLeft.selector, p.sybil, 2 * SUB_COLLATERAL)
            );
            nodes.deregister(p.sybil);
            tasks.unsubscribe(verifiedTask, p.sybil);
            tasks.unsubscribe(plainTask, p.sybil);
            vm.stopPrank();
        }

        vm.warp(boughtAt + settleDelay);
        settleAs(p.stackId, p.server, p.claimed.root, 1_000_000, 4);
        assertEq(keccak256(abi.encode(attesterIdsOf(p.stackId))), keccak256(abi.encode(p.attesters)), "foreseen");
        Served memory honest = serve(p.stackId, 4, "honest", 1_000_000);
        uint256[] memory idx = settlement.sampledIndices(p.stackId);
        for (uint256 i = 0; i < p.attesters.length; ++i) {
            commitAs(p.stackId, p.attesters[i], honest);
        }
        vm.prank(vm.addr(signerKey[p.server]));
        settlement.reveal(p.stackId, revealOf(idx, p.claimed));
        openAttestations(p.stackId);
        assertTrue(
            settlement.getSettlement(p.stackId).phase == ISettlementManager.Phase.Disputed, "the honest dissent"
        );
        p.disputeId = disputes.disputeCount();
        uint64[] memory frozen = disputes.candidatesOf(p.disputeId);
        assertEq(frozen.length, 3, "the three non-parties are frozen, the leaving node among them");
        postEvidence(p.disputeId, p.stackId, p.server, p.claimed);
    }

    /// The committee is drawn with the leaving node in it; the two honest members vote, the sybil stays silent;
    /// the liar loses all its collateral.
    function _honestMajorityDecides(Play memory p) internal {
        uint256 sybilBefore = nodes.getNode(p.sybil).collateral;
        if (!disputes.getDispute(p.disputeId).drawn) draw(p.disputeId);
        uint256[] memory committee = committeeIds(p.disputeId);
        assertEq(committee.length, 3, "a full committee");
        assertTrue(_isIn(p.sybil, committee), "the leaving node is drawn");
        Ballot[] memory ballots = new Ballot[](3);
        for (uint256 i = 0; i < 3; ++i) {
            if (committee[i] == p.sybil) continue;
            ballots[i] = ballot(committee[i], sampledOutputs(p.stackId, "honest"));
            commitBallot(p.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes + 1);
        for (uint256 i = 0; i < 3; ++i) {
            if (committee[i] == p.sybil) continue;
            revealBallot(p.disputeId, committee[i], ballots[i]);
            showBallot(p.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes);
        disputes.resolve(p.disputeId);
        assertTrue(disputes.getDispute(p.disputeId).outcome == DisputeManager.Outcome.Decided, "decided");
        assertEq(nodes.getNode(p.server).collateral, 0, "the liar is slashed in full");
        assertTrue(nodes.getNode(p.server).status == INodeRegistry.NodeStatus.Slashed, "and barred");
        assertEq(nodes.getNode(p.sybil).collateral, sybilBefore - sybilBefore * 500 / 10_000, "the silent one pays");
        for (uint256 i = 0; i < 2; ++i) {
            assertTrue(claimableOf(p.attesters[i]) > 0, "the honest dissenters are paid");
        }
    }

    // ---------------------------------------------------------------- (a), (b): leaving after the purchase

    /// (a) and (b): in a six-node echelon (the fewest item 4 sells with), the liar's own second node leaves the
    /// task right after the purchase — deregistering is refused while it is subscribed — hoping to leave two
    /// candidates and end the dispute without a committee. It is still a checking candidate: frozen, drawn, and
    /// the liar is slashed in full.
    function test_aLiarsNodeLeavingAfterThePurchaseIsStillDrawnAndTheLiarIsSlashed() public {
        Play memory p = _liarsNodeLeaves(1 days, 1 days + 1 hours);
        assertTrue(!tasks.getSubscription(verifiedTask, p.sybil).active, "it left for new work");
        _honestMajorityDecides(p);
    }

    /// The same sybil stays subscribed but gets itself timeout-slashed below its bonds and the minimum collateral
    /// (and its reputation down), which makes a node ineligible to serve: it still checks others, so it is frozen,
    /// drawn, and the liar is slashed in full.
    function test_aLiarsNodeSlashingItselfOutOfEligibilityIsStillDrawnAndTheLiarIsSlashed() public {
        Play memory p = _liarsNodeDropsOut(1 days, 1 days + 1 hours, true);
        ITaskRegistry.Subscription memory sub = tasks.getSubscription(verifiedTask, p.sybil);
        assertTrue(!sub.active && sub.exitAt > block.timestamp, "put on notice by the slash, still within it");
        _honestMajorityDecides(p);
    }

    /// Peers that leave after the purchase still attest: the settlement is checked, not waved through as
    /// unverifiable.
    function test_peersLeavingAfterThePurchaseStillAttest() public {
        (uint256 stackId, uint256 server) = _buyFor(verifiedTask, 1 days);
        for (uint256 i = 0; i < six.length; ++i) {
            if (six[i] == server) continue;
            vm.prank(operatorOf[six[i]]);
            tasks.unsubscribe(verifiedTask, six[i]);
        }
        settleAs(stackId, server, serve(stackId, 3, "honest").root, 1_000_000, 3);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "sampled and checked");
        assertEq(attestersOf(stackId).length, 2, "by two of the leaving peers");
    }

    // ---------------------------------------------------------------- (c): the longest path, then deregistering

    /// (c) The same attack on the longest path a stack may take: a 30-day stack settled at its last second and
    /// disputed; the sybil's notice ends after the dispute froze it. It completes its exit and deregisters while
    /// the draw is still undone, but cannot withdraw: the notice runs again from its deregistration. Drawn, it is
    /// bound until the dispute is decided, and the notice runs again from then.
    function test_aFrozenCandidateThatDeregistersCannotWithdrawBeforeTheDisputeIsDrawnAndDecided() public {
        uint256 boughtAt = block.timestamp;
        Play memory p = _liarsNodeLeaves(30 days, 30 days + 1 hours);
        uint64 exitAt = tasks.getSubscription(verifiedTask, p.sybil).exitAt;
        assertEq(exitAt, boughtAt + EXIT_NOTICE, "its notice started at the purchase");
        assertTrue(exitAt > block.timestamp, "the dispute froze it inside its notice");
        vm.warp(exitAt);
        vm.startPrank(operatorOf[p.sybil]);
        tasks.completeExit(verifiedTask, p.sybil);
        tasks.completeExit(plainTask, p.sybil);
        nodes.deregister(p.sybil);
        vm.expectRevert(
            abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, p.sybil, block.timestamp + EXIT_NOTICE)
        );
        nodes.withdrawCollateral(p.sybil);
        vm.stopPrank();
        draw(p.disputeId);
        vm.prank(operatorOf[p.sybil]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.ObligationsPending.selector, p.sybil, 1));
        nodes.withdrawCollateral(p.sybil);
        _honestMajorityDecides(p);
        uint256 decidedAt = block.timestamp;
        vm.warp(decidedAt + EXIT_NOTICE - 1);
        vm.prank(operatorOf[p.sybil]);
        vm.expectRevert(
            abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, p.sybil, decidedAt + EXIT_NOTICE)
        );
        nodes.withdrawCollateral(p.sybil);
        vm.warp(decidedAt + EXIT_NOTICE);
        vm.prank(operatorOf[p.sybil]);
        nodes.withdrawCollateral(p.sybil);
        assertEq(nodes.getNode(p.sybil).collateral, 0, "withdrawn at last, less its timeout share");
    }

    // ---------------------------------------------------------------- (d): a late receipt-fraud proof

    function _receipt(uint256 stackId, uint64 units, uint64 cumulative)
        internal
        pure
        returns (AtomaTypedData.Response memory)
    {
        return AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: 0,
            nonce: 0,
            reqHash: keccak256(requestBody(stackId, 0)),
            respHash: keccak256("answer"),
            units: units,
            cumulativeUnits: cumulative,
            seed: 7
        });
    }

    /// (d) L3: a node signs a first receipt whose running total is not its units, is paid for the stack, leaves
    /// every task, serves its notices and deregisters the moment it can. Its collateral is not withdrawable
    /// until the notice has passed since: a proof landing inside it slashes everything.
    function test_aFinalizedNodeCannotWithdrawBeforeTheNoticeAndALateFraudProofSlashesIt() public {
        (uint256 stackId, uint256 server) = _buyFor(plainTask, 1 days);
        AtomaTypedData.Response memory lie = _receipt(stackId, 100, 1_000_000);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signerKey[server], stacks.responseDigest(lie));
        bytes memory signature = abi.encodePacked(r, s, v);
        vm.startPrank(operatorOf[server]);
        tasks.unsubscribe(verifiedTask, server);
        tasks.unsubscribe(plainTask, server);
        vm.stopPrank();
        Served memory served = serve(stackId, 1, "honest", 100);
        settleAs(stackId, server, served.root, 100, 1);
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(nodes.getNode(server).obligations, 0, "its last stack is finalized");
        vm.warp(tasks.getSubscription(plainTask, server).exitAt);
        vm.startPrank(operatorOf[server]);
        tasks.completeExit(verifiedTask, server);
        tasks.completeExit(plainTask, server);
        nodes.deregister(server);
        vm.warp(block.timestamp + EXIT_NOTICE - 1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, server, block.timestamp + 1));
        nodes.withdrawCollateral(server);
        vm.stopPrank();
        receiptFraud.proveResponse(lie, signature);
        assertEq(nodes.getNode(server).collateral, 0, "the late proof slashes it in full");
        assertTrue(nodes.getNode(server).status == INodeRegistry.NodeStatus.Slashed, "barred");
        vm.warp(block.timestamp + 1);
        vm.prank(operatorOf[server]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NothingToWithdraw.selector, server));
        nodes.withdrawCollateral(server);
    }

    // ---------------------------------------------------------------- (e): governance cannot reopen the hole

    function _stackParams() internal view returns (StackManager.Params memory p) {
        (p.minDuration, p.maxDuration, p.settleWindow, p.maxUnits, p.surchargeBps, p.minChargeBps, p.minCommittee) =
            stacks.params();
    }

    function _settlementParams() internal view returns (SettlementManager.Params memory p) {
        (p.commitWindow, p.revealWindow, p.dataWindow, p.disputeWindow, p.maxReplacements) = settlement.params();
    }

    function _taskParams() internal view returns (TaskRegistry.Params memory p) {
        (
            p.minReplicationPpm,
            p.maxSubscribersPerTask,
            p.maxSubscriptionsPerNode,
            p.maxAttesters,
            p.maxSampleSize,
            p.minSubscriptionCollateral,
            p.exitNotice
        ) = tasks.params();
    }

    /// (e) The notice must cover the longest path from a purchase to its dispute committee being frozen: the
    /// draw limit, the longest stack duration and settle window ever allowed, and the settlement's windows (each
    /// at the highest ever set). Every setter refuses a combination that would not fit, the notice is never
    /// lowered, and a stack whose node is not drawn within the draw limit is cancelled.
    function test_governanceCannotSetParametersThatOutlastTheExitNotice() public {
        uint256 span = settlement.settlementSpan();
        assertEq(
            span,
            3 * (10 minutes + 2 hours) + 10 minutes + 10 minutes + 2 * 10 minutes + 1 hours,
            "the settlement's span (the opening window and its closing call included)"
        );
        uint256 needed = 1 hours + 30 days + 1 hours + span;
        assertLe(needed, EXIT_NOTICE, "the fixture's parameters fit");
        vm.startPrank(admin);

        StackManager.Params memory sp = _stackParams();
        sp.maxDuration = uint64(EXIT_NOTICE);
        uint256 over = 1 hours + EXIT_NOTICE + 1 hours + span;
        vm.expectRevert(abi.encodeWithSelector(StackManager.ExitNoticeTooShort.selector, over, EXIT_NOTICE));
        stacks.setParams(sp);
        sp = _stackParams();
        sp.settleWindow = uint64(EXIT_NOTICE - needed + 1 hours + 1);
        vm.expectRevert(abi.encodeWithSelector(StackManager.ExitNoticeTooShort.selector, EXIT_NOTICE + 1, EXIT_NOTICE));
        stacks.setParams(sp);

        SettlementManager.Params memory wp = _settlementParams();
        wp.commitWindow = 1 days;
        vm.expectRevert();
        settlement.setParams(wp);
        wp = _settlementParams();
        wp.revealWindow = 1 days;
        vm.expectRevert();
        settlement.setParams(wp);

        // Lowering the duration first does not make room: a stack sold under the longer one may be in flight.
        sp = _stackParams();
        sp.maxDuration = 1 days;
        stacks.setParams(sp);
        wp = _settlementParams();
        wp.commitWindow = 1 days;
        vm.expectRevert();
        settlement.setParams(wp);
        assertEq(stacks.longestDuration(), 30 days, "the longest duration ever allowed still counts");

        // The notice may be raised, never lowered; raised, it makes room.
        TaskRegistry.Params memory tp = _taskParams();
        tp.exitNotice = uint64(EXIT_NOTICE - 1);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "exitNotice", EXIT_NOTICE - 1));
        tasks.setParams(tp);
        tp.exitNotice = uint64(EXIT_NOTICE + 10 days);
        tasks.setParams(tp);
        settlement.setParams(wp);
        vm.stopPrank();
        assertEq(
            stacks.longestToSettle() + settlement.settlementSpan() <= tasks.exitNotice() ? 1 : 0, 1, "it fits again"
        );
    }

    /// A purchase its buyer (or a candidate) leaves undrawn cannot stretch the path: past the draw limit the draw
    /// cancels it and refunds the buyer.
    function test_aPurchaseNotDrawnWithinTheDrawLimitIsCancelled() public {
        StackManager.Candidate[] memory candidates;
        vm.prank(user);
        uint256 stackId;
        (stackId, candidates) = stacks.buyStack(verifiedTask, 1_000_000, type(uint128).max, 1 days);
        uint256 before = token.balanceOf(user);
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + stacks.DRAW_LIMIT() + 1);
        assertEq(stacks.drawNode(stackId, candidates), 0, "no node");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(vault.balanceOf(user) + token.balanceOf(user) - before, 2.2 ether, "refunded");
    }
    // ---------------------------------------------------------------- (f): worn-down nodes leave after a notice

    function _checkers(uint256 taskId) internal view returns (uint256[] memory) {
        return tasks.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: type(uint32).max,
                count: 100,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: new uint256[](0),
                seed: 1,
                checking: true
            })
        );
    }

    function _wearDown(uint256 nodeId) internal {
        vm.prank(address(settlement));
        nodes.slashTimeout(nodeId, address(0));
        assertTrue(!nodes.isFunded(nodeId), "short of the minimum");
    }

    /// (f) A timeout takes 5 % of what is left, so collateral never reaches zero: a worn-down node (a griefer's
    /// cheap checker, or a dead machine) used to stay an attester and committee candidate forever. Falling below
    /// the minimum puts every subscription on notice: it checks until the notice ends (the pool that checks
    /// stacks sold before cannot shrink), then no longer; it cannot cancel the notice without topping up.
    function test_aNodeWornDownBelowTheMinimumChecksUntilItsNoticeEndsThenNoLonger() public {
        uint256 zombie = six[0];
        _wearDown(zombie);
        uint64 exitAt = uint64(block.timestamp + EXIT_NOTICE);
        for (uint256 t = 1; t <= 2; ++t) {
            ITaskRegistry.Subscription memory sub = tasks.getSubscription(t, zombie);
            assertTrue(!sub.active, "no new work");
            assertEq(sub.exitAt, exitAt, "on notice from the slash");
            assertEq(sub.collateral, SUB_COLLATERAL, "bond in place");
        }
        // More timeouts within the notice neither extend it nor fail.
        vm.warp(block.timestamp + 1 days);
        _wearDown(zombie);
        assertEq(tasks.getSubscription(verifiedTask, zombie).exitAt, exitAt, "the notice is not restarted");
        // It cannot cancel the notice (or subscribe anew) while short.
        uint256 extra = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        vm.startPrank(operatorOf[zombie]);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NodeUnderfunded.selector, zombie));
        tasks.subscribe(verifiedTask, zombie, PRICE, 1e12, SUB_COLLATERAL);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NodeUnderfunded.selector, zombie));
        tasks.subscribe(extra, zombie, PRICE, 1e12, SUB_COLLATERAL);
        vm.stopPrank();

        vm.warp(exitAt - 1);
        assertTrue(_isIn(zombie, _checkers(verifiedTask)), "within its notice it is still a checker");
        vm.warp(exitAt);
        assertTrue(!_isIn(zombie, _checkers(verifiedTask)), "past its notice it checks no more");
        assertEq(_checkers(verifiedTask).length, 5, "the others still do");
        tasks.completeExit(verifiedTask, zombie);
        tasks.completeExit(plainTask, zombie);
        assertEq(nodes.bonded(zombie), 0, "its bonds are released");
    }

    /// (f) An honest node that missed a deadline tops up and subscribes again during its notice: the notice is
    /// cancelled and it serves and checks as before.
    function test_anHonestNodeThatTopsUpAndSubscribesAgainIsBackToNormal() public {
        uint256 node = six[0];
        _wearDown(node);
        vm.startPrank(operatorOf[node]);
        nodes.topUp(node, COLLATERAL / 10);
        assertTrue(nodes.isFunded(node) && nodes.isEligible(node), "backed again");
        tasks.subscribe(verifiedTask, node, PRICE, 1e12, SUB_COLLATERAL);
        tasks.subscribe(plainTask, node, PRICE, 1e12, SUB_COLLATERAL);
        vm.stopPrank();
        for (uint256 t = 1; t <= 2; ++t) {
            ITaskRegistry.Subscription memory sub = tasks.getSubscription(t, node);
            assertTrue(sub.active && sub.exitAt == 0, "the notice is cancelled");
        }
        assertEq(nodes.bonded(node), 2 * SUB_COLLATERAL, "bonded as before");
        vm.warp(block.timestamp + EXIT_NOTICE + 1);
        assertTrue(_isIn(node, _checkers(verifiedTask)), "a checker past the old notice");
        ITaskRegistry.Draw memory work = ITaskRegistry.Draw({
            taskId: plainTask,
            echelon: type(uint32).max,
            count: 100,
            maxPrice: type(uint256).max,
            units: 1,
            exclude: new uint256[](0),
            seed: 1,
            checking: false
        });
        assertTrue(_isIn(node, tasks.draw(work)), "and offered new work");
    }

    /// (f) The slash that puts a node on notice walks its subscriptions once: at the most the registry allows (64)
    /// it stays well within a block, and a later timeout (nothing left to put on notice) costs less.
    function test_theTimeoutSlashThatPutsANodeOnNoticeHasBoundedGas() public {
        TaskRegistry.Params memory tp = _taskParams();
        tp.maxSubscriptionsPerNode = 64;
        tp.minSubscriptionCollateral = 100 ether;
        vm.prank(admin);
        tasks.setParams(tp);
        uint256 node = addNode(1);
        vm.startPrank(operatorOf[node]);
        for (uint256 i = 0; i < 64; ++i) {
            uint256 taskId = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
            tasks.subscribe(taskId, node, PRICE, 1e12, 100 ether);
        }
        vm.stopPrank();
        vm.startPrank(address(settlement));
        // Storage cold, as in the transaction of a timeout call.
        vm.cool(address(tasks));
        vm.cool(address(nodes));
        uint256 before = gasleft();
        nodes.slashTimeout(node, address(0));
        uint256 first = before - gasleft();
        vm.cool(address(tasks));
        vm.cool(address(nodes));
        before = gasleft();
        nodes.slashTimeout(node, address(0));
        uint256 again = before - gasleft();
        vm.stopPrank();
        uint256[] memory left = tasks.tasksOf(node);
        for (uint256 i = 0; i < left.length; ++i) {
            assertTrue(!tasks.getSubscription(left[i], node).active, "every subscription on notice");
        }
        // Measured (cold): about 748k for the first, 64 subscriptions put on notice; under half of it for a later one.
        assertLe(first, 800_000, "bounded");
        assertLe(again, first / 2, "cheaper once on notice");
    }
}
