// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IndexChallengeFixture} from "./lib/IndexChallengeFixture.sol";

/// @notice Review rev4 R4-6: an index answer reveals the leaf before the answered one, which the owner compares with
/// its receipt for that index. A node that rewrote that leaf answered after `windowEnds`, when no challenge could
/// open any more, and the settlement was accepted again and finalizable at once: the rewritten leaf was never
/// checked. Now a revealed leaf can be challenged (by its receipt) for `answerWindow` after the answer, and the
/// settlement stays `Disputed` until then. Review R2-5: the bonds an answering node earned are paid only once the
/// fraud window (the exit notice after the check ends) is over, so a receipt fraud proven late still sends them to
/// the owner.
contract RevealedLeafCheckTest is IndexChallengeFixture {
    uint64 internal constant BOUND = 10;
    uint256 internal constant ANSWER_WINDOW = 10 minutes;

    /// The owner's receipt for leaf 1, as the node served it (before it rewrote the leaf in its tree).
    AtomaTypedData.Leaf internal served1;

    /// Leaves 0 and 1 served with receipts; in its tree the node rewrites leaf 1 to bill 500 000 units more (its
    /// running total consistent), and settles leaf 2, a request whose receipt it withheld, after it.
    function _rewrittenRun() internal {
        Served memory real = serve(stackId, 2, "honest");
        hashes.push(real.hashes[0]);
        leaves.push(real.leaves[0]);
        served1 = real.leaves[1];
        uint64 units1 = served1.units + 500_000;
        _appendLeaf(1, served1.reqHash, served1.respHash, units1, real.leaves[0].cumulativeUnits + units1);
        uint64 total = leaves[1].cumulativeUnits + BOUND;
        _appendWithheld(2, BOUND, total);
        _settle(total);
    }

    function _receiptChallengeOf(AtomaTypedData.Leaf memory l) internal returns (uint256) {
        AtomaTypedData.Response memory r = AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: l.leafIndex,
            nonce: l.nonce,
            reqHash: l.reqHash,
            respHash: l.respHash,
            units: l.units,
            cumulativeUnits: l.cumulativeUnits,
            seed: 7
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(r));
        vm.prank(user);
        return challenges.challenge(stackId, r, abi.encodePacked(rr, ss, v));
    }

    function _phase() internal view returns (ISettlementManager.Phase) {
        return settlement.getSettlement(stackId).phase;
    }

    /// Attacker (R4-6): the owner challenges leaf 2 by index a second before its window ends; the node answers at
    /// its deadline, past the window, revealing its rewritten leaf 1, and tries to have the settlement finalized at
    /// once. The owner still has `answerWindow` to challenge its receipt of leaf 1, which the node cannot prove.
    function test_aLeafRevealedAfterTheWindowCanStillBeChallengedByItsReceipt() public {
        _rewrittenRun();
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        uint64 windowEnds = settlement.getSettlement(stackId).windowEnds;
        vm.warp(windowEnds - 1);
        uint256 c2 = _challengeIndex(2);
        vm.warp(challenges.getChallenge(c2).answerDeadline);
        assertTrue(block.timestamp > windowEnds, "the answer lands after the window");
        _answerUpTo(c2, 2, BOUND, _ownerSigUpTo(2, leaves[2].reqHash, USER_KEY, BOUND));
        // The node (or anyone) tries to finalize at once.
        try settlement.finalize(stackId) {} catch {}
        assertTrue(_phase() != ISettlementManager.Phase.Finalized, "not finalized while the revealed leaf is checked");
        vm.warp(block.timestamp + ANSWER_WINDOW - 1);
        uint256 c1 = _receiptChallengeOf(served1);
        bytes32[] memory h = hashes;
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(ChallengeManager.InvalidProof.selector);
        challenges.answerChallenge(c1, stackProof(h, 1));
        vm.warp(challenges.getChallenge(c1).answerDeadline + 1);
        challenges.resolve(c1);
        assertEq(nodes.getNode(server).collateral, 0, "the node is slashed");
        assertTrue(_phase() == ISettlementManager.Phase.Failed, "the settlement failed");
        assertGe(vault.balanceOf(user) - ownerVault, escrow, "the owner is refunded");
    }

    /// Griefer (the owner): past the window it may only check what an answer revealed, by receipt; a new index
    /// challenge is refused, so the hold stays bounded. Honest node: after the check time the settlement is released
    /// (`payHeld`, anyone) and finalized, the node paid; its bonds wait for the fraud window (R2-5).
    function test_anHonestLateAnswerIsReleasedAfterTheCheckTimeAndNoNewIndexOpens() public {
        _serveReal(4);
        _settle(400);
        uint64 windowEnds = settlement.getSettlement(stackId).windowEnds;
        vm.warp(windowEnds);
        uint256 c3 = _challengeIndex(3);
        vm.warp(challenges.getChallenge(c3).answerDeadline);
        _answer(c3, 3, _ownerSig(3, leaves[3].reqHash, USER_KEY));
        uint64 until = uint64(block.timestamp + ANSWER_WINDOW);
        assertEq(challenges.checkUntil(stackId), until, "the revealed leaf is checkable for answerWindow");
        assertTrue(_phase() == ISettlementManager.Phase.Disputed, "held disputed");
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NotChallengeable.selector, stackId));
        challenges.challengeIndex(stackId, 2);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.BondsStillHeld.selector, stackId, 0, until));
        challenges.payHeld(stackId);
        // A receipt of a real leaf is answered: the hold ends with the check time all the same.
        uint256 c2 = _receiptChallenge(2);
        bytes32[] memory h = hashes;
        vm.prank(vm.addr(signerKey[server]));
        challenges.answerChallenge(c2, stackProof(h, 2));
        assertTrue(_phase() == ISettlementManager.Phase.Disputed, "still held");
        vm.warp(until + 1);
        AtomaTypedData.Response memory late = _response(1);
        bytes memory lateSig = _responseSig(1);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NotChallengeable.selector, stackId));
        challenges.challenge(stackId, late, lateSig);
        uint256 operatorBefore = token.balanceOf(operatorOf[server]);
        challenges.payHeld(stackId);
        assertTrue(_phase() == ISettlementManager.Phase.Accepted, "released");
        settlement.finalize(stackId);
        assertEq(token.balanceOf(operatorOf[server]), operatorBefore, "bonds wait for the fraud window");
        assertEq(challenges.heldBondOf(stackId), 2 * CHALLENGE_BOND, "held");
        uint64 due = challenges.bondsDueAt(stackId);
        assertEq(due, until + EXIT_NOTICE, "due an exit notice after the check ends");
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.BondsStillHeld.selector, stackId, 0, due));
        challenges.payHeld(stackId);
        vm.warp(due + 1);
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]) - operatorBefore, 2 * CHALLENGE_BOND, "the node is paid");
    }

    /// Attacker (R2-5): a node that answered an index challenge collects the bond as soon as the window is over,
    /// then a receipt fraud of the stack is proven. The owner gets the bond back all the same.
    function test_aFraudProvenAfterTheWindowStillSendsTheHeldBondsToTheOwner() public {
        _serveReal(3);
        _settle(300);
        uint256 c2 = _challengeIndex(2);
        _answer(c2, 2, _ownerSig(2, leaves[2].reqHash, USER_KEY));
        vm.warp(settlement.getSettlement(stackId).windowEnds + 1);
        settlement.finalize(stackId);
        uint256 operatorBefore = token.balanceOf(operatorOf[server]);
        // The node asks for its bonds the moment it can.
        try challenges.payHeld(stackId) {} catch {}
        vm.warp(block.timestamp + 1 days);
        // A signed response whose nonce is not its leaf index: fraud, proven at any time.
        AtomaTypedData.Response memory r = _response(0);
        r.nonce = 5;
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(r));
        receiptFraud.proveResponse(r, abi.encodePacked(rr, ss, v));
        vm.expectEmit(address(challenges));
        emit ChallengeManager.HeldBondsPaid(stackId, user, CHALLENGE_BOND);
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]), operatorBefore, "the cheater keeps no bond");
        assertEq(challenges.heldBondOf(stackId), 0, "nothing left held");
    }
}
