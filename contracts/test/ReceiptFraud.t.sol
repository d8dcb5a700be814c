// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ResultUnits} from "../src/common/ResultUnits.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {ReceiptFraud} from "../src/settlement/ReceiptFraud.sol";
import {RevealVerifier} from "../src/settlement/RevealVerifier.sol";
import {SettlementEvidence} from "../src/settlement/SettlementEvidence.sol";
import {SettlementSteps} from "./lib/SettlementSteps.sol";

/// @notice Units bound to what was computed, and nonces bound to leaf indices (soundness items 2, 15 and 10):
/// a node that bills what it did not serve — inflated units, a running total that does not add up, a request
/// billed twice, a nonce at another index — is caught by the attesters, fails its reveal, or is proven a cheater
/// from its own signatures or its own settled root.
contract ReceiptFraudTest is SettlementSteps {
    uint256 internal plainTask;
    uint256 internal verifiedTask;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) {
            addNode(1);
        }
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(plainTask, nodeIds[i], PRICE);
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        nextEpoch();
    }

    // ---------------------------------------------------------------- helpers

    /// The result bytes of a chat answer with `prompt` + `completion` tokens (canonical JSON, usage last).
    function _result(uint256 k, uint256 prompt, uint256 completion) internal pure returns (bytes memory) {
        return abi.encodePacked(
            '{"choices":[{"finish_reason":"stop","index":0,"text":"answer ',
            vm.toString(k),
            '"}],"model":"atoma-tiny","object":"chat.completion","usage":{"completion_tokens":',
            vm.toString(completion),
            ',"prompt_tokens":',
            vm.toString(prompt),
            ',"total_tokens":',
            vm.toString(prompt + completion),
            "}}"
        );
    }

    function _response(uint256 stackId, uint256 k, uint256 nonce, uint64 units, uint64 cumulative)
        internal
        pure
        returns (AtomaTypedData.Response memory)
    {
        return AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: k,
            nonce: nonce,
            reqHash: keccak256(requestBody(stackId, nonce)),
            respHash: keccak256(_result(k, 60, 40)),
            units: units,
            cumulativeUnits: cumulative,
            seed: 7
        });
    }

    function _sign(uint256 nodeId, AtomaTypedData.Response memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[nodeId], stacks.responseDigest(r));
        return abi.encodePacked(rr, ss, v);
    }

    /// `s` with leaf k replaced (hashes and root rebuilt).
    function _withLeaf(Served memory s, uint256 k, AtomaTypedData.Leaf memory leaf)
        internal
        pure
        returns (Served memory)
    {
        s.leaves[k] = leaf;
        s.reqHashes[k] = leaf.reqHash;
        s.respHashes[k] = leaf.respHash;
        s.hashes[k] = AtomaTypedData.leafHash(leaf);
        s.root = stackRoot(s.hashes);
        return s;
    }

    function _assertConvicted(uint256 stackId, uint256 server, uint256 refund) internal view {
        INodeRegistry.Node memory node = nodes.getNode(server);
        assertEq(node.collateral, 0, "all collateral slashed");
        assertTrue(node.status == INodeRegistry.NodeStatus.Slashed, "barred");
        assertEq(vault.balanceOf(user), refund + COLLATERAL * 3_000 / 10_000, "owner refunded and given its share");
        assertTrue(receiptFraud.proven(stackId), "recorded");
        assertTrue(settlement.fraudProven(stackId), "the settlement manager knows");
    }

    // ---------------------------------------------------------------- item 2: units bound to what was computed

    /// Three requests of 100 units, and the node's first receipt already bills the whole 1,000,000-unit stack
    /// with a running total that adds up: its units are not the usage of the answer it signed.
    function test_inflatedUnitsFromTheFirstAnswerAreProvenFromTheAnswerItself() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        AtomaTypedData.Response memory first = _response(stackId, 0, 0, 333_334, 333_334);
        bytes memory result = _result(0, 60, 40);
        assertEq(ResultUnits.unitsOf(result), 100, "the answer used 100 units");
        bytes memory sig = _sign(server, first);
        vm.expectRevert(ReceiptFraud.ResultHashMismatch.selector);
        receiptFraud.proveUnits(first, sig, _result(0, 60, 41));
        receiptFraud.proveUnits(first, sig, result);
        _assertConvicted(stackId, server, 2 ether);
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "stack closed");
        assertEq(vault.escrowOf(bytes32(stackId)), 0, "escrow returned");
    }

    function test_honestUnitsAreNoFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        AtomaTypedData.Response memory first = _response(stackId, 0, 0, 100, 100);
        bytes memory sig = _sign(server, first);
        vm.expectRevert(ReceiptFraud.NoFraud.selector);
        receiptFraud.proveUnits(first, sig, _result(0, 60, 40));
        vm.expectRevert(ReceiptFraud.NoFraud.selector);
        receiptFraud.proveResponse(first, sig);
        AtomaTypedData.Response memory second = _response(stackId, 1, 1, 100, 200);
        bytes memory sigSecond = _sign(server, second);
        vm.expectRevert(ReceiptFraud.NoFraud.selector);
        receiptFraud.proveResponses(first, sig, second, sigSecond);
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "nothing taken");
    }

    /// Honest units, a running total that jumps to the whole stack: two receipts that do not add up.
    function test_twoReceiptsThatDoNotAddUpProveFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        AtomaTypedData.Response memory first = _response(stackId, 0, 0, 100, 100);
        AtomaTypedData.Response memory second = _response(stackId, 1, 1, 100, 1_000_000);
        bytes memory sigFirst = _sign(server, first);
        bytes memory sigSecond = _sign(server, second);
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.InvalidResponseSignature.selector, 1));
        receiptFraud.proveResponses(first, sigFirst, second, sigFirst);
        // Order does not matter.
        assertEq(
            uint256(receiptFraud.proveResponses(second, sigSecond, first, sigFirst)),
            uint256(receiptFraud.KIND_RUNNING_TOTAL()),
            "KIND_RUNNING_TOTAL"
        );
        _assertConvicted(stackId, server, 2 ether);
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.AlreadyProven.selector, stackId));
        receiptFraud.proveResponses(first, sigFirst, second, sigSecond);
    }

    function test_aFirstReceiptWhoseTotalIsNotItsUnitsProvesFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        AtomaTypedData.Response memory first = _response(stackId, 0, 0, 100, 1_000_000);
        assertEq(
            uint256(receiptFraud.proveResponse(first, _sign(server, first))),
            uint256(receiptFraud.KIND_TOTAL()),
            "KIND_TOTAL"
        );
        _assertConvicted(stackId, server, 2 ether);
    }

    function test_aTotalBeyondTheStackProvesFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000);
        AtomaTypedData.Response memory r = _response(stackId, 5, 5, 100, 1_001);
        assertEq(
            uint256(receiptFraud.proveResponse(r, _sign(server, r))),
            uint256(receiptFraud.KIND_OVER_STACK()),
            "KIND_OVER_STACK"
        );
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
    }

    /// The node settles its honest leaves but claims the whole stack: its own last leaf contradicts it, so it
    /// cannot reveal (and fails verification), and anyone holding the transcript proves it from the root.
    function test_aSettlementClaimingMoreThanItsLeavesCannotBeRevealed() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest", 300);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        commitAs(stackId, atts[1], s);
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), s);
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(abi.encodeWithSelector(RevealVerifier.RunningTotalMismatch.selector, 2));
        settlement.reveal(stackId, revealed);
        vm.warp(block.timestamp + 10 minutes + 1);
        settlement.failVerification(stackId);
        assertEq(nodes.getNode(server).collateral, 0, "over-claim never pays");
    }

    /// The node inflates the units in its leaves (every leaf, consistent totals): the attesters recompute the
    /// units of the sampled requests and commit to them, so the reveal disagrees and a dispute opens, which the
    /// honest committee decides on answers and units together.
    function test_inflatedUnitsInTheLeavesAreCaughtByTheAttesters() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory honest = serve(stackId, 3, "honest", 300);
        Served memory inflated = withUnits(honest, 1_000_000);
        assertEq(honest.respHashes[1], inflated.respHashes[1], "same answers");
        settleServedAs(stackId, server, inflated, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], honest);
        commitAs(stackId, atts[1], honest);
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), inflated);
        vm.prank(vm.addr(signerKey[server]));
        settlement.reveal(stackId, revealed);
        openAttestations(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Disputed, "the attesters disagree");
        uint256 opened = disputes.disputeCount();
        bytes32 truth = resultOf(settlement.sampledIndices(stackId), honest);
        assertTrue(truth != settlement.revealedResult(stackId), "the units alone make the results differ");
        postEvidence(opened, stackId, server, inflated);
        draw(opened);
        // Honest members claim the units their outputs carry: the server's inflated units lose.
        castHonest(opened, stackId, committeeIds(opened), "honest");
        disputes.resolve(opened);
        assertEq(nodes.getNode(server).collateral, 0, "inflating units is fraud");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "not paid");
    }

    // ---------------------------------------------------------------- item 15: a request billed twice

    /// The server copies request 1 (its nonce and signature) to a new leaf 3 and bills it again. Its own root
    /// holds a leaf whose nonce is not its index: anyone with the transcript proves it.
    function test_aDuplicatedRequestInTheRootIsProvenFromTheRoot() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 400);
        AtomaTypedData.Leaf memory copy = s.leaves[1];
        copy.leafIndex = 3;
        copy.cumulativeUnits = 400;
        s = _withLeaf(s, 3, copy);
        settleServedAs(stackId, server, s, 400);
        AtomaTypedData.Leaf[] memory leaves = new AtomaTypedData.Leaf[](1);
        bytes32[][] memory proofs = new bytes32[][](1);
        leaves[0] = s.leaves[3];
        proofs[0] = stackProof(s.hashes, 3);
        assertEq(
            uint256(receiptFraud.proveSettledLeaves(stackId, leaves, proofs)),
            uint256(receiptFraud.KIND_SETTLED_LEAF()),
            "KIND_SETTLED_LEAF"
        );
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "accepted settlement failed: no fee");
        assertEq(vault.balanceOf(user), 2 ether + COLLATERAL * 3_000 / 10_000, "refund and share");
    }

    /// Neighbouring leaves of the root whose totals jump; consistent leaves and foreign proofs prove nothing.
    function test_settledNeighboursThatDoNotAddUpProveFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 400);
        AtomaTypedData.Leaf[] memory leaves = new AtomaTypedData.Leaf[](2);
        bytes32[][] memory proofs = new bytes32[][](2);
        leaves[0] = s.leaves[1];
        leaves[1] = s.leaves[2];
        proofs[0] = stackProof(s.hashes, 1);
        proofs[1] = stackProof(s.hashes, 2);
        AtomaTypedData.Leaf memory jump = s.leaves[2];
        jump.cumulativeUnits += 500;
        Served memory greedy = _withLeaf(serve(stackId, 4, "honest", 400), 2, jump);
        settleServedAs(stackId, server, greedy, 400);
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.InvalidProof.selector, 0));
        receiptFraud.proveSettledLeaves(stackId, leaves, proofs);
        leaves[1] = jump;
        proofs[0] = stackProof(greedy.hashes, 1);
        proofs[1] = stackProof(greedy.hashes, 2);
        AtomaTypedData.Leaf[] memory consistent = new AtomaTypedData.Leaf[](1);
        bytes32[][] memory consistentProof = new bytes32[][](1);
        consistent[0] = greedy.leaves[0];
        consistentProof[0] = stackProof(greedy.hashes, 0);
        vm.expectRevert(ReceiptFraud.NoFraud.selector);
        receiptFraud.proveSettledLeaves(stackId, consistent, consistentProof);
        receiptFraud.proveSettledLeaves(stackId, leaves, proofs);
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
    }

    /// When the copy is sampled the server cannot even reveal it.
    function test_aDuplicatedRequestFailsTheReveal() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 2, "honest", 1_000_000);
        AtomaTypedData.Leaf memory copy = s.leaves[0];
        copy.leafIndex = 1;
        copy.cumulativeUnits = 1_000_000;
        copy.units = 1_000_000 - s.leaves[0].units;
        s = _withLeaf(s, 1, copy);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        commitAs(stackId, atts[1], s);
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), s);
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(abi.encodeWithSelector(RevealVerifier.NonceNotLeafIndex.selector, 1, 0));
        settlement.reveal(stackId, revealed);
    }

    /// Two receipts with one nonce at different leaves.
    function test_twoLeavesWithOneNonceProveFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        AtomaTypedData.Response memory a = _response(stackId, 1, 1, 100, 200);
        AtomaTypedData.Response memory b = _response(stackId, 4, 1, 100, 500);
        assertEq(
            uint256(receiptFraud.proveResponses(a, _sign(server, a), b, _sign(server, b))),
            uint256(receiptFraud.KIND_SAME_NONCE()),
            "KIND_SAME_NONCE"
        );
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
    }

    // ---------------------------------------------------------------- item 10: the nonce is the leaf index

    function test_aSignedResponseWhoseNonceIsNotItsIndexProvesFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        AtomaTypedData.Response memory r = _response(stackId, 2, 7, 100, 300);
        bytes memory sig = _sign(server, r);
        AtomaTypedData.Response memory tampered = _response(stackId, 2, 7, 100, 300);
        tampered.units = 99;
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.InvalidResponseSignature.selector, 0));
        receiptFraud.proveResponse(tampered, sig);
        assertEq(uint256(receiptFraud.proveResponse(r, sig)), uint256(receiptFraud.KIND_NONCE()), "KIND_NONCE");
    }

    function test_postedRequestsMustCarryTheirIndexAsNonce() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        declareUnavailableAs(stackId, atts[0]);
        uint256[] memory idx = settlement.sampledIndices(stackId);
        SettlementEvidence.SignedRequest[] memory reqs = new SettlementEvidence.SignedRequest[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            // Another owner-signed request of the stack posted in place of the sampled one.
            uint256 other = (idx[i] + 1) % 4;
            reqs[i] = signedRequest(stackId, other, requestBody(stackId, other));
        }
        // Each sampled position refuses a request signed for another index, whichever position is tried.
        for (uint256 i = 0; i < reqs.length; ++i) {
            vm.prank(vm.addr(signerKey[server]));
            vm.expectRevert(abi.encodeWithSelector(SettlementEvidence.PostedNonceNotIndex.selector, i, reqs[i].nonce));
            evidence.postSampledRequest(stackId, i, reqs[i]);
        }
        assertEq(evidence.postedCount(stackId), 0, "nothing posted");
    }

    // ---------------------------------------------------------------- the positional tree

    /// An owner's challenge must be answered with the leaf at its own index: a node that settled leaves 2 and 3
    /// swapped (a sorted-pair tree would accept a leaf anywhere) cannot prove leaf 2.
    function test_aChallengeIsAnsweredOnlyAtTheLeafsIndex() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 400);
        AtomaTypedData.Leaf memory leaf2 = s.leaves[2];
        AtomaTypedData.Leaf memory leaf3 = s.leaves[3];
        s = _withLeaf(s, 3, leaf2);
        s = _withLeaf(s, 2, leaf3);
        settleServedAs(stackId, server, s, 400);
        AtomaTypedData.Response memory r = AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: leaf2.leafIndex,
            nonce: leaf2.nonce,
            reqHash: leaf2.reqHash,
            respHash: leaf2.respHash,
            units: leaf2.units,
            cumulativeUnits: leaf2.cumulativeUnits,
            seed: 7
        });
        bytes memory sig = _sign(server, r);
        vm.prank(user);
        uint256 id = challenges.challenge(stackId, r, sig);
        assertEq(challenges.getChallenge(id).leafIndex, 2, "the index is recorded");
        bytes32[] memory atThree = stackProof(s.hashes, 3);
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(ChallengeManager.InvalidProof.selector);
        challenges.answerChallenge(id, atThree);
    }

    // ---------------------------------------------------------------- when the proof comes

    function test_aProofDuringAnAttestationDisputeFailsTheSettlementWhenTheDisputeEnds() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        commitResult(stackId, atts[1], keccak256("dissent"));
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), s);
        vm.prank(vm.addr(signerKey[server]));
        settlement.reveal(stackId, revealed);
        openAttestations(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Disputed, "disputed");
        AtomaTypedData.Response memory r = _response(stackId, 1, 0, 100, 200);
        receiptFraud.proveResponse(r, _sign(server, r));
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Disputed, "the dispute runs on");
        vm.warp(block.timestamp + 20 minutes + 1);
        disputes.resolve(disputeId());
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "never paid");
    }

    /// The node settles (its attester draw pending, item 10's later block) and is proven a cheater before the
    /// draw runs: the settlement fails at once (refunded, never paid), and the draw that follows does nothing.
    function test_aProofWhileTheAttesterDrawIsPendingFailsTheSettlement() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest", 1_000_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, s.root, 1_000_000, 3, keccak256("transcript"));
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Drawing, "draw pending");
        uint256[] memory candidates = draws.candidatesFor(verifiedTask, server);
        AtomaTypedData.Response memory r = _response(stackId, 1, 0, 100, 200);
        receiptFraud.proveResponse(r, _sign(server, r));
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "failed at once");
        assertEq(settlement.attesterIdsOf(stackId).length, 0, "nobody drawn");
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, candidates);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "the draw changes nothing");
        assertEq(settlement.attesterIdsOf(stackId).length, 0, "still nobody drawn");
        assertEq(vault.escrowOf(bytes32(stackId)), 0, "escrow returned");
        assertEq(vault.balanceOf(user), 2.2 ether + COLLATERAL * 3_000 / 10_000, "owner refunded with its share");
    }

    function disputeId() internal view returns (uint256) {
        return disputes.disputeCount();
    }

    function test_aProofAfterPayoutStillSlashes() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 2, "honest", 200);
        settleServedAs(stackId, server, s, 200);
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        uint256 refunded = vault.balanceOf(user);
        AtomaTypedData.Response memory r = _response(stackId, 1, 1, 100, 5_000);
        receiptFraud.proveResponses(
            _response(stackId, 0, 0, 100, 100), _sign(server, _response(stackId, 0, 0, 100, 100)), r, _sign(server, r)
        );
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
        assertEq(vault.balanceOf(user), refunded + COLLATERAL * 3_000 / 10_000, "the owner's share of the slash");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Finalized, "the payout stands");
    }
}
