// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {AtomaVault} from "../src/payments/AtomaVault.sol";
import {RevealVerifier} from "../src/settlement/RevealVerifier.sol";
import {SettlementEvidence} from "../src/settlement/SettlementEvidence.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {SettlementSteps} from "./lib/SettlementSteps.sol";

contract SettlementTest is SettlementSteps {
    uint256 internal plainTask;
    uint256 internal verifiedTask;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) addNode(1);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(plainTask, nodeIds[i], PRICE);
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        nextEpoch();
    }

    // ---------------------------------------------------------------- helpers

    /// What a dispute committee votes for when it recomputes `s` at the sampled indices.
    function _result(uint256 stackId, Served memory s) internal view returns (bytes32) {
        return resultOf(settlement.sampledIndices(stackId), s);
    }

    function _reveal(uint256 stackId, uint256 server, Served memory s) internal {
        _reveal(stackId, server, s, "");
    }

    /// Reveals, and every attester opens its commitment; with `expected` non-empty, expects the reveal to revert
    /// with it.
    function _reveal(uint256 stackId, uint256 server, Served memory s, bytes memory expected) internal {
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), s);
        address signer = vm.addr(signerKey[server]);
        if (expected.length > 0) vm.expectRevert(expected);
        vm.prank(signer);
        settlement.reveal(stackId, revealed);
        if (expected.length == 0) openAttestations(stackId);
    }

    /// The server posts the disputed requests and the committee is drawn.
    function _openVote(uint256 disputeId, uint256 stackId, uint256 server, Served memory claimed)
        internal
        returns (uint256[] memory committee)
    {
        postEvidence(disputeId, stackId, server, claimed);
        draw(disputeId);
        committee = committeeIds(disputeId);
    }

    // ---------------------------------------------------------------- unverified stacks

    function test_unverifiedStackSettlesPaysFeeShareAndRefunds() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        assertEq(vault.escrowOf(bytes32(stackId)), 2 ether, "escrow = price x units");
        Served memory s = serve(stackId, 3, "honest");
        settleServedAs(stackId, server, s, 600_000);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "accepted without sampling");
        vm.expectRevert();
        settlement.finalize(stackId);
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(vault.escrowOf(bytes32(stackId)), 0, "escrow paid out");
        uint256 epoch = nodes.currentEpoch();
        (uint128 claimable,) = vault.nodeLedger(server, epoch);
        assertEq(claimable, 1.14 ether, "node fee = cost less the model owner's 5%");
        (uint128 ownerFee,) = vault.ownerLedger(modelOwner, epoch);
        assertEq(ownerFee, 0.06 ether, "model owner's share");
        assertEq(vault.balanceOf(user), 0.8 ether, "unused units refunded");
        assertEq(nodes.getNode(server).reputation, 1, "reputation up on honest settlement");
        assertEq(nodes.getNode(server).obligations, 0, "obligation released");

        uint256[] memory epochs = new uint256[](1);
        epochs[0] = epoch;
        vm.expectRevert(abi.encodeWithSelector(AtomaVault.EpochNotEnded.selector, epoch));
        vault.claimNodeFees(server, epochs);
        nextEpoch();
        uint256 before = token.balanceOf(operatorOf[server]);
        vault.claimNodeFees(server, epochs);
        assertEq(token.balanceOf(operatorOf[server]) - before, 1.14 ether, "fee claimed to the operator");
        vm.expectRevert(AtomaVault.NothingToClaim.selector);
        vault.claimNodeFees(server, epochs);
        vault.withdraw(user);
        vm.expectRevert(AtomaVault.NothingToClaim.selector);
        vault.withdraw(user);
        vm.prank(modelOwner);
        vault.claimOwnerFees(epochs);
        assertEq(token.balanceOf(address(vault)), 0, "vault empty once everything is claimed");
    }

    function test_onlyTheSelectedNodeSettlesWithinBounds() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000);
        Served memory s = serve(stackId, 2, "honest");
        uint256 other = server == nodeIds[0] ? nodeIds[1] : nodeIds[0];
        vm.prank(vm.addr(signerKey[other]));
        vm.expectRevert(
            abi.encodeWithSelector(SettlementManager.NotServingNode.selector, stackId, vm.addr(signerKey[other]))
        );
        settlement.settle(stackId, s.root, 10, 2, 0);
        vm.prank(operatorOf[server]);
        vm.expectRevert(abi.encodeWithSelector(StackManager.UnitsExceedStack.selector, 1_001, 1_000));
        settlement.settle(stackId, s.root, 1_001, 2, 0);
        vm.prank(operatorOf[server]);
        vm.expectRevert(SettlementManager.InvalidSettlement.selector);
        settlement.settle(stackId, s.root, 10, 0, 0);
        vm.warp(block.timestamp + 1 days + 1 hours + 1);
        vm.prank(operatorOf[server]);
        vm.expectRevert();
        settlement.settle(stackId, s.root, 10, 2, 0);
    }

    function test_closeStackStartsTheSettlementDeadline() public {
        (uint256 stackId,) = buy(plainTask, 1_000);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NotStackOwner.selector, stackId, address(this)));
        stacks.closeStack(stackId);
        vm.prank(user);
        stacks.closeStack(stackId);
        assertEq(stacks.settleDeadline(stackId), block.timestamp + 1 hours, "deadline from the close");
    }

    function test_settlementTimeoutRefundsAndSlashes() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        vm.expectRevert();
        settlement.timeoutSettlement(stackId);
        vm.warp(block.timestamp + 1 days + 1 hours + 1);
        uint256 supply = token.totalSupply();
        settlement.timeoutSettlement(stackId);
        uint256 slashed = COLLATERAL * 500 / 10_000;
        assertEq(nodes.getNode(server).collateral, COLLATERAL - slashed, "5% slashed");
        assertEq(nodes.getNode(server).reputation, 0, "reputation down on timeout");
        assertEq(vault.balanceOf(user), 2 ether + slashed / 2, "full refund plus half the slash");
        assertEq(vault.balanceOf(treasury), slashed / 4, "a quarter to the treasury");
        assertEq(supply - token.totalSupply(), slashed / 4, "the rest burned");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "closed");
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.StackNotActive.selector, stackId));
        settlement.timeoutSettlement(stackId);
    }

    // ---------------------------------------------------------------- sampled settlements

    function test_sampledSettlementWithAgreeingAttesters() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        assertEq(vault.escrowOf(bytes32(stackId)), 2.2 ether, "escrow includes the 10% surcharge");
        Served memory s = serve(stackId, 5, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "sampled at p = 1");
        uint256[] memory atts = attestersOf(stackId);
        assertEq(atts.length, 2, "two attesters");
        assertTrue(atts[0] != server && atts[1] != server && atts[0] != atts[1], "distinct, never the server");
        assertEq(settlement.sampledIndices(stackId).length, 2, "two requests checked");
        commitAs(stackId, atts[0], s);
        bytes32 again = commitmentOf(stackId, atts[0], settlement.sampledIndices(stackId), s);
        vm.prank(vm.addr(signerKey[atts[0]]));
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.AlreadyCommitted.selector, stackId, atts[0]));
        settlement.commitAttestation(stackId, atts[0], again);
        commitAs(stackId, atts[1], s);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Reveal, "reveal opens when all committed");
        _reveal(stackId, server, s);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "agreement");
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(claimableOf(atts[0]), 0.1 ether, "each attester gets half the surcharge");
        assertEq(claimableOf(server), 1.9 ether, "server paid");
        assertEq(vault.balanceOf(user), 0, "nothing left to refund");
        assertEq(nodes.getNode(atts[0]).obligations, 0, "attester released");
    }

    function test_revealRejectsProofsThatDoNotMatchTheRoot() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000);
        Served memory s = serve(stackId, 4, "honest", 100);
        settleServedAs(stackId, server, s, 100);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        commitAs(stackId, atts[1], s);
        Served memory forged = serve(stackId, 4, "forged", 100);
        forged.hashes = s.hashes;
        _reveal(stackId, server, forged, abi.encodeWithSelector(RevealVerifier.InvalidProof.selector, 0));
    }

    function test_cheatingServerIsCaughtSlashedAndTheUserRefunded() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory honest = serve(stackId, 6, "honest", 1_000_000);
        Served memory lies = serve(stackId, 6, "cheap model", 1_000_000);
        settleServedAs(stackId, server, lies, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], honest);
        commitAs(stackId, atts[1], honest);
        _reveal(stackId, server, lies);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Disputed, "disagreement opens a dispute");
        uint256 disputeId = disputes.disputeCount();
        uint256[] memory committee = _openVote(disputeId, stackId, server, lies);
        assertEq(committee.length, 3, "committee of three");
        for (uint256 i = 0; i < committee.length; ++i) {
            assertTrue(committee[i] != server && committee[i] != atts[0] && committee[i] != atts[1], "fresh");
        }
        castHonest(disputeId, stackId, committee, "honest");
        assertEq(disputes.getDispute(disputeId).serverResult, _result(stackId, lies), "the lie");
        uint256 supply = token.totalSupply();
        disputes.resolve(disputeId);
        INodeRegistry.Node memory cheater = nodes.getNode(server);
        assertEq(cheater.collateral, 0, "all collateral slashed");
        assertEq(cheater.reputation, 0, "reputation zero");
        assertTrue(cheater.status == INodeRegistry.NodeStatus.Slashed, "barred");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "settlement failed");
        assertEq(vault.balanceOf(user), 2 ether + COLLATERAL * 3_000 / 10_000, "refund plus 30% of the slash");
        uint256 honestShare = COLLATERAL * 3_000 / 10_000 / 5;
        assertEq(claimableOf(atts[0]), 0.1 ether + honestShare, "attester: verification fee and a share");
        assertEq(claimableOf(committee[0]), honestShare, "committee member: a share");
        assertEq(vault.balanceOf(treasury), COLLATERAL * 2_000 / 10_000, "treasury 20%");
        assertEq(supply - token.totalSupply(), COLLATERAL * 2_000 / 10_000, "20% burned");
        // The slash is constant-cost: anyone removes the barred node's subscriptions afterwards.
        uint256[] memory left = tasks.tasksOf(server);
        for (uint256 i = 0; i < left.length; ++i) tasks.removeBarred(left[i], server);
        assertEq(tasks.tasksOf(server).length, 0, "unsubscribed");
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.DisputeClosed.selector, disputeId));
        disputes.resolve(disputeId);
    }

    function test_lyingAttesterLosesItsCollateral() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        commitResult(stackId, atts[1], keccak256("a result it never computed"));
        _reveal(stackId, server, s);
        uint256 disputeId = disputes.disputeCount();
        uint256[] memory committee = _openVote(disputeId, stackId, server, s);
        castHonest(disputeId, stackId, committee, "honest");
        disputes.resolve(disputeId);
        assertEq(nodes.getNode(atts[1]).collateral, 0, "lazy attester slashed");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "server untouched");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "settlement stands");
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(claimableOf(atts[0]), 0.2 ether + COLLATERAL * 3_000 / 10_000 / 5, "only the agreeing attester is paid");
    }

    function test_minorityOfColludingVotersDoesNotSaveTheCheater() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory honest = serve(stackId, 4, "honest", 1_000_000);
        Served memory lies = serve(stackId, 4, "lies", 1_000_000);
        settleServedAs(stackId, server, lies, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], honest);
        commitAs(stackId, atts[1], lies);
        _reveal(stackId, server, lies);
        uint256 disputeId = disputes.disputeCount();
        uint256[] memory committee = _openVote(disputeId, stackId, server, lies);
        // committee[1] colludes: it holds the server's outputs and votes for them.
        Ballot[] memory ballots = new Ballot[](3);
        ballots[0] = ballot(committee[0], sampledOutputs(stackId, "honest"));
        ballots[1] = ballot(committee[1], sampledOutputs(stackId, "lies"));
        ballots[2] = ballot(committee[2], sampledOutputs(stackId, "honest"));
        assertEq(ballots[1].claim, settlement.revealedResult(stackId), "the colluder votes the server's claim");
        cast(disputeId, committee, ballots);
        disputes.resolve(disputeId);
        assertEq(nodes.getNode(server).collateral, 0, "cheater slashed");
        assertEq(nodes.getNode(atts[1]).collateral, 0, "colluding attester slashed");
        assertEq(nodes.getNode(committee[1]).collateral, 0, "colluding voter slashed");
        assertEq(nodes.getNode(committee[0]).collateral, COLLATERAL, "honest voter kept");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "refunded");
    }

    function test_disputeWithoutVotesEndsAtItsDeadline() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        commitResult(stackId, atts[1], keccak256("garbage"));
        _reveal(stackId, server, s);
        uint256 disputeId = disputes.disputeCount();
        vm.expectRevert();
        disputes.resolve(disputeId);
        uint256[] memory committee = _openVote(disputeId, stackId, server, s);
        vm.expectRevert();
        disputes.resolve(disputeId);
        vm.warp(block.timestamp + 20 minutes + 1);
        disputes.resolve(disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        assertTrue(!d.decided, "inconclusive");
        assertEq(nodes.getNode(committee[0]).collateral, COLLATERAL * 9_500 / 10_000, "silent member slashed 5%");
        assertEq(nodes.getNode(atts[1]).collateral, COLLATERAL, "no fraud slash without a majority");
        // Nothing decided: the server is not paid (nor slashed), and the dissenter is not rewarded either.
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "no payment without a decision");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "server not slashed");
        assertEq(claimableOf(atts[1]), 0, "dissenter not paid");
    }

    function test_serverThatDoesNotRevealFailsVerification() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        commitAs(stackId, atts[1], s);
        vm.expectRevert();
        settlement.failVerification(stackId);
        vm.warp(block.timestamp + 10 minutes + 1);
        settlement.failVerification(stackId);
        assertEq(nodes.getNode(server).collateral, 0, "withholding counts as fraud");
        assertEq(vault.balanceOf(user), 2 ether + COLLATERAL * 3_000 / 10_000, "refund and share");
        assertEq(claimableOf(atts[0]), 0.1 ether + COLLATERAL * 3_000 / 10_000 / 2, "attesters paid");
    }

    function test_unfetchableTranscriptIsPostedOnChain() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        declareUnavailableAs(stackId, atts[0]);
        SettlementEvidence.SignedRequest[] memory reqs = signedSampledRequests(stackId, 1e9);
        reqs[0].signature[0] ^= 0x01;
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(abi.encodeWithSelector(SettlementEvidence.InvalidRequestSignature.selector, 0));
        evidence.postSampledRequest(stackId, 0, reqs[0]);
        reqs = signedSampledRequests(stackId, 1e9);
        postRequestsAs(stackId, server, reqs);
        commitAs(stackId, atts[0], s);
        commitAs(stackId, atts[1], s);
        _reveal(stackId, server, s);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "settles after the data was posted");
    }

    /// Review 3: the sampled requests posted on-chain carry the owner's unit bound; a server that settled a leaf above
    /// it cannot reveal that leaf, so it fails verification and loses its collateral, as for any unprovable leaf.
    function test_aPostedRequestBoundsItsRevealedLeaf() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        declareUnavailableAs(stackId, atts[0]);
        // The owner signed 10 units per request; the server billed 250,000 for each.
        SettlementEvidence.SignedRequest[] memory reqs = signedSampledRequests(stackId, 10);
        postRequestsAs(stackId, server, reqs);
        commitAs(stackId, atts[0], s);
        commitAs(stackId, atts[1], s);
        uint256 first = settlement.sampledIndices(stackId)[0];
        _reveal(
            stackId,
            server,
            s,
            abi.encodeWithSelector(
                SettlementEvidence.UnitsOverSigned.selector, stackId, 0, s.leaves[first].units, uint64(10)
            )
        );
        vm.warp(block.timestamp + 1 days);
        settlement.failVerification(stackId);
        assertEq(nodes.getNode(server).collateral, 0, "an over-bound leaf is fraud");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "failed");
    }

    function test_withheldTranscriptFailsVerification() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        declareUnavailableAs(stackId, atts[0]);
        vm.warp(block.timestamp + 20 minutes + 1);
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.DataPending.selector, stackId));
        settlement.timeoutAttesters(stackId);
        settlement.failVerification(stackId);
        assertEq(nodes.getNode(server).collateral, 0, "withholding data never pays");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "failed");
    }

    function test_silentAttesterIsSlashedAndReplaced() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest", 1_000_000);
        settleServedAs(stackId, server, s, 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], s);
        vm.warp(block.timestamp + 10 minutes + 1);
        settlement.timeoutAttesters(stackId);
        drawAttesters(stackId);
        assertEq(nodes.getNode(atts[1]).collateral, COLLATERAL * 9_500 / 10_000, "silent attester slashed 5%");
        assertEq(nodes.getNode(atts[1]).obligations, 0, "and released");
        uint256[] memory now_ = attestersOf(stackId);
        assertEq(now_.length, 3, "a replacement joined");
        uint256 replacement = now_[2];
        assertTrue(replacement != server && replacement != atts[0] && replacement != atts[1], "fresh replacement");
        commitAs(stackId, replacement, s);
        _reveal(stackId, server, s);
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(claimableOf(replacement), 0.1 ether, "replacement paid");
        assertEq(claimableOf(atts[1]), 0, "silent attester unpaid");
    }

    // ---------------------------------------------------------------- owner challenges

    function _signedResponse(uint256 stackId, uint256 server, uint256 k, bytes32 reqHash, bytes32 respHash, uint64 cumulative)
        internal
        view
        returns (AtomaTypedData.Response memory r, bytes memory sig)
    {
        r = AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: k,
            nonce: k,
            reqHash: reqHash,
            respHash: respHash,
            units: 100,
            cumulativeUnits: cumulative,
            seed: 7
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(r));
        sig = abi.encodePacked(rr, ss, v);
    }

    function test_ownerProvesAnOverClaimWithTheLastSignedResponse() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest");
        settleServedAs(stackId, server, s, 900_000);
        (AtomaTypedData.Response memory r, bytes memory sig) =
            _signedResponse(stackId, server, 2, s.reqHashes[2], s.respHashes[2], 300);
        vm.expectRevert(abi.encodeWithSelector(ChallengeManager.NotStackOwner.selector, stackId, address(this)));
        challenges.challenge(stackId, r, sig);
        vm.prank(user);
        challenges.challenge(stackId, r, sig);
        assertEq(nodes.getNode(server).collateral, 0, "over-claim is fraud");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "no fee");
        assertEq(vault.balanceOf(user), 2 ether + COLLATERAL * 3_000 / 10_000, "refund and share");
    }

    function test_ownerChallengeOfAMissingLeafWinsWhenTheNodeCannotAnswer() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest");
        settleServedAs(stackId, server, s, 300);
        (AtomaTypedData.Response memory r, bytes memory sig) =
            _signedResponse(stackId, server, 1, s.reqHashes[1], keccak256("a response left out of the root"), 200);
        vm.prank(user);
        uint256 disputeId = challenges.challenge(stackId, r, sig);
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(ChallengeManager.InvalidProof.selector);
        challenges.answerChallenge(disputeId, stackProof(s.hashes, 1));
        vm.warp(block.timestamp + 10 minutes + 1);
        challenges.resolve(disputeId);
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "failed");
    }

    function test_ownerChallengeIsDismissedByAMerkleProof() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest");
        settleServedAs(stackId, server, s, 300);
        (AtomaTypedData.Response memory r, bytes memory sig) =
            _signedResponse(stackId, server, 1, s.reqHashes[1], s.respHashes[1], 200);
        vm.prank(user);
        uint256 disputeId = challenges.challenge(stackId, r, sig);
        vm.prank(vm.addr(signerKey[server]));
        challenges.answerChallenge(disputeId, stackProof(s.hashes, 1));
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "back to accepted");
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "not slashed");
    }

    function test_challengeNeedsTheNodesSignature() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 3, "honest");
        settleServedAs(stackId, server, s, 300);
        (AtomaTypedData.Response memory r, bytes memory sig) =
            _signedResponse(stackId, server, 1, s.reqHashes[1], s.respHashes[1], 200);
        r.cumulativeUnits = 1;
        vm.prank(user);
        vm.expectRevert(ChallengeManager.InvalidResponseSignature.selector);
        challenges.challenge(stackId, r, sig);
    }

    function test_aNodeBarredForFraudSettlesNoMoreAndItsOtherStacksAreRefunded() public {
        uint256 solo = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(solo, nodeIds[0], PRICE);
        (uint256 first, uint256 server) = buy(solo, 1_000_000);
        (uint256 second,) = buy(solo, 1_000_000);
        assertEq(server, nodeIds[0], "the only subscriber serves both");
        Served memory s = serve(first, 3, "honest");
        settleServedAs(first, server, s, 900_000);
        (AtomaTypedData.Response memory r, bytes memory sig) =
            _signedResponse(first, server, 2, s.reqHashes[2], s.respHashes[2], 300);
        vm.prank(user);
        challenges.challenge(first, r, sig);
        Served memory other = serve(second, 3, "honest");
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert();
        settlement.settle(second, other.root, 300, 3, 0);
        vm.warp(block.timestamp + 1 days + 1 hours + 1);
        settlement.timeoutSettlement(second);
        assertEq(vault.escrowOf(bytes32(second)), 0, "refunded");
    }
}
