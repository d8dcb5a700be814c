// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IndexChallengeFixture} from "./lib/IndexChallengeFixture.sol";

/// Review fresh 2: MEDIUM-C (one transaction opens many index challenges, deadlines still spaced), LOW-D (a cheater
/// caught on one leaf keeps no bond of the leaves it answered) and the nit (a zero deadline gap is refused).
contract ChallengeBatchTest is IndexChallengeFixture {
    uint64 internal constant BOUND = 10;
    uint256 internal constant RECEIPTED = 2;

    /// `withheld` receipt-less leaves after two real ones; the excess hidden in leaf `jumpAt` (none if out of range).
    function _withhold(uint256 withheld, uint256 jumpAt) internal {
        _serveReal(RECEIPTED);
        uint64 total = uint64(RECEIPTED) * 100;
        for (uint256 k = RECEIPTED; k < RECEIPTED + withheld; ++k) {
            total += BOUND + (k == jumpAt ? 500_000 : 0);
            _append(
                AtomaTypedData.Leaf({
                    leafIndex: k,
                    nonce: k,
                    reqHash: keccak256(abi.encode("withheld request", k)),
                    respHash: keccak256(abi.encode("its answer", k)),
                    units: BOUND,
                    cumulativeUnits: total
                })
            );
        }
        _settle(total);
    }

    /// The watcher's order: the last leaf first, then the rest, in one transaction.
    function _batch(uint256 withheld) internal returns (uint256 firstId, uint256[] memory idx) {
        idx = new uint256[](withheld);
        idx[0] = RECEIPTED + withheld - 1;
        for (uint256 i = 1; i < withheld; ++i) {
            idx[i] = RECEIPTED + i - 1;
        }
        vm.prank(user);
        firstId = challenges.challengeIndices(stackId, idx);
    }

    /// The review's demonstration, now: the cheater answers every honest link at once, is caught on the last, and
    /// keeps none of the bonds; the owner gets every bond back.
    function test_caughtCheaterNoLongerKeepsTheBondsOfTheLeavesItAnswered() public {
        _caughtCheaterGainsNoBond(20, RECEIPTED + 19);
    }

    /// Wherever the excess is hidden among up to MAX_BATCH withheld leaves, one batch catches it and the node's
    /// operator earns no bond.
    function testFuzz_caughtCheaterGainsNoBond(uint256 withheld, uint256 jump) public {
        withheld = bound(withheld, 2, 40);
        _caughtCheaterGainsNoBond(withheld, RECEIPTED + bound(jump, 0, withheld - 1));
    }

    function _caughtCheaterGainsNoBond(uint256 withheld, uint256 jumpAt) internal {
        _withhold(withheld, jumpAt);
        uint256 opBefore = token.balanceOf(operatorOf[server]);
        uint256 ownerBefore = token.balanceOf(user);
        (uint256 firstId, uint256[] memory idx) = _batch(withheld);
        assertEq(token.balanceOf(user), ownerBefore - withheld * CHALLENGE_BOND, "one bond each");
        uint256 caughtId;
        for (uint256 i = 0; i < withheld; ++i) {
            uint256 k = idx[i];
            if (k == jumpAt) {
                caughtId = firstId + i;
                continue;
            }
            _answerUpTo(firstId + i, k, BOUND, _ownerSigUpTo(k, leaves[k].reqHash, USER_KEY, BOUND));
        }
        assertEq(token.balanceOf(operatorOf[server]), opBefore, "answered bonds held, not paid");
        vm.warp(challenges.getChallenge(caughtId).answerDeadline + 1);
        challenges.resolve(caughtId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Failed, "caught");
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
        assertEq(token.balanceOf(operatorOf[server]), opBefore, "the caught cheater keeps no bond");
        assertEq(token.balanceOf(user), ownerBefore, "every bond back to the owner");
        assertEq(challenges.heldBondOf(stackId), 0, "nothing held");
    }

    /// An honest node that answers every batched challenge gets every bond, once the last is answered and the
    /// window and the fraud window after it are over (anyone may then pay them out; before, more challenges could
    /// still open, and a receipt fraud still be proven).
    function test_honestNodeIsPaidEveryBondAfterTheLastAndTheWindow() public {
        uint256 withheld = 8;
        _withhold(withheld, type(uint256).max);
        uint256 opBefore = token.balanceOf(operatorOf[server]);
        (uint256 firstId, uint256[] memory idx) = _batch(withheld);
        for (uint256 i = 0; i < withheld; ++i) {
            uint256 k = idx[i];
            _answerUpTo(firstId + i, k, BOUND, _ownerSigUpTo(k, leaves[k].reqHash, USER_KEY, BOUND));
        }
        assertEq(token.balanceOf(operatorOf[server]), opBefore, "held while the window runs");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Accepted, "stands");
        uint64 windowEnds = settlement.getSettlement(stackId).windowEnds;
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.BondsStillHeld.selector, stackId, 0, windowEnds));
        challenges.payHeld(stackId);
        vm.warp(uint256(windowEnds) + 1);
        // Review R2-5: due once the fraud window after the window is over.
        uint64 due = challenges.bondsDueAt(stackId);
        assertEq(due, windowEnds + EXIT_NOTICE, "the exit notice after the window");
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.BondsStillHeld.selector, stackId, 0, due));
        challenges.payHeld(stackId);
        vm.warp(uint256(due) + 1);
        vm.prank(address(0xBEEF));
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]) - opBefore, withheld * CHALLENGE_BOND, "every bond, once");
        assertEq(challenges.heldBondOf(stackId), 0, "nothing held");
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]) - opBefore, withheld * CHALLENGE_BOND, "not twice");
    }

    /// A last answer after the window pays the held bonds at once.
    function test_answerAfterTheWindowIsHeldThenPaidWhenDue() public {
        uint256 withheld = 3;
        _withhold(withheld, type(uint256).max);
        uint256 opBefore = token.balanceOf(operatorOf[server]);
        uint256 windowEnds = settlement.getSettlement(stackId).windowEnds;
        vm.warp(windowEnds - 60);
        (uint256 firstId, uint256[] memory idx) = _batch(withheld);
        for (uint256 i = 0; i < withheld; ++i) {
            uint256 k = idx[i];
            if (i + 1 == withheld) vm.warp(windowEnds + 1);
            _answerUpTo(firstId + i, k, BOUND, _ownerSigUpTo(k, leaves[k].reqHash, USER_KEY, BOUND));
        }
        // Review rev4 R4-6: the last answer, past the window, revealed leaves still checkable for `answerWindow`;
        // review R2-5: the bonds wait for the fraud window after that.
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Disputed, "held");
        vm.warp(challenges.checkUntil(stackId) + 1);
        challenges.payHeld(stackId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Accepted, "released");
        assertEq(token.balanceOf(operatorOf[server]), opBefore, "not paid before the fraud window");
        vm.warp(challenges.bondsDueAt(stackId) + 1);
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]) - opBefore, withheld * CHALLENGE_BOND, "paid when due");
    }

    /// Review challenges LOW-1: the watcher opens the receipt challenge and the last leaf's before the batch. A node
    /// that answered both at once had `openOf` fall to 0 and was paid their held bonds; the batch then caught it,
    /// and it kept them. Now the bonds stay held until the window is over, and the upheld batch sends them back.
    function test_caughtCheaterKeepsNoBondOfTheFirstRound() public {
        uint256 withheld = 6;
        _withhold(withheld, RECEIPTED);
        uint256 opBefore = token.balanceOf(operatorOf[server]);
        uint256 ownerBefore = token.balanceOf(user);
        uint256 receiptId = _receiptChallenge(RECEIPTED - 1);
        bytes32[] memory h = hashes;
        vm.prank(vm.addr(signerKey[server]));
        challenges.answerChallenge(receiptId, stackProof(h, RECEIPTED - 1));
        uint256 last = RECEIPTED + withheld - 1;
        uint256 lastId = _challengeIndex(last);
        _answerUpTo(lastId, last, BOUND, _ownerSigUpTo(last, leaves[last].reqHash, USER_KEY, BOUND));
        assertEq(challenges.openOf(stackId), 0, "the first round answered");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Accepted, "accepted again");
        assertEq(token.balanceOf(operatorOf[server]), opBefore, "its bonds held while the window runs");
        uint256[] memory idx = new uint256[](withheld - 1);
        for (uint256 i = 0; i < withheld - 1; ++i) {
            idx[i] = RECEIPTED + i;
        }
        vm.prank(user);
        uint256 firstId = challenges.challengeIndices(stackId, idx);
        for (uint256 i = 1; i < withheld - 1; ++i) {
            uint256 k = idx[i];
            _answerUpTo(firstId + i, k, BOUND, _ownerSigUpTo(k, leaves[k].reqHash, USER_KEY, BOUND));
        }
        vm.warp(challenges.getChallenge(firstId).answerDeadline + 1);
        challenges.resolve(firstId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Failed, "caught");
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
        assertEq(token.balanceOf(operatorOf[server]), opBefore, "no bond of the first round kept");
        assertEq(token.balanceOf(user), ownerBefore, "every bond back to the owner");
        assertEq(challenges.heldBondOf(stackId), 0, "nothing held");
    }

    /// A batch keeps the griefing bound: each deadline is spaced after the one before, as one call per index.
    function test_batchDeadlinesAreSpaced() public {
        uint256 withheld = 12;
        _withhold(withheld, RECEIPTED);
        (uint64 window, uint8 max,) = challenges.params();
        (uint256 firstId,) = _batch(withheld);
        uint64 previous = challenges.getChallenge(firstId).answerDeadline;
        assertEq(previous, uint64(block.timestamp) + window, "first: a window");
        for (uint256 i = 1; i < withheld; ++i) {
            uint64 d = challenges.getChallenge(firstId + i).answerDeadline;
            assertEq(d, previous + window / max, "spaced");
            previous = d;
        }
    }

    function test_batchRefusesEmptyOversizedAndRepeated() public {
        _withhold(3, RECEIPTED);
        uint256[] memory none = new uint256[](0);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.BadBatch.selector, 0, 64));
        challenges.challengeIndices(stackId, none);
        uint256[] memory big = new uint256[](65);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.BadBatch.selector, 65, 64));
        challenges.challengeIndices(stackId, big);
        uint256[] memory twice = new uint256[](2);
        twice[0] = 3;
        twice[1] = 3;
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.IndexAlreadyProven.selector, stackId, 3));
        challenges.challengeIndices(stackId, twice);
        uint256[] memory past = new uint256[](1);
        past[0] = RECEIPTED + 3;
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NoSuchLeaf.selector, stackId, RECEIPTED + 3));
        challenges.challengeIndices(stackId, past);
    }

    /// A full batch of MAX_BATCH fits in a transaction with room to spare.
    function test_fullBatchGas() public {
        uint256 withheld = 64;
        _withhold(withheld, RECEIPTED);
        uint256[] memory idx = new uint256[](withheld);
        for (uint256 i = 0; i < withheld; ++i) {
            idx[i] = RECEIPTED + i;
        }
        vm.prank(user);
        uint256 g = gasleft();
        challenges.challengeIndices(stackId, idx);
        uint256 used = g - gasleft();
        assertLe(used, 10_000_000, "64 index challenges (9.38M gas measured) under a third of a block");
    }

    /// The nit: a window shorter than the cap would space nothing; the contract refuses it.
    function test_zeroDeadlineGapRefused() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.ChallengeGapZero.selector, uint64(30), uint8(255)));
        challenges.setParams(ChallengeManager.Params({answerWindow: 30, maxChallengesPerStack: 255, challengeBond: 1}));
    }
}
