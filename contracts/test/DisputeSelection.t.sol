// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {DisputeSelection} from "../src/disputes/DisputeSelection.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {EcVrf} from "../src/vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../src/vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../src/vrf/VrfSortition.sol";
import {DisputeSelectionSteps} from "./lib/DisputeSelectionSteps.sol";

/// @notice Dispute committees selected in private by VRF (issue 16) against nodes that vote without being
/// selected, proofs made for another dispute, double commits, a party seating itself, garbage-proof spam, and a
/// selection with too few members (public fallback); proofs from packages/core/vectors/vrfDispute.json, made by
/// the TypeScript prover on the same seeds (keys from vrfSelection.json).
contract DisputeSelectionTest is DisputeSelectionSteps {
    function setUp() public {
        setUpSelection();
    }

    // ---------------------------------------------------------------- tests

    function test_theSeedAndThresholdAreTheSharedVectors() public {
        (uint256 disputeId,) = _openDispute();
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        assertEq(sel.seed, vm.parseJsonBytes32(json, ".disputes[0].seed"), "seed");
        assertEq(selection.seedOf(disputeId, blockHash), sel.seed, "seedOf");
        assertEq(sel.numerator, 3, "N");
        assertEq(sel.denominator, _candidates(disputeId).length, "n");
        for (uint256 i = 0; i < 3; ++i) {
            string memory t = string.concat(".thresholds[", vm.toString(i), "]");
            uint256 size = vm.parseJsonUint(json, string.concat(t, ".committeeSize"));
            uint256 n = vm.parseJsonUint(json, string.concat(t, ".candidateCount"));
            if (size != 3) continue;
            (uint256 num, uint256 den) = selection.threshold(n);
            assertEq(num, vm.parseJsonUint(json, string.concat(t, ".numerator")), "numerator");
            assertEq(den, vm.parseJsonUint(json, string.concat(t, ".denominator")), "denominator");
        }
    }

    function test_selectedMembersSitWithTheirCommitmentAndPartiesAreNotCandidates() public {
        (uint256 disputeId, uint256 server) = _openDispute();
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length; ++i) {
            assertTrue(!_isParty(disputeId, c[i]), "party among candidates");
        }
        uint256 seated;
        for (uint256 i = 0; i < c.length && seated < 3; ++i) {
            if (!_selected(disputeId, c[i])) continue;
            _sit(disputeId, c[i], _proof(disputeId, c[i]), keccak256(abi.encode("vote", c[i])));
            ++seated;
        }
        (bool final_, bool formed, uint64[] memory members, bytes32[] memory commitments) =
            selection.committeeOf(disputeId);
        assertEq(members.length, seated, "members");
        assertEq(commitments.length, seated, "commitments");
        if (seated < 3) assertTrue(!final_, "window still open");
        vm.warp(block.timestamp + WINDOW + 1);
        (final_, formed,,) = selection.committeeOf(disputeId);
        assertTrue(final_, "final");
        assertTrue(formed == (seated >= 3), "formed iff minCommittee sat");
        assertTrue(server != 0, "server");
    }

    function test_aNodeThatWasNotSelectedCannotSit() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, false);
        assertTrue(node != 0, "the vectors hold an unselected candidate on dispute 1");
        Proof memory p = _proof(disputeId, node);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NotSelected.selector, node, p.beta));
        selection.selfSelect(disputeId, node, p.proof, p.hints, keccak256("c"));
    }

    function test_aProofForAnotherDisputeIsRefused() public {
        (uint256 disputeId,) = _openDispute();
        uint64[] memory c = _candidates(disputeId);
        Proof memory other = _proof(2, c[0]);
        vm.prank(vm.addr(signerKey[c[0]]));
        // Its hints are products on dispute 2's point H, so they mismatch here (VrfHintMismatch); true products for
        // this seed would fail the challenge instead (disputeSelection.test.ts checks that in TypeScript).
        vm.expectRevert();
        selection.selfSelect(disputeId, c[0], other.proof, other.hints, keccak256("c"));
        assertEq(selection.selectionOf(disputeId).nodeIds.length, 0, "nobody seated");
    }

    function test_anotherNodesProofIsRefused() public {
        (uint256 disputeId,) = _openDispute();
        uint64[] memory c = _candidates(disputeId);
        uint256 selected = _find(disputeId, true);
        uint256 thief = c[0] == selected ? c[1] : c[0];
        Proof memory stolen = _proof(disputeId, selected);
        vm.prank(vm.addr(signerKey[thief]));
        vm.expectRevert();
        selection.selfSelect(disputeId, thief, stolen.proof, stolen.hints, keccak256("c"));
        assertEq(selection.selectionOf(disputeId).nodeIds.length, 0, "nobody seated");
        vm.prank(vm.addr(signerKey[thief]));
        vm.expectRevert(
            abi.encodeWithSelector(DisputeSelection.NotNodeActor.selector, selected, vm.addr(signerKey[thief]))
        );
        selection.selfSelect(disputeId, selected, stolen.proof, stolen.hints, keccak256("c"));
    }

    function test_committingTwiceIsRefused() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, true);
        Proof memory p = _proof(disputeId, node);
        _sit(disputeId, node, p, keccak256("first"));
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.AlreadySelected.selector, disputeId, node));
        selection.selfSelect(disputeId, node, p.proof, p.hints, keccak256("second"));
    }

    function test_aPartyCannotSeatItselfEvenWithAValidProof() public {
        (uint256 disputeId,) = _openDispute();
        DisputeManager.Party[] memory parties = disputes.partiesOf(disputeId);
        for (uint256 i = 0; i < parties.length; ++i) {
            uint256 party = parties[i].nodeId;
            Proof memory p = _proof(disputeId, party);
            vm.prank(vm.addr(signerKey[party]));
            vm.expectRevert(abi.encodeWithSelector(DisputeSelection.PartyCannotSit.selector, disputeId, party));
            selection.selfSelect(disputeId, party, p.proof, p.hints, keccak256("c"));
        }
    }

    function testFuzz_garbageProofsNeverSeatAnybody(bytes32 a, bytes32 b, bytes16 c, uint256 h, uint8 who) public {
        (uint256 disputeId,) = _openDispute();
        uint64[] memory cand = _candidates(disputeId);
        uint256 node = cand[who % cand.length];
        bytes memory proof = abi.encodePacked(bytes1(0x02), a, c, b);
        EcVrf.Hints memory hints = EcVrf.Hints({u: [h, h ^ 1], sH: [h ^ 2, h ^ 3], cGamma: [h ^ 4, h ^ 5]});
        vm.prank(vm.addr(signerKey[node]));
        try selection.selfSelect(disputeId, node, proof, hints, keccak256("spam")) {
            fail("a garbage proof took a seat");
        } catch {}
        assertEq(selection.selectionOf(disputeId).nodeIds.length, 0, "no seat");
    }

    function test_spamDoesNotBlockAnHonestMemberAndTheCapHolds() public {
        (uint256 disputeId,) = _openDispute();
        uint64[] memory c = _candidates(disputeId);
        Proof memory junk = _proof(disputeId, c[0]);
        junk.proof[40] ^= 0x01;
        for (uint256 i = 0; i < c.length; ++i) {
            vm.prank(vm.addr(signerKey[c[i]]));
            try selection.selfSelect(disputeId, c[i], junk.proof, junk.hints, keccak256("spam")) {
                fail("tampered proof accepted");
            } catch {}
        }
        uint256 selected;
        for (uint256 i = 0; i < c.length; ++i) {
            if (!_selected(disputeId, c[i])) continue;
            _sit(disputeId, c[i], _proof(disputeId, c[i]), keccak256("vote"));
            ++selected;
        }
        assertGe(selected, 1, "an honest member sat despite the spam");
        uint256 cap = selection.cap();
        assertEq(selection.selectionOf(disputeId).nodeIds.length, selected < cap ? selected : cap, "the cap holds");
    }

    /// Sybils with nothing to recompute sit first; with a cap of 1 they used to fill the committee and close the
    /// window before an honest member, still recomputing, could sit. Now the cap keeps the lowest VRF outputs
    /// whatever the order of arrival, and the window ends at `endsAt` only.
    function test_sybilsArrivingFirstDoNotKeepOutALowerOutput() public {
        (uint256 disputeId,) = _openDispute();
        DisputeSelection small = new DisputeSelection(disputes, vrfKeys, WINDOW, 1);
        small.open(disputeId);
        (uint256 low, uint256 high) = _twoSelected(disputeId);
        Proof memory sybil = _proof(disputeId, high);
        vm.prank(vm.addr(signerKey[high]));
        small.selfSelect(disputeId, high, sybil.proof, sybil.hints, keccak256("sybil"));
        (bool final_,,,) = small.committeeOf(disputeId);
        assertTrue(!final_, "a full cap does not end the window");
        vm.warp(block.timestamp + WINDOW / 2);
        Proof memory honest = _proof(disputeId, low);
        vm.prank(vm.addr(signerKey[low]));
        vm.expectEmit(address(small));
        emit DisputeSelection.MemberUnseated(disputeId, 0, high);
        small.selfSelect(disputeId, low, honest.proof, honest.hints, keccak256("honest"));
        vm.prank(vm.addr(signerKey[high]));
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.AlreadySelected.selector, disputeId, high));
        small.selfSelect(disputeId, high, sybil.proof, sybil.hints, keccak256("again"));
        vm.warp(block.timestamp + WINDOW);
        (bool closed,, uint64[] memory members, bytes32[] memory commitments) = small.committeeOf(disputeId);
        assertTrue(closed, "final after endsAt");
        assertEq(members.length, 1, "capped");
        assertEq(members[0], low, "the lower output sits");
        assertEq(commitments[0], keccak256("honest"), "with its own commitment");
    }

    /// A higher output arriving at a full cap does not sit (and displaces nobody).
    function test_aHigherOutputAtAFullCapDoesNotSit() public {
        (uint256 disputeId,) = _openDispute();
        DisputeSelection small = new DisputeSelection(disputes, vrfKeys, WINDOW, 1);
        small.open(disputeId);
        (uint256 low, uint256 high) = _twoSelected(disputeId);
        Proof memory p = _proof(disputeId, low);
        vm.prank(vm.addr(signerKey[low]));
        small.selfSelect(disputeId, low, p.proof, p.hints, keccak256("honest"));
        p = _proof(disputeId, high);
        vm.prank(vm.addr(signerKey[high]));
        vm.expectEmit(address(small));
        emit DisputeSelection.MemberUnseated(disputeId, 0, high);
        small.selfSelect(disputeId, high, p.proof, p.hints, keccak256("late"));
        assertEq(small.selectionOf(disputeId).nodeIds.length, 1, "capped");
        assertEq(small.selectionOf(disputeId).nodeIds[0], low, "the lower output stays");
    }

    function test_tooFewMembersAreToppedUpInPublicAfterTheWindow() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, true);
        _sit(disputeId, node, _proof(disputeId, node), keccak256("vote"));
        vm.warp(block.timestamp + WINDOW + 1);
        (bool final_, bool formed, uint64[] memory members,) = selection.committeeOf(disputeId);
        assertTrue(final_, "final");
        assertTrue(!formed, "one member is below N");
        assertEq(members.length, 1, "one member");
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        _sit(disputeId, node, _proof(disputeId, node), keccak256("late"));
        // A public top-up to N, armed on a block after the window.
        vm.roll(block.number + 1);
        drawUntilSeated(disputeId);
        assertTrue(disputes.getDispute(disputeId).drawn, "publicly drawn");
        assertGe(disputes.committeeOf(disputeId).length, 3, "a public committee");
    }

    function test_theWindowCannotOpenBeforeTheSeedBlockNorTwice() public {
        (uint256 disputeId,) = _openDispute();
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionAlreadyOpen.selector, disputeId));
        selection.open(disputeId);
    }

    function test_gasOfAMemberSelfSelection() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, true);
        Proof memory p = _proof(disputeId, node);
        vm.prank(vm.addr(signerKey[node]));
        uint256 before = gasleft();
        selection.selfSelect(disputeId, node, p.proof, p.hints, keccak256("c"));
        uint256 used = before - gasleft();
        emit SelfSelectionGas(used);
        assertLe(used, 230_000, "selfSelect gas"); // 207,239: the key's age, the answered flag and the β the cap compares
    }
}

