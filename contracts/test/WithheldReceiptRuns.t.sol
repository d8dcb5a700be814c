// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {IndexChallengeFixture} from "./lib/IndexChallengeFixture.sol";

/// @notice Review fresh HIGH-1: a node withholds the receipts of several owner-signed requests, keeps each leaf's
/// units within its signed bound and hides the excess in one running total. With one challenge open at a time,
/// the owner's challenge of another leaf was refused while the first was open, and the node answered at its
/// deadline, past the window. Now the owner challenges every receipt-less leaf at once (as the gateway's watcher
/// does, earliest first); the settlement waits for all of them, and the one leaf holding the jump cannot be
/// answered, so the node is slashed and the owner refunded. A griefing owner pays a bond per challenge and holds
/// an honest settlement at most `answerWindow` past its window.
contract WithheldReceiptRunsTest is IndexChallengeFixture {
    uint64 internal constant BOUND = 10;
    uint256 internal constant ANSWER_WINDOW = 10 minutes;

    /// `withheld` leaves of `BOUND` units after `receipted` real ones of 100 units; the leaf at `jumpAt` (an index
    /// among the withheld) carries `excess` more in its running total, which every later leaf and the settlement
    /// follow. Returns the units settled.
    function _withheldRun(uint256 receipted, uint256 withheld, uint256 jumpAt, uint64 excess)
        internal
        returns (uint64 total)
    {
        _serveReal(receipted);
        total = uint64(receipted) * 100;
        for (uint256 k = receipted; k < receipted + withheld; ++k) {
            total += BOUND + (k == jumpAt ? excess : 0);
            _appendWithheld(k, BOUND, total);
        }
        _settle(total);
    }

    /// What the watcher does: every leaf past the last receipt, earliest first, all opened together.
    function _challengeAll(uint256 from, uint256 to) internal returns (uint256[] memory ids) {
        ids = new uint256[](to - from);
        for (uint256 k = from; k < to; ++k) {
            ids[k - from] = _challengeIndex(k);
        }
    }

    /// The node answers every challenge it can (with the owner's real signatures, at the bound signed); returns
    /// how many it could not.
    function _answerWhatItCan(uint256[] memory ids, uint256 from) internal returns (uint256 failed) {
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 k = from + i;
            bytes memory sig = _ownerSigUpTo(k, leaves[k].reqHash, USER_KEY, BOUND);
            bytes32[] memory h = hashes;
            (AtomaTypedData.Leaf memory previous, bytes32[] memory previousProof) = _previous(k);
            vm.prank(vm.addr(signerKey[server]));
            try challenges.answerIndexChallenge(
                ids[i], leaves[k], 2e9, BOUND, sig, stackProof(h, k), previous, previousProof
            ) {}
            catch {
                ++failed;
            }
        }
    }

    function _resolveAll(uint256[] memory ids) internal {
        uint256 last;
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 deadline = challenges.getChallenge(ids[i]).answerDeadline;
            if (deadline > last) last = deadline;
        }
        vm.warp(last + 1);
        for (uint256 i = 0; i < ids.length; ++i) {
            if (challenges.getChallenge(ids[i]).status == ChallengeManager.Status.Open) challenges.resolve(ids[i]);
        }
    }

    function _assertCheaterLost(uint256 ownerVaultBefore, uint256 escrow) internal view {
        assertEq(nodes.getNode(server).collateral, 0, "the node is slashed");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Failed, "settlement failed");
        assertGe(vault.balanceOf(user) - ownerVaultBefore, escrow, "the owner is refunded the escrow");
    }

    /// The review's demonstration, now failing to cheat: leaves 2 and 3 withheld, the excess in leaf 2, the owner
    /// late in the window. Leaf 2 is challenged while leaf 3's challenge is open; leaf 3's late answer does not
    /// settle anything while leaf 2's is open, and leaf 2 cannot be answered.
    function test_excessInTheFirstOfTwoWithheldLeavesIsSlashed() public {
        _withheldRun(2, 2, 2, 899_800);
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        vm.warp(settlement.getSettlement(stackId).windowEnds - 5 minutes);
        uint256 c3 = _challengeIndex(3);
        uint256 c2 = _challengeIndex(2);
        vm.warp(challenges.getChallenge(c3).answerDeadline);
        _answerUpTo(c3, 3, BOUND, _ownerSigUpTo(3, leaves[3].reqHash, USER_KEY, BOUND));
        assertTrue(challenges.getChallenge(c3).status == ChallengeManager.Status.Dismissed, "leaf 3 answered");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Disputed, "still disputed");
        vm.expectRevert(
            abi.encodeWithSelector(SettlementManager.WrongPhase.selector, stackId, ISettlementManager.Phase.Disputed)
        );
        settlement.finalize(stackId);
        bytes memory signed2 = _ownerSigUpTo(2, leaves[2].reqHash, USER_KEY, BOUND);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.RunningTotalBroken.selector, 2));
        _answerUpTo(c2, 2, BOUND, signed2);
        vm.warp(challenges.getChallenge(c2).answerDeadline + 1);
        challenges.resolve(c2);
        _assertCheaterLost(ownerVault, escrow);
    }

    function test_threeWithheldLeavesWithTheExcessInTheMiddleIsSlashed() public {
        _withheldRun(2, 3, 3, 500_000);
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        uint256[] memory ids = _challengeAll(2, 5);
        assertEq(_answerWhatItCan(ids, 2), 1, "only the middle leaf cannot be answered");
        assertTrue(challenges.getChallenge(ids[1]).status == ChallengeManager.Status.Open, "leaf 3 unanswered");
        _resolveAll(ids);
        _assertCheaterLost(ownerVault, escrow);
    }

    /// Leaf 0 edge: no receipt at all, the excess in the first leaf (its total must be its own units).
    function test_noReceiptAndTheExcessInLeafZeroIsSlashed() public {
        _withheldRun(0, 3, 0, 700_000);
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        uint256[] memory ids = _challengeAll(0, 3);
        assertEq(_answerWhatItCan(ids, 0), 1, "only leaf 0 cannot be answered");
        _resolveAll(ids);
        _assertCheaterLost(ownerVault, escrow);
    }

    /// Last-leaf edge: the excess in the last leaf, answered after every earlier one was.
    function test_excessInTheLastWithheldLeafIsSlashedAfterTheOthersAnswer() public {
        _withheldRun(1, 3, 3, 300_000);
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        uint256[] memory ids = _challengeAll(1, 4);
        assertEq(_answerWhatItCan(ids, 1), 1, "only the last leaf cannot be answered");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Disputed, "still disputed");
        _resolveAll(ids);
        _assertCheaterLost(ownerVault, escrow);
    }

    /// The tree's leaf at the owner's last receipt is not the receipt (its total inflated there) and the withheld
    /// leaves after it follow from it: each index answers, but the receipt challenge opened with them cannot.
    function test_anInflatedLeafAtTheLastReceiptIsCaughtByItsReceiptOpenedAlongside() public {
        Served memory real = serve(stackId, 2, "honest");
        hashes.push(real.hashes[0]);
        leaves.push(real.leaves[0]);
        AtomaTypedData.Leaf memory held = real.leaves[1];
        AtomaTypedData.Leaf memory inflated = AtomaTypedData.Leaf({
            leafIndex: 1,
            nonce: 1,
            reqHash: held.reqHash,
            respHash: held.respHash,
            units: held.units,
            cumulativeUnits: held.cumulativeUnits + 400_000
        });
        _append(inflated);
        uint64 total = inflated.cumulativeUnits;
        for (uint256 k = 2; k < 4; ++k) {
            total += BOUND;
            _appendWithheld(k, BOUND, total);
        }
        _settle(total);
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        AtomaTypedData.Response memory r = AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: 1,
            nonce: 1,
            reqHash: held.reqHash,
            respHash: held.respHash,
            units: held.units,
            cumulativeUnits: held.cumulativeUnits,
            seed: 7
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(r));
        vm.prank(user);
        uint256 receiptChallenge = challenges.challenge(stackId, r, abi.encodePacked(rr, ss, v));
        uint256[] memory ids = _challengeAll(2, 4);
        assertEq(_answerWhatItCan(ids, 2), 0, "every withheld leaf follows from the inflated one");
        bytes32[] memory h = hashes;
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(ChallengeManager.InvalidProof.selector);
        challenges.answerChallenge(receiptChallenge, stackProof(h, 1));
        vm.warp(block.timestamp + ANSWER_WINDOW + 1);
        challenges.resolve(receiptChallenge);
        _assertCheaterLost(ownerVault, escrow);
    }

    /// A griefing owner challenges every leaf of an honest settlement and its receipts up to the cap, at the last
    /// second of the window: the index challenges' deadlines are spaced (the node owes at most 4 answers per answer
    /// window, so a flood cannot outrun it), each answer pays the node a bond, nothing opens after the window, a
    /// duplicate is refused, and the node is paid once the last spaced deadline has passed at the latest.
    function test_aGriefingOwnerLosesEveryBondAndHoldsTheSettlementBoundedly() public {
        _serveReal(6);
        _settle(600);
        uint64 windowEnds = settlement.getSettlement(stackId).windowEnds;
        vm.warp(windowEnds);
        uint256 operatorBefore = token.balanceOf(operatorOf[server]);
        uint256 ownerBefore = token.balanceOf(user);
        uint256[] memory ids = _challengeAll(0, 6);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.IndexAlreadyProven.selector, stackId, 0));
        challenges.challengeIndex(stackId, 0);
        uint256[] memory receiptIds = new uint256[](4);
        for (uint256 k = 0; k < 4; ++k) {
            receiptIds[k] = _receiptChallenge(k);
        }
        (AtomaTypedData.Response memory r4, bytes memory sig4) = (_response(4), _responseSig(4));
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.TooManyChallenges.selector, stackId, 4));
        challenges.challenge(stackId, r4, sig4);
        vm.warp(windowEnds + 1);
        // The window is over though challenges are open: nothing more opens.
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NotChallengeable.selector, stackId));
        challenges.challenge(stackId, r4, sig4);
        // Spaced by answerWindow / 4: the hold is bounded by the number of bonds paid.
        for (uint256 k = 0; k < 6; ++k) {
            assertEq(
                challenges.getChallenge(ids[k]).answerDeadline,
                windowEnds + ANSWER_WINDOW + k * (ANSWER_WINDOW / 4),
                "index deadlines spaced"
            );
        }
        // The node answers each as late as it may: the receipts and the first index at the first deadline.
        bytes32[] memory h = hashes;
        for (uint256 k = 0; k < 6; ++k) {
            vm.warp(challenges.getChallenge(ids[k]).answerDeadline);
            _answer(ids[k], k, _ownerSig(k, leaves[k].reqHash, USER_KEY));
            for (uint256 j = 0; k == 0 && j < 4; ++j) {
                vm.prank(vm.addr(signerKey[server]));
                challenges.answerChallenge(receiptIds[j], stackProof(h, j));
            }
            if (k < 5) {
                assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Disputed, "held");
            }
        }
        assertEq(block.timestamp, windowEnds + ANSWER_WINDOW + 5 * (ANSWER_WINDOW / 4), "answered that late at most");
        // Review rev4 R4-6: the leaves the last answer revealed stay checkable for `answerWindow` more.
        uint64 until = challenges.checkUntil(stackId);
        assertEq(until, block.timestamp + ANSWER_WINDOW, "the check of the revealed leaves");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Disputed, "held for it");
        vm.warp(until + 1);
        challenges.payHeld(stackId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Accepted, "accepted again");
        settlement.finalize(stackId);
        // Review R2-5: the bonds once the fraud window is over.
        vm.warp(challenges.bondsDueAt(stackId) + 1);
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]) - operatorBefore, 10 * CHALLENGE_BOND, "every bond to the node");
        assertEq(ownerBefore - token.balanceOf(user), 10 * CHALLENGE_BOND, "the griefer lost them");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Finalized, "paid");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "not slashed");
    }

    /// A challenge upheld while others are open fails the settlement once: the slashed node can answer nothing more,
    /// the others are resolved after their deadlines (the bonds back to the owner) without touching the failed
    /// settlement again, and nothing more opens.
    function test_aChallengeUpheldBesideOpenOnesFailsTheSettlementOnce() public {
        _serveReal(3);
        _settle(900);
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        uint256 open = _challengeIndex(1);
        // The last leaf's receipt totals 300 against 900 settled: proven by the signature alone.
        uint256 proven = _receiptChallenge(2);
        assertTrue(challenges.getChallenge(proven).status == ChallengeManager.Status.Upheld, "upheld at once");
        _assertCheaterLost(ownerVault, escrow);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NotChallengeable.selector, stackId));
        challenges.challengeIndex(stackId, 0);
        uint256 ownerTokens = token.balanceOf(user);
        vm.warp(challenges.getChallenge(open).answerDeadline + 1);
        challenges.resolve(open);
        assertTrue(challenges.getChallenge(open).status == ChallengeManager.Status.Upheld, "resolved");
        assertEq(token.balanceOf(user) - ownerTokens, CHALLENGE_BOND, "its bond back to the owner");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Failed, "still failed");
        assertEq(challenges.openOf(stackId), 0, "none open");
    }

    /// Any number of withheld leaves, the excess in any one of them, any number of receipts before: the node
    /// cannot answer that one and loses its collateral; without an excess it answers all and keeps it.
    function testFuzz_anExcessInAnyOfTheWithheldLeavesIsSlashed(uint8 receipted, uint8 withheld, uint8 jump, uint64 excess)
        public
    {
        receipted = uint8(bound(receipted, 0, 3));
        withheld = uint8(bound(withheld, 1, 12));
        jump = uint8(bound(jump, 0, withheld - 1));
        excess = uint64(bound(excess, 0, 500_000));
        _withheldRun(receipted, withheld, receipted + jump, excess);
        uint256 escrow = stacks.getStack(stackId).escrow;
        uint256 ownerVault = vault.balanceOf(user);
        uint256[] memory ids = _challengeAll(receipted, uint256(receipted) + withheld);
        uint256 failed = _answerWhatItCan(ids, receipted);
        if (excess == 0) {
            assertEq(failed, 0, "an honest node answers every challenge");
            assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Accepted, "accepted");
            assertEq(nodes.getNode(server).collateral, COLLATERAL, "not slashed");
            return;
        }
        assertEq(failed, 1, "exactly the leaf holding the jump cannot be answered");
        assertTrue(challenges.getChallenge(ids[jump]).status == ChallengeManager.Status.Open, "that one");
        _resolveAll(ids);
        _assertCheaterLost(ownerVault, escrow);
    }
}
