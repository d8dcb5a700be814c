// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {NodeRegistry} from "../src/registry/NodeRegistry.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// @notice Review R2-7: with epochs long beside the exit notice, a node that served a lying attestation statement
/// deregistered and withdrew its collateral after the notice, before its statement's epoch was over (a lie about
/// evidence never posted is reportable only then) or before the refund window of the stacks it served closed. Its
/// collateral now stays until every report and refund window that could reach it is over: `REFUND_EPOCHS` epochs
/// after the epoch in which its last obligation ended (or it deregistered), as well as the exit notice. Review L-5:
/// that wait binds only a node that ever subscribed to a confidential task; any other leaves after the notice.
contract LongEpochExitTest is ConfidentialSteps {
    uint256 internal liar;

    function epochLength() internal pure override returns (uint256) {
        return 60 days;
    }

    function setUp() public {
        deployConfidential();
        liar = confidentialNode();
    }

    /// The node ends its subscription (the exit notice) and deregisters as the next epoch begins.
    function _leave(uint256 nodeId, bool subscribed) internal {
        if (subscribed) {
            vm.prank(operatorOf[nodeId]);
            tasks.unsubscribe(confidential, nodeId);
            vm.warp(block.timestamp + EXIT_NOTICE + 1);
            tasks.completeExit(confidential, nodeId);
        }
        vm.warp(nodes.epochEnd(currentEpoch()));
        vm.prank(operatorOf[nodeId]);
        nodes.deregister(nodeId);
    }

    function _statement(uint256 nodeId, uint64 epoch, bytes32 evidenceHash) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(signerKey[nodeId], attestations.servedEvidenceDigest(nodeId, epoch, evidenceHash));
        return abi.encodePacked(r, s, v);
    }

    /// Liar: serves a statement for evidence it never posts, deregisters at once and withdraws after the exit notice,
    /// still inside the statement's epoch. The report, possible only once the epoch is over, must still slash it.
    function test_aLiarCannotWithdrawBeforeItsStatementCanBeReported() public {
        _leave(liar, true);
        uint64 epoch = currentEpoch();
        bytes32 evidence = keccak256("never posted");
        bytes memory signed = _statement(liar, epoch, evidence);
        vm.warp(block.timestamp + EXIT_NOTICE + 1);
        assertEq(currentEpoch(), epoch, "the statement's epoch is not over");
        vm.prank(operatorOf[liar]);
        try nodes.withdrawCollateral(liar) {} catch {}
        vm.warp(nodes.epochEnd(epoch));
        uint256 slashed = attestations.reportUnposted(liar, epoch, evidence, signed);
        assertTrue(slashed > 0, "the report still finds the collateral");
    }

    /// Honest leaver: withdrawal waits for the refund window of its last epoch (the error says until when) and then
    /// works.
    function test_collateralWaitsForTheLastReportWindowThenLeaves() public {
        // Review s5 L-5: an active node (never released) reads "not withdrawable", no panic.
        assertEq(nodes.withdrawableAt(liar), type(uint256).max, "active: not withdrawable");
        _leave(liar, true);
        uint64 epoch = currentEpoch();
        uint256 until = nodes.epochEnd(epoch + attestations.REFUND_EPOCHS());
        assertEq(nodes.withdrawableAt(liar), until, "the refund window of its last epoch, longer than the notice");
        vm.warp(until - 1);
        vm.prank(operatorOf[liar]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, liar, until));
        nodes.withdrawCollateral(liar);
        vm.warp(until);
        uint256 before = token.balanceOf(operatorOf[liar]);
        vm.prank(operatorOf[liar]);
        nodes.withdrawCollateral(liar);
        assertEq(token.balanceOf(operatorOf[liar]) - before, COLLATERAL, "withdrawn");
    }

    /// Review L-5: a node that never took a confidential task can have served no stack a statement refunds, so its
    /// collateral leaves after the exit notice alone, long before the refund window of its epoch.
    function test_aNodeThatNeverTookAConfidentialTaskLeavesAfterTheNoticeAlone() public {
        uint256 plain = addNode(0);
        assertTrue(!tasks.tookConfidential(plain), "never confidential");
        _leave(plain, false);
        uint256 until = block.timestamp + EXIT_NOTICE;
        assertEq(nodes.withdrawableAt(plain), until, "the notice alone");
        assertTrue(until < nodes.epochEnd(currentEpoch() + attestations.REFUND_EPOCHS()), "sooner than the window");
        vm.warp(until);
        uint256 before = token.balanceOf(operatorOf[plain]);
        vm.prank(operatorOf[plain]);
        nodes.withdrawCollateral(plain);
        assertEq(token.balanceOf(operatorOf[plain]) - before, COLLATERAL, "withdrawn");
    }

    /// Review L-5, the attacker's side: a node that took a confidential task cannot shed the refund window by
    /// leaving the task first; the mark outlives the subscription.
    function test_leavingTheConfidentialTaskFirstDoesNotShortenTheWait() public {
        assertTrue(tasks.tookConfidential(liar), "marked at its subscription");
        _leave(liar, true);
        uint256 until = nodes.epochEnd(currentEpoch() + attestations.REFUND_EPOCHS());
        assertEq(nodes.withdrawableAt(liar), until, "still the refund window");
        vm.warp(block.timestamp + EXIT_NOTICE + 1);
        vm.prank(operatorOf[liar]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, liar, until));
        nodes.withdrawCollateral(liar);
    }
}
