// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {DisputeSelection} from "../src/disputes/DisputeSelection.sol";
import {VrfKeyRegistry} from "../src/vrf/VrfKeyRegistry.sol";
import {DisputeRoundSteps} from "./lib/DisputeRoundSteps.sol";

/// @notice Every draw round of a dispute selects its committee in private (issue 16). Attackers: a server that waits
/// out (or griefs) round 0 so that round 1 would be drawn in public and its committee known before anyone votes; a
/// node selected in round 0 that stays silent and then tries to sit in round 1 on its stale proof; a silent member
/// of one round hoping the next round wipes its slate. Proofs from packages/core/vectors/vrfDispute.json.
contract DisputeRoundsTest is DisputeRoundSteps {
    function setUp() public {
        setUpSelection();
    }

    /// Attacker: the server keeps round 0 from forming. Round 1 must not be a public draw that names the committee:
    /// it opens its own window, on a seed of its own, and only members that sit with their commitment are known.
    function test_aFailedFirstRoundOpensAPrivateWindowWithAFreshSeed() public {
        (uint256 disputeId,) = _openDispute();
        bytes32 seed0 = selection.selectionOf(disputeId).seed;
        _waitOutRoundZero(disputeId);
        assertTrue(selection.fellBack(disputeId), "round 0 fell back to its public draw");
        uint256 armed = _armRoundOne(disputeId);
        uint256 w1 = selection.windowOf(disputeId, 1);
        bytes32 seed1 = vm.parseJsonBytes32(json, ".rounds[0].seed");
        assertEq(w1, vm.parseJsonUint(json, ".rounds[0].window"), "the window key TypeScript computes");
        assertEq(selection.seedOf(w1, vm.parseJsonBytes32(json, ".roundBlockHash")), seed1, "the vectors' seed");
        assertTrue(seed1 != seed0, "a fresh seed");
        assertTrue(selection.seedOf(w1, blockHash) != seed0, "fresh even on the same block hash");
        uint64[] memory c1 = _candidates(disputeId);
        vm.expectEmit(address(selection));
        emit DisputeSelection.CommitteeSelectionOpened(
            disputeId, 1, seed1, uint64(block.timestamp) + WINDOW, 3, c1.length, c1
        );
        _openRoundOne(disputeId, armed);
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        assertTrue(!d.drawn, "no public draw of round 1");
        assertEq(disputes.committeeOf(disputeId).length, 0, "nobody named");
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        assertEq(sel.seed, seed1, "the current window is round 1's");
        assertEq(sel.nodeIds.length, 0, "nobody seated before committing");
        assertTrue(!selection.fellBack(w1), "round 1 has not fallen back");
        // The members sit with their commitments, and the committee is exactly them.
        uint64[] memory c = _candidates(disputeId);
        uint256 seated;
        for (uint256 i = 0; i < c.length && seated < 3; ++i) {
            if (!_roundSelected(disputeId, c[i])) continue;
            _sitInRound(disputeId, c[i], keccak256(abi.encode("round 1 vote", c[i])));
            ++seated;
        }
        assertEq(seated, 3, "the vectors select three in round 1");
        vm.warp(block.timestamp + WINDOW + 1);
        drawUntilSeated(disputeId);
        DisputeManager.Member[] memory committee = disputes.committeeOf(disputeId);
        assertEq(committee.length, 3, "seated");
        for (uint256 i = 0; i < committee.length; ++i) {
            assertTrue(committee[i].committed, "every member sat already committed");
            bytes32 vote = keccak256(abi.encode("round 1 vote", uint256(committee[i].nodeId)));
            assertEq(committee[i].commitment, vote, "its vote");
        }
        assertEq(disputes.getDispute(disputeId).drawRound, 2, "seated in round 1");
        assertEq(selection.selectionOf(disputeId).seed, seed1, "the seated round's window stays readable");
    }

    /// Attacker: a node selected in round 0 stays silent there and tries to sit in round 1 with the proof it kept.
    function test_aStaleRoundZeroProofCannotSitInRoundOne() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, true);
        assertTrue(node != 0, "selected in round 0");
        Proof memory stale = _proof(disputeId, node);
        _waitOutRoundZero(disputeId);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        selection.selfSelect(disputeId, node, stale.proof, stale.hints, keccak256("between rounds"));
        _openRoundOne(disputeId, _armRoundOne(disputeId));
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert();
        selection.selfSelect(disputeId, node, stale.proof, stale.hints, keccak256("stale"));
        assertEq(selection.selectionOf(disputeId).nodeIds.length, 0, "nobody seated on a stale proof");
        // Its fresh proof on round 1's seed is what counts (the vectors select it there too).
        assertTrue(_roundSelected(disputeId, node), "selected in round 1");
        _sitInRound(disputeId, node, keccak256("fresh"));
        assertEq(selection.selectionOf(disputeId).nodeIds[0], node, "seated on its round-1 proof");
    }

    /// A node that answered in round 0 answers again in round 1: `answered` is per window.
    function test_aMemberOfAFailedRoundMaySitAgain() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, true);
        _sit(disputeId, node, _proof(disputeId, node), keccak256("round 0"));
        _waitOutRoundZero(disputeId);
        assertTrue(selection.answered(disputeId, node), "answered in round 0");
        _openRoundOne(disputeId, _armRoundOne(disputeId));
        assertTrue(!selection.answered(selection.windowOf(disputeId, 1), node), "not in round 1");
        _sitInRound(disputeId, node, keccak256("round 1"));
        vm.prank(vm.addr(signerKey[node]));
        Proof memory p = _roundProof(disputeId, node);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.AlreadySelected.selector, disputeId, node));
        selection.selfSelect(disputeId, node, p.proof, p.hints, keccak256("twice"));
    }

    /// Attacker: a silent member of round 0 hopes round 1 wipes its slate, and a silent member of round 1 hopes a
    /// reporter can only show round 0's proofs. Each window is reported on its own seed and candidates, once.
    function test_silentMembersAreReportedPerRound() public {
        (uint256 disputeId,) = _openDispute();
        uint256 silent0 = _find(disputeId, true);
        Proof memory p0 = _proof(disputeId, silent0);
        uint64[] memory candidates0 = _candidates(disputeId);
        _waitOutRoundZero(disputeId);
        _openRoundOne(disputeId, _armRoundOne(disputeId));
        uint64[] memory candidates1 = _candidates(disputeId);
        // Round 0's silence is still reportable while round 1 runs, on round 0's seed and candidates.
        uint256 before = nodes.getNode(silent0).collateral;
        selection.reportSilentSelection(disputeId, 0, silent0, candidates0, p0.proof, p0.hints);
        assertEq(nodes.getNode(silent0).collateral, before - before * 500 / 10_000, "round 0's timeout share");
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, silent0));
        selection.reportSilentSelection(disputeId, 0, silent0, candidates0, p0.proof, p0.hints);
        // Round 1 is reported only after its window, and never on a round-0 proof.
        uint256 seatedIn1 = _findInRound(disputeId, true, 0);
        uint256 silent1 = _findInRound(disputeId, true, seatedIn1);
        _sitInRound(disputeId, seatedIn1, keccak256("sits"));
        Proof memory p1 = _roundProof(disputeId, silent1);
        uint64 endsAt = selection.selectionOf(disputeId).endsAt;
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionWindowOpen.selector, disputeId, endsAt));
        selection.reportSilentSelection(disputeId, 1, silent1, candidates1, p1.proof, p1.hints);
        vm.warp(endsAt + 1);
        Proof memory staleOfSilent1 = _proof(disputeId, silent1);
        vm.expectRevert();
        selection.reportSilentSelection(disputeId, 1, silent1, candidates1, staleOfSilent1.proof, staleOfSilent1.hints);
        Proof memory seatedProof = _roundProof(disputeId, seatedIn1);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, seatedIn1));
        selection.reportSilentSelection(disputeId, 1, seatedIn1, candidates1, seatedProof.proof, seatedProof.hints);
        before = nodes.getNode(silent1).collateral;
        selection.reportSilentSelection(disputeId, 1, silent1, candidates1, p1.proof, p1.hints);
        assertEq(nodes.getNode(silent1).collateral, before - before * 500 / 10_000, "round 1's timeout share");
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, silent1));
        selection.reportSilentSelection(disputeId, 1, silent1, candidates1, p1.proof, p1.hints);
        // A round that never opened has nothing to report.
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        selection.reportSilentSelection(disputeId, 2, silent1, candidates1, p1.proof, p1.hints);
    }

    /// Attacker: with every candidate selected in round 1, a sybil arriving first does not keep the seats: the cap
    /// holds per round and keeps the lowest outputs, as in round 0.
    function test_theSeatsCapHoldsInRoundOne() public {
        (uint256 disputeId,) = _openDispute();
        _waitOutRoundZero(disputeId);
        _openRoundOne(disputeId, _armRoundOne(disputeId));
        uint64[] memory c = _candidates(disputeId);
        assertTrue(c.length > 3, "more selected than the cap");
        uint256 highest = c[0];
        for (uint256 i = 1; i < c.length; ++i) {
            if (_roundProof(disputeId, c[i]).beta > _roundProof(disputeId, highest).beta) highest = c[i];
        }
        _sitInRound(disputeId, highest, keccak256("sybil"));
        for (uint256 i = 0; i < c.length; ++i) {
            if (c[i] != highest) _sitInRound(disputeId, c[i], keccak256(abi.encode(c[i])));
        }
        uint64[] memory seated = selection.selectionOf(disputeId).nodeIds;
        assertEq(seated.length, 3, "the cap");
        for (uint256 i = 0; i < seated.length; ++i) {
            assertTrue(seated[i] != highest, "the highest output was displaced");
        }
    }

    /// The manager's later rounds ask the selection: without a selection window nothing in round 1 is drawn early,
    /// and `open` refuses between rounds (no draw armed) and twice in a round.
    function test_roundOneWindowOpensOnlyOnceItsDrawIsArmed() public {
        (uint256 disputeId,) = _openDispute();
        _waitOutRoundZero(disputeId);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotReady.selector, disputeId));
        selection.open(disputeId);
        uint256 armed = _armRoundOne(disputeId);
        vm.roll(armed + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotReady.selector, disputeId));
        selection.open(disputeId);
        _openRoundOne(disputeId, armed);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionAlreadyOpen.selector, disputeId));
        selection.open(disputeId);
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeSelection.SelectionWindowOpen.selector, disputeId, selection.selectionOf(disputeId).endsAt
            )
        );
        disputes.drawCommittee(disputeId);
    }

    /// Nobody sits in round 1 either: its window falls back to the public draw of round 1 (the last), as round 0's
    /// does, and the dispute never locks.
    function test_anEmptyRoundOneWindowFallsBackToItsPublicDraw() public {
        (uint256 disputeId,) = _openDispute();
        _waitOutRoundZero(disputeId);
        _openRoundOne(disputeId, _armRoundOne(disputeId));
        vm.warp(block.timestamp + WINDOW + 1);
        drawUntilSeated(disputeId);
        assertTrue(selection.fellBack(selection.windowOf(disputeId, 1)), "round 1 fell back");
        DisputeManager.Member[] memory committee = disputes.committeeOf(disputeId);
        assertEq(committee.length, 3, "drawn in public");
        for (uint256 i = 0; i < committee.length; ++i) {
            assertTrue(!committee[i].committed, "drawn members commit in the vote");
        }
    }
}

