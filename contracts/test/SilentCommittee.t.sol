// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeSelection} from "../src/disputes/DisputeSelection.sol";
import {DisputeSelectionSteps} from "./lib/DisputeSelectionSteps.sol";

/// @notice Silent selected committee members (issue 16): a candidate whose VRF selected it into a dispute committee
/// and that never sat is slashed the timeout share on its proof, as a silent selected attester is; nobody can frame
/// one that sat in time, one kept out by a full cap of lower outputs, or one that was not selected.
contract SilentCommitteeTest is DisputeSelectionSteps {
    function setUp() public {
        setUpSelection();
    }

    function _report(DisputeSelection sel, uint256 disputeId, uint256 nodeId) internal {
        _reportAs(sel, disputeId, nodeId, address(this), "");
    }

    /// Reports node `nodeId` as `reporter`, expecting the revert `expected` unless it is empty.
    function _reportAs(DisputeSelection sel, uint256 disputeId, uint256 nodeId, address reporter, bytes memory expected)
        internal
    {
        Proof memory p = _proof(disputeId, nodeId);
        uint64[] memory candidates = _candidates(disputeId);
        if (expected.length != 0) vm.expectRevert(expected);
        vm.prank(reporter);
        sel.reportSilentSelection(disputeId, 0, nodeId, candidates, p.proof, p.hints);
    }

    function _collateral(uint256 nodeId) internal view returns (uint256) {
        return nodes.getNode(nodeId).collateral;
    }

    /// Attacker: a selected member stays silent, hoping its seat just goes to the public top-up at no cost.
    function test_aSilentSelectedMemberIsSlashedOnce() public {
        (uint256 disputeId,) = _openDispute();
        uint256 silent = _find(disputeId, true);
        uint256 before = _collateral(silent);
        _reportAs(
            selection,
            disputeId,
            silent,
            address(this),
            abi.encodeWithSelector(
                DisputeSelection.SelectionWindowOpen.selector, disputeId, selection.selectionOf(disputeId).endsAt
            )
        );
        vm.warp(block.timestamp + WINDOW + 1);
        address reporter = vm.addr(0xBEEF);
        Proof memory p = _proof(disputeId, silent);
        uint64[] memory candidates = _candidates(disputeId);
        vm.expectEmit(address(selection));
        emit DisputeSelection.SilentMemberSlashed(disputeId, 0, silent, reporter, before * 500 / 10_000);
        vm.prank(reporter);
        selection.reportSilentSelection(disputeId, 0, silent, candidates, p.proof, p.hints);
        assertEq(_collateral(silent), before - before * 500 / 10_000, "the timeout share");
        _reportAs(
            selection,
            disputeId,
            silent,
            address(this),
            abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, silent)
        );
    }

    /// Framing: a member that sat (committed) in time cannot be reported.
    function test_aMemberThatSatIsNotSlashable() public {
        (uint256 disputeId,) = _openDispute();
        uint256 member = _find(disputeId, true);
        _sit(disputeId, member, _proof(disputeId, member), keccak256("vote"));
        vm.warp(block.timestamp + WINDOW + 1);
        uint256 before = _collateral(member);
        _reportAs(
            selection,
            disputeId,
            member,
            address(this),
            abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, member)
        );
        assertEq(_collateral(member), before, "untouched");
    }

    /// Framing: a selected node that saw the cap full of lower outputs and stayed out would not have sat; a lower
    /// output that stayed silent at the same full cap would have displaced the seat, and is slashed.
    function test_aFullCapOfLowerOutputsExcusesOnlyAHigherOutput() public {
        (uint256 disputeId,) = _openDispute();
        DisputeSelection small = new DisputeSelection(disputes, vrfKeys, WINDOW, 1);
        bytes32 protocol = nodes.PROTOCOL_ROLE();
        vm.prank(admin);
        nodes.grantRole(protocol, address(small));
        small.open(disputeId);
        (uint256 low, uint256 high) = _twoSelected(disputeId);
        uint256 snapshot = vm.snapshotState();
        Proof memory p = _proof(disputeId, low);
        vm.prank(vm.addr(signerKey[low]));
        small.selfSelect(disputeId, low, p.proof, p.hints, keccak256("honest"));
        vm.warp(block.timestamp + WINDOW + 1);
        _reportAs(
            small,
            disputeId,
            high,
            address(this),
            abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, high)
        );
        vm.revertToState(snapshot);
        p = _proof(disputeId, high);
        vm.prank(vm.addr(signerKey[high]));
        small.selfSelect(disputeId, high, p.proof, p.hints, keccak256("sybil"));
        vm.warp(block.timestamp + WINDOW + 1);
        uint256 before = _collateral(low);
        _report(small, disputeId, low);
        assertTrue(_collateral(low) < before, "the lower output would have sat: slashed");
    }

    /// Framing: an unselected candidate's valid proof (its output above the threshold) slashes nothing, and a
    /// candidate list other than the frozen one is refused.
    function test_anUnselectedNodeOrAnotherListCannotBeReported() public {
        (uint256 disputeId,) = _openDispute();
        uint256 idle = _find(disputeId, false);
        vm.warp(block.timestamp + WINDOW + 1);
        if (idle != 0) {
            Proof memory p = _proof(disputeId, idle);
            uint64[] memory candidates = _candidates(disputeId);
            vm.expectRevert();
            selection.reportSilentSelection(disputeId, 0, idle, candidates, p.proof, p.hints);
        }
        uint256 silent = _find(disputeId, true);
        uint64[] memory other = new uint64[](1);
        other[0] = uint64(silent);
        Proof memory q = _proof(disputeId, silent);
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        selection.reportSilentSelection(disputeId, 0, silent, other, q.proof, q.hints);
    }

    /// Whoever sits and whoever stays silent, a report slashes exactly the selected candidates that stayed silent
    /// and would have sat (cap 3: the cap holds the lowest outputs).
    function testFuzz_onlyTheSilentThatWouldHaveSatAreSlashed(uint8 mask) public {
        (uint256 disputeId,) = _openDispute();
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length; ++i) {
            if (_selected(disputeId, c[i]) && (mask >> i) & 1 == 1) {
                _sit(disputeId, c[i], _proof(disputeId, c[i]), keccak256(abi.encode("vote", c[i])));
            }
        }
        vm.warp(block.timestamp + WINDOW + 1);
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        bytes32 highest;
        for (uint256 i = 0; i < sel.nodeIds.length; ++i) {
            bytes32 b = _proof(disputeId, sel.nodeIds[i]).beta;
            if (b > highest) highest = b;
        }
        bool full = sel.nodeIds.length >= selection.cap();
        for (uint256 i = 0; i < c.length; ++i) {
            if (!_selected(disputeId, c[i])) continue;
            bool sat = (mask >> i) & 1 == 1;
            bool wouldHaveSat = !full || _proof(disputeId, c[i]).beta < highest;
            uint256 before = _collateral(c[i]);
            Proof memory p = _proof(disputeId, c[i]);
            if (sat || !wouldHaveSat) {
                vm.expectRevert(abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, c[i]));
            }
            selection.reportSilentSelection(disputeId, 0, c[i], c, p.proof, p.hints);
            assertTrue(
                (_collateral(c[i]) < before) == (!sat && wouldHaveSat), "slashed iff silent and it would have sat"
            );
        }
    }
}
