// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {DisputeSelection} from "../src/disputes/DisputeSelection.sol";
import {Vm} from "./lib/Vm.sol";
import {DisputeRoundSteps} from "./lib/DisputeRoundSteps.sol";

/// @notice A round's silence stays reportable after the next round replaced the manager's candidate list (review
/// M1), and no window opens for a round the manager can never seat (L1). Attackers: a node selected in round 0 that
/// stays silent and counts on round 1's snapshot to make its report impossible; a window opened (and its silence
/// slashed) in a round beyond `drawRounds`.
contract DisputeRoundReportsTest is DisputeRoundSteps {
    function setUp() public {
        setUpSelection();
    }

    /// Attacker: X is selected in round 0 and stays silent; round 0 fails, a candidate leaves the task and round 1
    /// is armed on a new list. X's proof comes out later: the reporter takes round 0's list from the window's
    /// `CommitteeSelectionOpened` and X is slashed for round 0; the manager's (round 1's) list is refused.
    function test_aRoundZeroSilenceIsReportedOnTheListItsWindowEmitted() public {
        vm.recordLogs();
        (uint256 disputeId,) = _openDispute();
        uint64[] memory emitted = _openedCandidates(disputeId, 0);
        assertEq(keccak256(abi.encode(emitted)), keccak256(abi.encode(_candidates(disputeId))), "round 0's list");
        uint256 silent = _find(disputeId, true);
        assertTrue(silent != 0, "selected in round 0");
        Proof memory surfaced = _proof(disputeId, silent);
        _waitOutRoundZero(disputeId);
        uint256 leaver = emitted[0] == silent ? emitted[1] : emitted[0];
        vm.prank(operatorOf[leaver]);
        tasks.unsubscribe(verifiedTask, leaver);
        vm.warp(block.timestamp + EXIT_NOTICE + 1);
        tasks.completeExit(verifiedTask, leaver);
        disputes.drawCommittee(disputeId);
        assertEq(disputes.getDispute(disputeId).drawBlock, block.number, "round 1 armed");
        uint64[] memory current = _candidates(disputeId);
        assertTrue(keccak256(abi.encode(current)) != keccak256(abi.encode(emitted)), "round 1 froze another list");

        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        selection.reportSilentSelection(disputeId, 0, silent, current, surfaced.proof, surfaced.hints);
        uint64[] memory forged = new uint64[](emitted.length);
        for (uint256 i = 0; i < emitted.length; ++i) {
            forged[i] = emitted[emitted.length - 1 - i];
        }
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        selection.reportSilentSelection(disputeId, 0, silent, forged, surfaced.proof, surfaced.hints);

        uint256 before = nodes.getNode(silent).collateral;
        vm.expectEmit(address(selection));
        emit DisputeSelection.SilentMemberSlashed(disputeId, 0, silent, address(this), before * 500 / 10_000);
        selection.reportSilentSelection(disputeId, 0, silent, emitted, surfaced.proof, surfaced.hints);
        assertEq(nodes.getNode(silent).collateral, before - before * 500 / 10_000, "round 0's timeout share");
    }

    /// The selection events name their round: a round-0 seat replayed after round 1 opened is told apart.
    function test_selectionEventsCarryTheirRound() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, true);
        vm.expectEmit(address(selection));
        emit DisputeSelection.MemberSelfSelected(disputeId, 0, node, keccak256("round 0"));
        _sit(disputeId, node, _proof(disputeId, node), keccak256("round 0"));
        _waitOutRoundZero(disputeId);
        _openRoundOne(disputeId, _armRoundOne(disputeId));
        vm.expectEmit(address(selection));
        emit DisputeSelection.MemberSelfSelected(disputeId, 1, node, keccak256("round 1"));
        _sitInRound(disputeId, node, keccak256("round 1"));
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectEmit(address(selection));
        emit DisputeSelection.CommitteeToppingUp(disputeId, 1, 1);
        disputes.drawCommittee(disputeId);
    }

    /// Attacker (or a governor's change mid-dispute): round 1 is armed, then `drawRounds` drops to 1. The manager can
    /// never seat round 1, so its window never opens and nobody's silence in it is slashable.
    function test_noWindowOpensForARoundBeyondDrawRounds() public {
        (uint256 disputeId,) = _openDispute();
        _waitOutRoundZero(disputeId);
        uint256 armed = _armRoundOne(disputeId);
        DisputeManager.Params memory p = disputeParams(disputes);
        p.drawRounds = 1;
        vm.prank(admin);
        disputes.setParams(p);
        vm.roll(armed + 2);
        vm.setBlockhash(armed + 1, vm.parseJsonBytes32(json, ".roundBlockHash"));
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotReady.selector, disputeId));
        selection.open(disputeId);
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.NothingToDraw.selector, disputeId));
        disputes.drawCommittee(disputeId);
        vm.prank(address(disputes));
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotReady.selector, disputeId));
        selection.take(disputeId);
        uint64[] memory c = _candidates(disputeId);
        Proof memory p1 = _roundProof(disputeId, c[0]);
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        selection.reportSilentSelection(disputeId, 1, c[0], c, p1.proof, p1.hints);
        assertEq(selection.selectionOf(disputeId).endsAt, 0, "round 1 never opened");
    }

    /// The candidates `CommitteeSelectionOpened` carried for round `round` of `disputeId`, from the recorded logs.
    function _openedCandidates(uint256 disputeId, uint8 round) internal returns (uint64[] memory) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (
                logs[i].emitter != address(selection)
                    || logs[i].topics[0] != DisputeSelection.CommitteeSelectionOpened.selector
                    || uint256(logs[i].topics[1]) != disputeId
            ) continue;
            (uint8 r,,,,, uint64[] memory candidates) =
                abi.decode(logs[i].data, (uint8, bytes32, uint64, uint256, uint256, uint64[]));
            if (r == round) return candidates;
        }
        revert("no CommitteeSelectionOpened");
    }
}
