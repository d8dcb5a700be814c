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
import {DisputeSteps} from "./lib/DisputeSteps.sol";

/// @notice Dispute committees selected in private by VRF (issue 16) against nodes that vote without being
/// selected, proofs made for another dispute, double commits, a party seating itself, garbage-proof spam, and a
/// selection with too few members (public fallback); proofs from packages/core/vectors/vrfDispute.json, made by
/// the TypeScript prover on the same seeds (keys from vrfSelection.json).
contract DisputeSelectionTest is DisputeSteps {
    bytes32 internal blockHash;
    string internal keysJson;
    string internal json;
    VrfKeyRegistry internal vrfKeys;
    DisputeSelection internal selection;
    uint256 internal verifiedTask;
    uint64 internal constant WINDOW = 60;

    event SelfSelectionGas(uint256 gas);

    struct Proof {
        bytes proof;
        bytes32 beta;
        EcVrf.Hints hints;
    }

    function setUp() public {
        deployAtoma();
        keysJson = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrfSelection.json"));
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrfDispute.json"));
        blockHash = vm.parseJsonBytes32(json, ".blockHash");
        for (uint256 i = 0; i < 7; ++i) {
            addNode(1);
        }
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        vrfKeys = deployVectorVrfKeys();
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            _registerKey(nodeIds[i]);
        }
        selection = new DisputeSelection(disputes, vrfKeys, WINDOW, 3);
        nextEpoch();
    }

    // ---------------------------------------------------------------- helpers

    function _pair(string memory source, string memory key) internal view returns (uint256[2] memory point) {
        uint256[] memory values = vm.parseJsonUintArray(source, key);
        point = [values[0], values[1]];
    }

    function _read(string memory source, string memory key) internal view returns (Proof memory p) {
        p.proof = vm.parseJsonBytes(source, string.concat(key, ".proof"));
        p.beta = vm.parseJsonBytes32(source, string.concat(key, ".beta"));
        p.hints = EcVrf.Hints({
            u: _pair(source, string.concat(key, ".u")),
            sH: _pair(source, string.concat(key, ".sH")),
            cGamma: _pair(source, string.concat(key, ".cGamma"))
        });
    }

    function _registerKey(uint256 nodeId) internal {
        string memory key = string.concat(".nodes[", vm.toString(nodeId - 1), "]");
        Proof memory p = _read(keysJson, string.concat(key, ".possession"));
        vm.prank(operatorOf[nodeId]);
        vrfKeys.registerVrfKey(nodeId, vm.parseJsonBytes(keysJson, string.concat(key, ".publicKey")), p.proof, p.hints);
    }

    /// Node `nodeId`'s proof on the seed of dispute `disputeId` (as the vectors' armed block gives it).
    function _proof(uint256 disputeId, uint256 nodeId) internal view returns (Proof memory) {
        return
            _read(
                json, string.concat(".disputes[", vm.toString(disputeId - 1), "].proofs[", vm.toString(nodeId - 1), "]")
            );
    }

    /// A settlement dispute (the server settled outputs its attesters did not compute), its draw armed on a block
    /// whose hash is the vectors', and its selection window open.
    function _openDispute() internal returns (uint256 disputeId, uint256 server) {
        uint256 stackId;
        (stackId, server) = buy(verifiedTask, 1_000_000);
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
        vm.setBlockhash(disputes.getDispute(disputeId).drawBlock, blockHash);
        vm.roll(block.number + 1);
        selection.open(disputeId);
    }

    function _candidates(uint256 disputeId) internal view returns (uint64[] memory) {
        return disputes.candidatesOf(disputeId);
    }

    function _selected(uint256 disputeId, uint256 nodeId) internal view returns (bool) {
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        return VrfSortition.isSelected(_proof(disputeId, nodeId).beta, sel.numerator, sel.denominator);
    }

    function _isParty(uint256 disputeId, uint256 nodeId) internal view returns (bool) {
        DisputeManager.Party[] memory parties = disputes.partiesOf(disputeId);
        for (uint256 i = 0; i < parties.length; ++i) {
            if (parties[i].nodeId == nodeId) return true;
        }
        return false;
    }

    function _find(uint256 disputeId, bool wantSelected) internal view returns (uint256) {
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length; ++i) {
            if (_selected(disputeId, c[i]) == wantSelected) return c[i];
        }
        return 0;
    }

    function _sit(uint256 disputeId, uint256 nodeId, Proof memory p, bytes32 commitment) internal {
        vm.prank(vm.addr(signerKey[nodeId]));
        selection.selfSelect(disputeId, nodeId, p.proof, p.hints, commitment);
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
        uint256 seated;
        for (uint256 i = 0; i < c.length; ++i) {
            if (!_selected(disputeId, c[i])) continue;
            if (seated == selection.cap()) {
                Proof memory p = _proof(disputeId, c[i]);
                vm.prank(vm.addr(signerKey[c[i]]));
                vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionFull.selector, disputeId));
                selection.selfSelect(disputeId, c[i], p.proof, p.hints, keccak256("late"));
                return;
            }
            _sit(disputeId, c[i], _proof(disputeId, c[i]), keccak256("vote"));
            ++seated;
        }
        assertGe(seated, 1, "an honest member sat despite the spam");
    }

    /// With a cap of 1, the second selected member is refused: the majority rule never runs over more than `cap`.
    function test_theCapBoundsTheCommittee() public {
        (uint256 disputeId,) = _openDispute();
        DisputeSelection small = new DisputeSelection(disputes, vrfKeys, WINDOW, 1);
        small.open(disputeId);
        uint64[] memory c = _candidates(disputeId);
        uint256 seated;
        for (uint256 i = 0; i < c.length; ++i) {
            if (!_selected(disputeId, c[i])) continue;
            Proof memory p = _proof(disputeId, c[i]);
            vm.prank(vm.addr(signerKey[c[i]]));
            if (seated == 1) {
                vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionFull.selector, disputeId));
            }
            small.selfSelect(disputeId, c[i], p.proof, p.hints, keccak256("vote"));
            if (++seated == 2) break;
        }
        assertEq(seated, 2, "two selected on dispute 1");
        assertEq(small.selectionOf(disputeId).nodeIds.length, 1, "capped");
        (bool final_,,,) = small.committeeOf(disputeId);
        assertTrue(final_, "a full window is final at once");
    }

    function test_tooFewMembersFallBackToThePublicDrawAfterTheWindow() public {
        (uint256 disputeId,) = _openDispute();
        uint256 node = _find(disputeId, true);
        _sit(disputeId, node, _proof(disputeId, node), keccak256("vote"));
        vm.warp(block.timestamp + WINDOW + 1);
        (bool final_, bool formed, uint64[] memory members,) = selection.committeeOf(disputeId);
        assertTrue(final_, "final");
        assertTrue(!formed, "one member is below minCommittee");
        assertEq(members.length, 1, "one member");
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        _sit(disputeId, node, _proof(disputeId, node), keccak256("late"));
        // The fallback: DisputeManager's public draw, armed on a block after the window.
        vm.roll(block.number + 300);
        draw(disputeId);
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
        assertLe(used, 200_000, "selfSelect gas");
    }
}
