// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice Issue 10, item 5: an owner that challenges an honest node's leaf again and again. Each challenge that
/// needs an answer costs the owner a bond the node receives when it answers; a proven leaf cannot be challenged
/// again; a stack takes a bounded number of challenges.
contract ChallengesTest is AtomaFixture {
    uint256 internal task;
    uint256 internal stackId;
    uint256 internal server;
    /// The parts of the served stack the challenges use (a struct holding leaves cannot be copied to storage).
    struct Kept {
        bytes32[] reqHashes;
        bytes32[] respHashes;
        bytes32[] hashes;
        bytes32 root;
    }

    Kept internal served;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 3; ++i) {
            addNode(1);
        }
        task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(task, nodeIds[i], PRICE);
        }
        nextEpoch();
        (stackId, server) = buy(task, 1_000_000);
        Served memory s = serve(stackId, 6, "honest");
        served = Kept({reqHashes: s.reqHashes, respHashes: s.respHashes, hashes: s.hashes, root: s.root});
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, served.root, 600, 6, 0);
    }

    function _signed(uint256 k, bytes32 respHash)
        internal
        view
        returns (AtomaTypedData.Response memory r, bytes memory sig)
    {
        r = AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: k,
            nonce: k,
            reqHash: served.reqHashes[k],
            respHash: respHash,
            units: 100,
            cumulativeUnits: uint64(100 * (k + 1)),
            seed: 7
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(r));
        sig = abi.encodePacked(rr, ss, v);
    }

    function _challenge(uint256 k) internal returns (uint256 challengeId) {
        (AtomaTypedData.Response memory r, bytes memory sig) = _signed(k, served.respHashes[k]);
        vm.prank(user);
        return challenges.challenge(stackId, r, sig);
    }

    function _answer(uint256 challengeId, uint256 k) internal {
        vm.prank(vm.addr(signerKey[server]));
        challenges.answerChallenge(challengeId, stackProof(served.hashes, k));
    }

    function test_aFalseChallengeForfeitsTheBondToTheNodeAndTheProvenLeafCannotBeChallengedAgain() public {
        uint256 ownerBefore = token.balanceOf(user);
        uint256 operatorBefore = token.balanceOf(operatorOf[server]);
        uint256 challengeId = _challenge(2);
        assertEq(ownerBefore - token.balanceOf(user), CHALLENGE_BOND, "the owner pays the bond");
        _answer(challengeId, 2);
        assertEq(token.balanceOf(operatorOf[server]), operatorBefore, "held while the window runs");
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Dismissed, "dismissed");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "not slashed");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Accepted, "accepted again");
        // The same leaf again: refused before the node has anything to answer.
        (AtomaTypedData.Response memory r, bytes memory sig) = _signed(2, served.respHashes[2]);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.LeafAlreadyProven.selector, stackId, served.hashes[2]));
        challenges.challenge(stackId, r, sig);
        // Held until the window and the fraud window after it are over (review challenges LOW-1, review R2-5),
        // then anyone pays it to the node.
        vm.warp(uint256(challenges.bondsDueAt(stackId)) + 1);
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]) - operatorBefore, CHALLENGE_BOND, "the node receives it");
    }

    /// Review rev W-5: a receipt fraud proven after the settlement was paid out leaves it `Finalized` ("a paid one
    /// stays paid"), and the bonds held for the cheater's answers went to its operator once the window was over.
    function test_heldBondsGoBackToTheOwnerWhenAReceiptFraudIsProvenAfterThePayout() public {
        uint256 challengeId = _challenge(2);
        _answer(challengeId, 2);
        uint256 ownerBefore = token.balanceOf(user);
        uint256 operatorBefore = token.balanceOf(operatorOf[server]);
        vm.warp(uint256(settlement.getSettlement(stackId).windowEnds) + 1);
        settlement.finalize(stackId);
        vm.prank(address(receiptFraud));
        settlement.onReceiptFraud(stackId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Finalized, "stays paid");
        challenges.payHeld(stackId);
        assertEq(token.balanceOf(operatorOf[server]), operatorBefore, "not to the cheater's operator");
        assertEq(token.balanceOf(user) - ownerBefore, CHALLENGE_BOND, "back to the owner");
    }

    function test_aStackTakesABoundedNumberOfChallenges() public {
        for (uint256 k = 0; k < 4; ++k) {
            _answer(_challenge(k), k);
        }
        (AtomaTypedData.Response memory r, bytes memory sig) = _signed(4, served.respHashes[4]);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.TooManyChallenges.selector, stackId, 4));
        challenges.challenge(stackId, r, sig);
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "the honest node answered every one");
    }

    function test_anUpheldChallengeReturnsTheBondAndSlashesTheNode() public {
        (AtomaTypedData.Response memory r, bytes memory sig) = _signed(1, keccak256("a response left out of the root"));
        uint256 ownerBefore = token.balanceOf(user);
        vm.prank(user);
        uint256 challengeId = challenges.challenge(stackId, r, sig);
        vm.expectRevert();
        challenges.resolve(challengeId);
        vm.warp(block.timestamp + 10 minutes + 1);
        challenges.resolve(challengeId);
        assertEq(token.balanceOf(user), ownerBefore, "bond returned");
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Failed, "failed");
    }

    function test_aChallengeProvenByTheSignatureAloneNeedsNoBond() public {
        (AtomaTypedData.Response memory r, bytes memory sig) = _signed(5, served.respHashes[5]);
        r.cumulativeUnits = 500;
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(r));
        sig = abi.encodePacked(rr, ss, v);
        uint256 ownerBefore = token.balanceOf(user);
        vm.prank(user);
        uint256 challengeId = challenges.challenge(stackId, r, sig);
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Upheld, "upheld at once");
        assertEq(token.balanceOf(user), ownerBefore, "no bond taken");
        assertEq(challenges.challengesOf(stackId), 0, "not counted against the cap");
    }
}
