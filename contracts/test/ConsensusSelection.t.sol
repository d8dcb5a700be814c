// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {DisputeSelection} from "../src/disputes/DisputeSelection.sol";
import {DisputeSelectionSteps} from "./lib/DisputeSelectionSteps.sol";

/// @notice A consensus request's dispute self-selects its committee by VRF like a settlement dispute (issue 16):
/// attackers try learning who sits before the votes are sealed, a party with a valid proof, a selected member
/// that stays silent, a griefer timing the public top-up, and a key registered once the seed is known.
abstract contract ConsensusSelectionSteps is DisputeSelectionSteps {
    /// A consensus dispute between the first two nodes (dispute 1, so the vectors' proofs hold), its seed block
    /// mined with the vectors' hash.
    function _consensusDispute() internal returns (uint256 disputeId) {
        disputeId = _consensusDisputeInThisBlock();
        _seedBlock(disputeId);
    }

    /// As `_consensusDispute`, still in its freeze block (drawBlock): its seed block not mined yet.
    function _consensusDisputeInThisBlock() internal returns (uint256 disputeId) {
        uint256[] memory parties = new uint256[](2);
        parties[0] = nodeIds[0];
        parties[1] = nodeIds[1];
        bytes32[] memory roots = new bytes32[](2);
        roots[0] = "a";
        roots[1] = "b";
        vm.roll(block.number + 1); // keys registered at set-up predate the dispute's freeze block
        vm.prank(address(disputes.consensus()));
        disputeId = disputes.openConsensusDispute(7, verifiedTask, 1, user, parties, roots);
    }

    /// As `_consensusDispute`, its window opened by the first `drawCommittee` (as a party's node moves it on).
    function _openConsensusDispute() internal returns (uint256 disputeId) {
        disputeId = _consensusDispute();
        vm.roll(block.number + 1);
        disputes.drawCommittee(disputeId);
    }
}

contract ConsensusSelectionTest is ConsensusSelectionSteps {
    function setUp() public {
        setUpSelection();
    }

    /// Was: a consensus dispute was drawn in public the moment its seed block was mined, so the disputing seats knew
    /// whom to bribe. Now its first draw only opens a window; until the window ends the chain names no member,
    /// and every seat arrives with its sealed vote.
    function test_aConsensusDisputeSelfSelectsAndNamesNobodyBeforeTheVotesAreSealed() public {
        uint256 disputeId = _consensusDispute();
        uint256 early = _candidates(disputeId)[0];
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        _sit(disputeId, early, _proof(disputeId, early), keccak256("before the seed"));
        vm.roll(block.number + 1);
        disputes.drawCommittee(disputeId);
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        assertEq(sel.seed, selection.seedOf(disputeId, blockHash), "the window opened on the seed block's hash");
        assertEq(sel.nodeIds.length, 0, "nobody seated by the opening");
        assertEq(disputes.committeeOf(disputeId).length, 0, "no committee while the window is open");
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionWindowOpen.selector, disputeId, sel.endsAt));
        disputes.drawCommittee(disputeId);
        // A disputing seat holding a valid proof on the seed cannot sit on its own dispute.
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.PartyCannotSit.selector, disputeId, nodeIds[0]));
        _sit(disputeId, nodeIds[0], _proof(disputeId, nodeIds[0]), keccak256("party"));
        uint256[] memory selected = _selectedCandidates(disputeId);
        assertGe(selected.length, 1, "someone is selected");
        uint256 sat = selected.length < selection.cap() ? selected.length : selection.cap();
        for (uint256 i = 0; i < sat; ++i) {
            _sit(disputeId, selected[i], _proof(disputeId, selected[i]), keccak256(abi.encode("vote", i)));
        }
        assertEq(disputes.committeeOf(disputeId).length, 0, "still nobody named to the manager");
        vm.warp(block.timestamp + WINDOW + 1);
        drawUntilSeated(disputeId);
        DisputeManager.Member[] memory committee = disputes.committeeOf(disputeId);
        assertEq(committee.length % 2, 1, "an odd committee");
        assertGe(committee.length, 3, "N or more");
        uint256 committed;
        for (uint256 i = 0; i < committee.length; ++i) {
            assertTrue(!_isParty(disputeId, committee[i].nodeId), "no party sits");
            if (committee[i].committed) ++committed;
        }
        assertEq(committed, sat, "the self-selected sit committed, the top-ups commit in the vote");
    }

    /// A selected member of a consensus dispute whose proof became public (a reverted or late tx) and that never sat
    /// is slashed on it. A member that stays silent without ever sending its proof cannot be reported: only the
    /// node can make the proof (docs/vrf.md).
    function test_aSilentSelectedConsensusMemberIsSlashed() public {
        uint256 disputeId = _openConsensusDispute();
        uint256 silent = _find(disputeId, true);
        uint256 before = nodes.getNode(silent).collateral;
        vm.warp(block.timestamp + WINDOW + 1);
        Proof memory p = _proof(disputeId, silent);
        uint64[] memory candidates = _candidates(disputeId);
        selection.reportSilentSelection(disputeId, 0, silent, candidates, p.proof, p.hints);
        assertEq(nodes.getNode(silent).collateral, before - before * 500 / 10_000, "the timeout share");
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.NotSilent.selector, disputeId, silent));
        selection.reportSilentSelection(disputeId, 0, silent, candidates, p.proof, p.hints);
    }

    /// Attacker: a griefer (a party wanting another committee) races the public top-up: drawing in the block after
    /// the arming one is refused, and whenever the draw then runs, within the horizon or after a `pokeSeed`, it
    /// seats the same members.
    function testFuzz_aGrieferTimingTheTopUpGetsTheSameCommittee(uint16 delay) public {
        uint256 disputeId = _openConsensusDispute();
        uint256 member = _find(disputeId, true);
        _sit(disputeId, member, _proof(disputeId, member), keccak256("lone"));
        vm.warp(block.timestamp + WINDOW + 1);
        vm.roll(block.number + 1);
        disputes.drawCommittee(disputeId);
        assertTrue(selection.toppingUp(disputeId), "a lone member is topped up");
        uint256 armed = disputes.getDispute(disputeId).drawBlock;
        vm.roll(armed + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.DrawNotReady.selector, disputeId, armed));
        disputes.drawCommittee(disputeId);
        vm.roll(armed + 2);
        uint256 snapshot = vm.snapshotState();
        disputes.drawCommittee(disputeId);
        uint256[] memory prompt = committeeIds(disputeId);
        vm.revertToState(snapshot);
        selection.pokeSeed(disputeId);
        vm.roll(armed + 2 + uint256(delay));
        disputes.drawCommittee(disputeId);
        uint256[] memory late = committeeIds(disputeId);
        assertEq(keccak256(abi.encode(late)), keccak256(abi.encode(prompt)), "the same committee whenever drawn");
        assertEq(late[0], member, "the self-selected member keeps its seat");
    }
}

