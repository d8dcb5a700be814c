// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {DisputeSelection} from "../src/disputes/DisputeSelection.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {DisputeSelectionSteps} from "./lib/DisputeSelectionSteps.sol";

/// @notice Keyless candidates must not dilute a dispute committee's threshold: only a candidate whose VRF key
/// predates the freeze can ever sit (`VrfKeyTooNew`), so N/n counts those alone and the dispute still expects N
/// self-selected members (the settlement side's usable-key count, `SettlementDraw._open`). A griefer (or simply
/// nodes on older software) listing many keyless candidates would otherwise shrink the private committee to a
/// handful and hand the rest of the seats to the public top-up. With no usable key at all, the draw is public,
/// on a seed armed after the evidence completed.
contract DisputeSelectionKeylessTest is DisputeSelectionSteps {
    /// Which of the non-party nodes register a key before the dispute (bit i: the i-th non-party node).
    uint256 internal keyMask;

    function setUp() public {
        setUpSelection();
    }

    function registersKeysAtSetUp() internal pure override returns (bool) {
        return false;
    }

    /// The keys of the masked non-party nodes, in a block before the one that freezes the candidates.
    function beforeDisputeOpens(uint256 stackId, uint256 server) internal override {
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        uint256 seen;
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            uint256 node = nodeIds[i];
            bool party = node == server;
            for (uint256 j = 0; j < list.length && !party; ++j) {
                party = list[j].nodeId == node;
            }
            if (party) continue;
            if (keyMask & (1 << seen++) != 0) _registerKey(node);
        }
        vm.roll(block.number + 1);
    }

    function _usable(uint256 disputeId) internal view returns (uint256 usable) {
        uint64[] memory c = _candidates(disputeId);
        uint256 frozen = disputes.getDispute(disputeId).drawBlock;
        for (uint256 i = 0; i < c.length; ++i) {
            if (vrfKeys.keyUsableAt(c[i], frozen)) ++usable;
        }
    }

    function test_keylessCandidatesDoNotDiluteTheThreshold() public {
        keyMask = 0x3; // two of the non-party nodes hold keys, the others none
        (uint256 disputeId,) = _openDispute();
        uint256 n = _candidates(disputeId).length;
        assertTrue(n > 2, "keyless candidates are listed");
        assertEq(_usable(disputeId), 2, "two usable keys");
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        // Committee size 3 over 2 usable keys: capped at 1, both keyed candidates are selected.
        assertEq(sel.denominator, 2, "n counts usable keys only");
        assertEq(sel.numerator, 2, "N capped at the usable count");
        assertTrue(_selected(disputeId, _find(disputeId, true)), "a keyed candidate is selected");
    }

    function test_noUsableKeyDrawsInPublicWithoutAWindow() public {
        keyMask = 0;
        (uint256 disputeId, uint256 server, uint256 stackId, Served memory claimed) = _dispute();
        postEvidence(disputeId, stackId, server, claimed);
        _seedBlock(disputeId);
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotReady.selector, disputeId));
        selection.open(disputeId);
        // No window to wait out: the manager's next draw call arms the public draw, the one after draws it.
        disputes.drawCommittee(disputeId);
        assertTrue(selection.fellBack(disputeId), "fell back to the public draw");
        assertEq(selection.selectionOf(disputeId).endsAt, 0, "no window opened");
        _seedBlock(disputeId);
        vm.roll(block.number + 1);
        disputes.drawCommittee(disputeId);
        assertTrue(disputes.getDispute(disputeId).drawn, "drawn in public without a window");
    }

    /// The attacker: the server, which chooses the block its last evidence completes in. The completion arms the
    /// draw (block E); hash(E + 1) is public from E + 2. Were the public draw seeded by it, the server would know that
    /// committee before anyone could draw it, and, if it disliked it, keep the draw from running for 256 blocks to
    /// get a re-arm on a fresh seed: the better of two committees. The draw must instead run on a seed armed by the
    /// draw call after the completion, which nobody knew when the evidence completed.
    function test_noUsableKeyPublicDrawIsSeededAfterTheCompletion() public {
        keyMask = 0;
        (uint256 disputeId, uint256 server, uint256 stackId, Served memory claimed) = _dispute();
        postEvidence(disputeId, stackId, server, claimed);
        uint256 completed = disputes.getDispute(disputeId).drawBlock;
        assertEq(completed, block.number, "the completion armed the draw");
        vm.roll(completed + 1);
        vm.setBlockhash(completed + 1, keccak256("known to the server at E + 2"));
        vm.roll(completed + 2);
        disputes.drawCommittee(disputeId);
        assertTrue(!disputes.getDispute(disputeId).drawn, "not drawn on the completion's seed, public already");
        uint256 armed = disputes.getDispute(disputeId).drawBlock;
        assertGe(armed, completed + 2, "re-armed after the completion's seed was public");
        vm.roll(armed + 1);
        bytes32 fresh = keccak256("unknown when the evidence completed");
        vm.setBlockhash(armed + 1, fresh);
        vm.roll(armed + 2);
        disputes.drawCommittee(disputeId);
        assertTrue(disputes.getDispute(disputeId).drawn, "drawn in public");
        uint256[] memory want =
            disputes.publicDraw().pick(disputeId, uint256(keccak256(abi.encode(fresh, disputeId, address(disputes)))));
        DisputeManager.Member[] memory committee = disputes.committeeOf(disputeId);
        assertEq(committee.length, want.length, "the fresh seed's committee");
        for (uint256 i = 0; i < want.length; ++i) {
            assertEq(committee[i].nodeId, want[i], "the fresh seed's member");
        }
    }

    /// Whatever subset of the candidates holds keys, the threshold is N/usable (capped at 1), or the draw is public.
    function testFuzz_theThresholdCountsOnlyUsableKeys(uint8 mask) public {
        keyMask = mask;
        (uint256 disputeId, uint256 server, uint256 stackId, Served memory claimed) = _dispute();
        postEvidence(disputeId, stackId, server, claimed);
        _seedBlock(disputeId);
        vm.roll(block.number + 1);
        uint256 usable = _usable(disputeId);
        if (usable == 0) {
            disputes.drawCommittee(disputeId);
            assertTrue(selection.fellBack(disputeId), "public draw");
            assertEq(disputes.getDispute(disputeId).drawBlock, block.number, "armed after the evidence");
            return;
        }
        selection.open(disputeId);
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        assertEq(sel.denominator, usable, "n");
        assertEq(sel.numerator, usable < 3 ? usable : 3, "N");
    }
}