/// @notice VrfKeyTooNew per round: a key registered after round 0 froze its candidates cannot sit in round 0, but
/// sits in round 1 if it predates round 1's freeze; one registered once round 1's draw is armed (its seed about to
/// be public) never sits in round 1.
contract DisputeRoundsLateKeyTest is DisputeRoundSteps {
    function setUp() public {
        setUpSelection();
    }

    function registersKeysAtSetUp() internal pure override returns (bool) {
        return false;
    }

    function test_keysMustPredateEachRoundsFreeze() public {
        (uint256 disputeId, uint256 server, uint256 stackId, Served memory claimed) = _dispute();
        postEvidence(disputeId, stackId, server, claimed);
        uint256 drawBlock0 = disputes.getDispute(disputeId).drawBlock;
        _seedBlock(disputeId);
        uint64[] memory c0 = _candidates(disputeId);
        uint256 early = c0[0];
        uint256 late = c0[1];
        _registerKey(early);
        vm.roll(block.number + 1);
        // No key predates round 0's freeze (the early one came after it): round 0 opens no window at all.
        assertTrue(!vrfKeys.keyUsableAt(early, drawBlock0), "too new for round 0");
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotReady.selector, disputeId));
        selection.open(disputeId);
        _waitOutRoundZero(disputeId);
        uint256 armed = _armRoundOne(disputeId);
        _registerKey(late);
        uint256 lateAt = block.number;
        _openRoundOne(disputeId, armed);
        assertTrue(_roundSelected(disputeId, early) && _roundSelected(disputeId, late), "both selected in round 1");
        assertEq(selection.frozenAt(selection.windowOf(disputeId, 1)), armed, "round 1's own freeze block");
        _sitInRound(disputeId, early, keccak256("round 1"));
        Proof memory q = _roundProof(disputeId, late);
        vm.prank(vm.addr(signerKey[late]));
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.VrfKeyTooNew.selector, late, lateAt, armed));
        selection.selfSelect(disputeId, late, q.proof, q.hints, keccak256("ground"));
        assertEq(selection.selectionOf(disputeId).nodeIds.length, 1, "only the early key sits");
    }
}