/// @notice Keys ground once the seed is public: every node but one registers its VRF key only after the dispute's
/// draw block (so after its candidates were frozen), as a cheater would once the seed block is mined; none of them
/// may sit (the one key in time opens the window: without any, the draw would be public).
contract DisputeSelectionLateKeyTest is DisputeSelectionSteps {
    uint256 internal onTime;

    function setUp() public {
        setUpSelection();
    }

    function registersKeysAtSetUp() internal pure override returns (bool) {
        return false;
    }

    /// One non-party node registers its key in a block before the freeze.
    function beforeDisputeOpens(uint256 stackId, uint256 server) internal override {
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        for (uint256 i = 0; i < nodeIds.length && onTime == 0; ++i) {
            bool party = nodeIds[i] == server;
            for (uint256 j = 0; j < list.length && !party; ++j) {
                party = list[j].nodeId == nodeIds[i];
            }
            if (!party) onTime = nodeIds[i];
        }
        _registerKey(onTime);
        vm.roll(block.number + 1);
    }

    function test_aKeyRegisteredAfterTheDrawBlockCannotSit() public {
        (uint256 disputeId, uint256 server, uint256 stackId, Served memory claimed) = _dispute();
        postEvidence(disputeId, stackId, server, claimed);
        uint256 drawBlock = disputes.getDispute(disputeId).drawBlock;
        _seedBlock(disputeId);
        uint64[] memory c = _candidates(disputeId);
        uint256 node;
        for (uint256 i = 0; i < c.length; ++i) {
            if (c[i] == onTime) continue;
            _registerKey(c[i]);
            node = c[i];
        }
        vm.roll(block.number + 1);
        selection.open(disputeId);
        // One usable key: the threshold is N/1, capped at 1, so every late candidate's output is under it too.
        assertEq(selection.selectionOf(disputeId).denominator, 1, "only the key in time counts");
        assertTrue(node != 0 && _selected(disputeId, node), "a selected late candidate");
        Proof memory p = _proof(disputeId, node);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.VrfKeyTooNew.selector, node, drawBlock + 1, drawBlock));
        selection.selfSelect(disputeId, node, p.proof, p.hints, keccak256("ground"));
    }
}

