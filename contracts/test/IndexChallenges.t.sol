// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IndexChallengeFixture} from "./lib/IndexChallengeFixture.sol";

/// @notice Review finding H2: a node appends requests the owner never made after the owner's last one (receipts
/// cannot show it: every receipt's leaf is under the root). The owner's index challenge names such a leaf; the
/// node must show that leaf under its root together with the owner's signature on its request, which it cannot
/// forge, so it is slashed and the owner refunded. An honest node answers and earns the bond.
contract IndexChallengesTest is IndexChallengeFixture {
    /// Review 3: the owner really signed request 2, bounded at `maxUnits`; the node streamed the answer, withheld
    /// its receipt, and settled that leaf as the rest of the stack (`units`). It answers the index challenge with the
    /// owner's own signature, whose bound the leaf exceeds: it cannot, so it is slashed and the owner refunded.
    function _overclaimSignedLeaf(uint64 maxUnits, uint64 units) internal {
        _serveReal(2);
        uint256 ownerBefore = token.balanceOf(user);
        _appendLeaf(2, keccak256("a real request"), keccak256("its answer"), units, 200 + units);
        _settle(200 + units);
        uint256 challengeId = _challengeIndex(2);
        bytes memory signed = _ownerSigUpTo(2, leaves[2].reqHash, USER_KEY, maxUnits);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.UnitsOverSigned.selector, 2, units, maxUnits));
        _answerUpTo(challengeId, 2, maxUnits, signed);
        // Claiming a larger bound than the owner signed is not the owner's signature.
        vm.expectRevert(ChallengeManager.InvalidRequestSignature.selector);
        _answerUpTo(challengeId, 2, units, signed);
        vm.warp(block.timestamp + 10 minutes + 1);
        challenges.resolve(challengeId);
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Upheld, "upheld");
        assertEq(token.balanceOf(user), ownerBefore, "bond returned");
        assertEq(nodes.getNode(server).collateral, 0, "the overclaiming node is slashed");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Failed, "settlement failed");
    }

    function test_aSignedLeafAboveItsSignedMaxUnitsIsSlashed() public {
        _overclaimSignedLeaf(10, 999_800);
    }

    function testFuzz_aSignedLeafAboveItsSignedMaxUnitsIsSlashed(uint64 maxUnits, uint64 units) public {
        maxUnits = uint64(bound(maxUnits, 0, 999_799));
        units = uint64(bound(units, uint256(maxUnits) + 1, 999_800));
        _overclaimSignedLeaf(maxUnits, units);
    }

    function test_aSignedLeafAtItsSignedMaxUnitsAnswers() public {
        _serveReal(2);
        _appendLeaf(2, keccak256("a real request"), keccak256("its answer"), 10, 210);
        _settle(210);
        uint256 challengeId = _challengeIndex(2);
        _answerUpTo(challengeId, 2, 10, _ownerSigUpTo(2, leaves[2].reqHash, USER_KEY, 10));
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Dismissed, "dismissed");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "not slashed");
    }

    function test_aPaddedTrailingLeafIsSlashedThroughAnIndexChallenge() public {
        _settlePadded();
        uint256 ownerBefore = token.balanceOf(user);
        uint256 challengeId = _challengeIndex(2);
        assertEq(ownerBefore - token.balanceOf(user), CHALLENGE_BOND, "the owner pays the bond");
        // The node cannot answer: a signature it made itself is not the owner's...
        bytes memory forged = _ownerSig(2, leaves[2].reqHash, signerKey[server]);
        vm.expectRevert(ChallengeManager.InvalidRequestSignature.selector);
        _answer(challengeId, 2, forged);
        // ... and the owner's real requests carry other nonces and request hashes.
        bytes memory real0 = _ownerSig(0, leaves[0].reqHash, USER_KEY);
        vm.expectRevert(ChallengeManager.InvalidRequestSignature.selector);
        _answer(challengeId, 2, real0);
        // A receipt-style proof does not answer an index challenge.
        bytes32[] memory h = hashes;
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.WrongAnswer.selector, challengeId));
        challenges.answerChallenge(challengeId, stackProof(h, 2));
        vm.warp(block.timestamp + 10 minutes + 1);
        challenges.resolve(challengeId);
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Upheld, "upheld");
        assertEq(token.balanceOf(user), ownerBefore, "bond returned");
        assertEq(nodes.getNode(server).collateral, 0, "the padding node is slashed");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Failed, "settlement failed");
    }

    function test_aLeafWithTheOwnersSignatureOnAnotherRequestCannotAnswer() public {
        // The node re-uses the owner's request 0 (signed, nonce 0) as leaf 2: the nonce is not the index.
        _serveReal(2);
        AtomaTypedData.Leaf memory reused = leaves[0];
        reused.leafIndex = 2;
        reused.units = 999_800;
        reused.cumulativeUnits = 1_000_000;
        _append(reused);
        _settle(1_000_000);
        uint256 challengeId = _challengeIndex(2);
        bytes memory sig0 = _ownerSig(0, reused.reqHash, USER_KEY);
        vm.expectRevert(ChallengeManager.InvalidProof.selector);
        _answer(challengeId, 2, sig0);
        // Nor can it prove another leaf in the challenged one's place.
        bytes memory sig1 = _ownerSig(1, leaves[1].reqHash, USER_KEY);
        vm.expectRevert(ChallengeManager.InvalidProof.selector);
        _answerWith(challengeId, leaves[1], 2, 1e9, sig1);
    }

    /// Review 5 (HIGH-3): the owner signed request 2 and the node served it for 10 units within the bound, withheld
    /// the receipt, and put 800 extra units in the leaf's running total (the settlement claims them). The leaf's
    /// units are within the signed bound, but its total does not follow from leaf 1: the node cannot answer.
    function test_aWithheldLeafHidingUnitsInItsRunningTotalIsSlashed() public {
        _serveReal(2);
        _appendLeaf(2, keccak256("a real request"), keccak256("its answer"), 10, 1_010);
        _settle(1_010);
        uint256 challengeId = _challengeIndex(2);
        bytes memory signed = _ownerSigUpTo(2, leaves[2].reqHash, USER_KEY, 10);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.RunningTotalBroken.selector, 2));
        _answerUpTo(challengeId, 2, 10, signed);
        // Nor can it show another leaf as the one before: the proof must be at index 1 under the same root.
        bytes32[] memory h = hashes;
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(ChallengeManager.InvalidProof.selector);
        challenges.answerIndexChallenge(challengeId, leaves[2], 2e9, 10, signed, stackProof(h, 2), leaves[0], stackProof(h, 0));
        vm.warp(block.timestamp + 10 minutes + 1);
        challenges.resolve(challengeId);
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Upheld, "upheld");
        assertEq(nodes.getNode(server).collateral, 0, "the node hiding units in a total is slashed");
    }

    /// The same trick on the first leaf: its running total must be its own units.
    function test_aWithheldFirstLeafWithAnInflatedTotalIsSlashed() public {
        _appendLeaf(0, keccak256("first request"), keccak256("its answer"), 10, 900);
        _settle(900);
        uint256 challengeId = _challengeIndex(0);
        bytes memory signed = _ownerSigUpTo(0, leaves[0].reqHash, USER_KEY, 10);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.RunningTotalBroken.selector, 0));
        _answerUpTo(challengeId, 0, 10, signed);
    }

    /// A consistent tree whose last total is not what the settlement claims cannot be answered at its last leaf.
    function test_theLastLeafsTotalMustBeTheUnitsSettled() public {
        _serveReal(3);
        _settle(900);
        uint256 challengeId = _challengeIndex(2);
        bytes memory signed = _ownerSig(2, leaves[2].reqHash, USER_KEY);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.RunningTotalBroken.selector, 2));
        _answer(challengeId, 2, signed);
    }

    /// Withholding two receipts and putting the excess in the second: each withheld leaf is checked against its
    /// predecessor, so the first answers and the second cannot.
    function test_excessInTheSecondOfTwoWithheldLeavesIsCaught() public {
        _serveReal(2);
        _appendLeaf(2, keccak256("r2"), keccak256("a2"), 10, 210);
        _appendLeaf(3, keccak256("r3"), keccak256("a3"), 10, 5_000);
        _settle(5_000);
        _answerUpTo(_challengeIndex(2), 2, 10, _ownerSigUpTo(2, leaves[2].reqHash, USER_KEY, 10));
        uint256 second = _challengeIndex(3);
        bytes memory signed3 = _ownerSigUpTo(3, leaves[3].reqHash, USER_KEY, 10);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.RunningTotalBroken.selector, 3));
        _answerUpTo(second, 3, 10, signed3);
    }

    function testFuzz_anAnsweredLeafsTotalFollowsFromTheOneBefore(uint64 units, uint64 extra) public {
        units = uint64(bound(units, 1, 1_000));
        extra = uint64(bound(extra, 1, 900_000));
        _serveReal(2);
        _appendLeaf(2, keccak256("r2"), keccak256("a2"), units, 200 + units + extra);
        _settle(200 + units + extra);
        uint256 challengeId = _challengeIndex(2);
        bytes memory signed = _ownerSigUpTo(2, leaves[2].reqHash, USER_KEY, units);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.RunningTotalBroken.selector, 2));
        _answerUpTo(challengeId, 2, units, signed);
    }

    function test_anHonestNodeAnswersAndTheIndexCannotBeChallengedAgain() public {
        _serveReal(6);
        _settle(600);
        uint256 operatorBefore = token.balanceOf(operatorOf[server]);
        uint256 challengeId = _challengeIndex(5);
        _answer(challengeId, 5, _ownerSig(5, leaves[5].reqHash, USER_KEY));
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Dismissed, "dismissed");
        assertEq(token.balanceOf(operatorOf[server]), operatorBefore, "held while the window runs");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "not slashed");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Accepted, "accepted again");
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.IndexAlreadyProven.selector, stackId, 5));
        challenges.challengeIndex(stackId, 5);
        // The proven leaf is memoised for receipt challenges too.
        AtomaTypedData.Leaf memory l = leaves[5];
        AtomaTypedData.Response memory r = AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: 5,
            nonce: 5,
            reqHash: l.reqHash,
            respHash: l.respHash,
            units: l.units,
            cumulativeUnits: l.cumulativeUnits,
            seed: 7
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(r));
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.LeafAlreadyProven.selector, stackId, hashes[5]));
        challenges.challenge(stackId, r, abi.encodePacked(rr, ss, v));
        // Held until the window and the fraud window after it are over (review challenges LOW-1, review R2-5),
        // then anyone pays it to the node.
        vm.warp(uint256(challenges.bondsDueAt(stackId)) + 1);
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]) - operatorBefore, CHALLENGE_BOND, "the node receives it");
    }

    /// Index challenges need an existing leaf and take one challenge per index (open or answered), not the receipt
    /// cap: every receipt-less leaf must be challengeable (review fresh HIGH-1), so the settled count bounds them.
    function test_indexChallengesNeedAnExistingLeafAndOnePerIndex() public {
        _serveReal(6);
        _settle(600);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NoSuchLeaf.selector, stackId, 6));
        challenges.challengeIndex(stackId, 6);
        uint256 open = _challengeIndex(3);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.IndexAlreadyProven.selector, stackId, 3));
        challenges.challengeIndex(stackId, 3);
        _answer(open, 3, _ownerSig(3, leaves[3].reqHash, USER_KEY));
        for (uint256 k = 0; k < 6; ++k) {
            if (k != 3) _answer(_challengeIndex(k), k, _ownerSig(k, leaves[k].reqHash, USER_KEY));
        }
        assertEq(challenges.challengesOf(stackId), 0, "index challenges leave the receipt cap alone");
    }

    function test_onlyTheOwnerInTheWindowAndTheNodeInTime() public {
        _serveReal(2);
        _settle(200);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NotStackOwner.selector, stackId, address(this)));
        challenges.challengeIndex(stackId, 1);
        uint256 challengeId = _challengeIndex(1);
        vm.warp(block.timestamp + 10 minutes + 1);
        bytes memory sig = _ownerSig(1, leaves[1].reqHash, USER_KEY);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.AnswerWindowOver.selector, challengeId));
        _answer(challengeId, 1, sig);
        vm.warp(block.timestamp + 2 days);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NotChallengeable.selector, stackId));
        challenges.challengeIndex(stackId, 0);
    }
}