/// @notice Keys registered once a consensus dispute's seed is known never sit on it: with no key older than the
/// freeze, no window even opens (the draw is public).
contract ConsensusSelectionLateKeyTest is ConsensusSelectionSteps {
    function setUp() public {
        setUpSelection();
    }

    function registersKeysAtSetUp() internal pure override returns (bool) {
        return false;
    }

    /// Attacker: a node registers its key after the dispute froze its candidates (it could have ground the key
    /// against the seed block) and tries to sit with it.
    function test_aStaleOrLateKeyCannotSitOnAConsensusDispute() public {
        uint256 disputeId = _consensusDispute();
        uint256 drawBlock = disputes.getDispute(disputeId).drawBlock;
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length; ++i) {
            _registerKey(c[i]);
        }
        vm.roll(block.number + 1);
        assertTrue(!vrfKeys.keyUsableAt(c[0], drawBlock), "registered after the freeze: too new");
        _noWindowForLateKeys(disputeId, c[0], keccak256("ground"));
    }

    /// Attacker: a node registers its key in the very block that froze the candidates (the same block as the
    /// dispute's creation, before the seed block is mined) and tries to sit: the key must predate the freeze.
    function test_aKeyRegisteredInTheFreezeBlockCannotSit() public {
        uint256 disputeId = _consensusDisputeInThisBlock();
        uint256 drawBlock = disputes.getDispute(disputeId).drawBlock;
        assertEq(block.number, drawBlock, "still the freeze block");
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length; ++i) {
            _registerKey(c[i]);
        }
        _seedBlock(disputeId);
        vm.roll(block.number + 1);
        assertTrue(!vrfKeys.keyUsableAt(c[0], drawBlock), "registered in the freeze block: too new");
        _noWindowForLateKeys(disputeId, c[0], keccak256("same block"));
    }

    /// Every candidate's key is too new, so nobody could sit (`VrfKeyTooNew`): no window opens, the manager's draw
    /// is public at once, and a late key's proof finds no window to sit in.
    function _noWindowForLateKeys(uint256 disputeId, uint256 node, bytes32 commitment) internal {
        disputes.drawCommittee(disputeId);
        assertTrue(selection.fellBack(disputeId), "drawn in public");
        assertEq(selection.selectionOf(disputeId).endsAt, 0, "no window opened");
        Proof memory p = _proof(disputeId, node);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(DisputeSelection.SelectionNotOpen.selector, disputeId));
        selection.selfSelect(disputeId, node, p.proof, p.hints, commitment);
    }
}