/// @notice A member displaced from the cap can still be drawn by the public top-up, and then sits uncommitted.
contract DisplacedMemberTest is DisputeSelectionSteps {
    function setUp() public {
        setUpSelection();
    }

    function selectionCap() internal pure override returns (uint8) {
        return 1;
    }

    /// The higher-β member sits first and is displaced by the lower one (answered, never reportable as silent);
    /// the lone member is topped up in public, which draws the displaced node like any other candidate: it sits
    /// without the vote it sealed in its selection, to commit in the vote (a consensus node puts its row back to pending).
    function test_aDisplacedMemberDrawnByTheTopUpSitsUncommitted() public {
        (uint256 disputeId,) = _openDispute();
        (uint256 low, uint256 high) = _twoSelected(disputeId);
        _sit(disputeId, high, _proof(disputeId, high), keccak256("high"));
        vm.expectEmit(address(selection));
        emit DisputeSelection.MemberUnseated(disputeId, 0, high);
        _sit(disputeId, low, _proof(disputeId, low), keccak256("low"));
        vm.warp(block.timestamp + WINDOW + 1);
        Proof memory p = _proof(disputeId, high);
        uint64[] memory candidates = _candidates(disputeId);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, high));
        selection.reportSilentSelection(disputeId, 0, high, candidates, p.proof, p.hints);
        vm.roll(block.number + 1);
        disputes.drawCommittee(disputeId);
        assertTrue(selection.toppingUp(disputeId), "a lone member is topped up");
        uint256 armed = disputes.getDispute(disputeId).drawBlock;
        // The top-up's seed is the next block's hash: try seeds until one draws the displaced node.
        for (uint256 k = 0; k < 32; ++k) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + 2);
            vm.setBlockhash(armed + 1, keccak256(abi.encode("top-up seed", k)));
            disputes.drawCommittee(disputeId);
            DisputeManager.Member[] memory committee = disputes.committeeOf(disputeId);
            int256 at = -1;
            for (uint256 i = 0; i < committee.length; ++i) {
                if (committee[i].nodeId == low) assertTrue(committee[i].committed, "the self-selected sat committed");
                if (committee[i].nodeId == high) at = int256(i);
            }
            if (at >= 0) {
                assertGe(committee.length, 3, "topped up in public");
                assertTrue(!committee[uint256(at)].committed, "the displaced member commits in the vote");
                return;
            }
            vm.revertToState(snapshot);
        }
        fail("no top-up seed drew the displaced member");
    }
}
