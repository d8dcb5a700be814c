// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {IDisputeManager} from "../src/interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {NodeRegistry} from "../src/registry/NodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {ConsensusCommitment} from "../src/common/ConsensusCommitment.sol";
import {ConsensusRequests} from "../src/consensus/ConsensusRequests.sol";
import {ExampleConsumer} from "../src/test/ExampleConsumer.sol";
import {DisputeSteps} from "./lib/DisputeSteps.sol";
import {Vm} from "./lib/Vm.sol";

/// @notice Settlement disputes played by their attackers (issue 10, items 1, 8, 14, 17): a caught server that
/// goes silent, committee members that vote without computing, a committee that cannot be formed, requests no
/// member can replay, and members that time out.
contract DisputesTest is DisputeSteps {
    uint256 internal verifiedTask;
    uint256 internal constant FRAUD_SHARE = COLLATERAL * 3_000 / 10_000;
    uint256 internal constant TIMEOUT_SLASH = COLLATERAL * 500 / 10_000;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) {
            addNode(1);
        }
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        nextEpoch();
    }

    // ---------------------------------------------------------------- a disputed settlement

    struct Case {
        uint256 stackId;
        uint256 server;
        uint256[] attesters;
        uint256 disputeId;
        Served claimed;
    }

    /// A stack whose server settles the outputs of `serverSalt` while its attesters compute honestly (the first
    /// attester commits and opens a result it never computed instead when `lyingAttester`): the openings after the
    /// reveal open a dispute.
    function _disputed(bytes32 serverSalt, bool lyingAttester) internal returns (Case memory c) {
        (c.stackId, c.server) = buy(verifiedTask, 1_000_000);
        c.claimed = serve(c.stackId, 4, serverSalt, 1_000_000);
        settleAs(c.stackId, c.server, c.claimed.root, 1_000_000, 4);
        ISettlementManager.Settlement memory st = settlement.getSettlement(c.stackId);
        assertTrue(st.phase == ISettlementManager.Phase.Commit, "sampled");
        Served memory honest = serve(c.stackId, 4, "honest", 1_000_000);
        uint256[] memory idx = settlement.sampledIndices(c.stackId);
        SettlementManager.Attester[] memory list = settlement.attestersOf(c.stackId);
        c.attesters = new uint256[](list.length);
        for (uint256 i = 0; i < list.length; ++i) {
            uint256 a = list[i].nodeId;
            c.attesters[i] = a;
            commitResult(c.stackId, a, lyingAttester && i == 0 ? keccak256("garbage") : resultOf(idx, honest));
        }
        vm.prank(vm.addr(signerKey[c.server]));
        settlement.reveal(c.stackId, revealOf(idx, c.claimed));
        openAttestations(c.stackId);
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Disputed, "disputed");
        c.disputeId = disputes.disputeCount();
    }

    function _phase(uint256 stackId) internal view returns (ISettlementManager.Phase) {
        return settlement.getSettlement(stackId).phase;
    }

    function _claimable(uint256 nodeId) internal view returns (uint256 claimable) {
        (claimable,) = vault.nodeLedger(nodeId, nodes.currentEpoch());
    }

    function _collateral(uint256 nodeId) internal view returns (uint256) {
        return nodes.getNode(nodeId).collateral;
    }

    // ---------------------------------------------------------------- item 1: the caught cheater goes silent

    function test_aCaughtServerThatWithholdsTheDisputedRequestsLosesAsForFraud() public {
        Case memory c = _disputed("cheap model", false);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        assertEq(committee.length, 3, "committee drawn");
        assertEq(disputes.getDispute(c.disputeId).commitDeadline, 0, "no vote without the evidence");
        vm.prank(vm.addr(signerKey[committee[0]]));
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.VoteNotOpen.selector, c.disputeId));
        disputes.commitVote(c.disputeId, committee[0], keccak256("anything"));
        // The server goes silent: the dispute cannot be resolved in its favour, only against it once the window ends.
        vm.expectRevert(
            abi.encodeWithSelector(
                DisputeManager.TooEarly.selector, c.disputeId, disputes.getDispute(c.disputeId).evidenceDeadline
            )
        );
        disputes.resolve(c.disputeId);
        vm.warp(block.timestamp + 10 minutes + 1);
        IDisputeManager.EvidenceRequest[] memory late = evidenceOf(c.stackId);
        vm.prank(vm.addr(signerKey[c.server]));
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.EvidenceWindowOver.selector, c.disputeId));
        disputes.postEvidence(c.disputeId, 0, late, new bytes32[](0));
        uint256 supply = token.totalSupply();
        disputes.resolve(c.disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
        assertTrue(d.outcome == DisputeManager.Outcome.Withheld, "withheld");
        INodeRegistry.Node memory cheater = nodes.getNode(c.server);
        assertEq(cheater.collateral, 0, "the withholding server loses all its collateral");
        assertTrue(cheater.status == INodeRegistry.NodeStatus.Slashed, "barred");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "not paid");
        assertEq(vault.balanceOf(user), 2 ether + FRAUD_SHARE, "refund and the user's fraud share");
        uint256 each = FRAUD_SHARE / 2;
        for (uint256 i = 0; i < 2; ++i) {
            assertEq(_claimable(c.attesters[i]), 0.1 ether + each, "dissenting attester: fee and the honest share");
            assertEq(nodes.getNode(c.attesters[i]).obligations, 0, "attester released");
        }
        for (uint256 i = 0; i < committee.length; ++i) {
            assertEq(_collateral(committee[i]), COLLATERAL, "committee not slashed");
            assertEq(nodes.getNode(committee[i]).obligations, 0, "committee released");
        }
        assertEq(vault.balanceOf(treasury), COLLATERAL * 2_000 / 10_000, "treasury share");
        assertEq(supply - token.totalSupply(), COLLATERAL * 2_000 / 10_000, "the rest burned");
    }

    function test_withholdingLosesEvenWhenNoCommitteeWasDrawn() public {
        Case memory c = _disputed("cheap model", false);
        vm.warp(block.timestamp + 10 minutes + 1);
        disputes.resolve(c.disputeId);
        assertEq(_collateral(c.server), 0, "slashed without a committee");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "not paid");
    }

    function test_evidenceMustBeTheOwnerSignedRequestOfTheRevealedLeaf() public {
        Case memory c = _disputed("cheap model", false);
        bytes32[] memory revealed = revealedReqHashes(c.stackId, c.claimed);
        IDisputeManager.EvidenceRequest[] memory reqs = evidenceOf(c.stackId);
        address server = vm.addr(signerKey[c.server]);
        // A request the owner did not sign.
        IDisputeManager.EvidenceRequest[] memory forged = evidenceOf(c.stackId);
        forged[0].signature[0] ^= 0x01;
        vm.prank(server);
        vm.expectRevert();
        disputes.postEvidence(c.disputeId, 0, forged, revealed);
        // Another owner-signed request than the one at the sampled position (its nonce is another leaf's index).
        IDisputeManager.EvidenceRequest[] memory swapped = evidenceOf(c.stackId);
        (swapped[0], swapped[1]) = (swapped[1], swapped[0]);
        vm.prank(server);
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.EvidenceDoesNotMatchReveal.selector, c.disputeId));
        disputes.postEvidence(c.disputeId, 0, swapped, revealed);
        // Request hashes other than the revealed leaves'.
        bytes32[] memory other = new bytes32[](revealed.length);
        vm.prank(server);
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.EvidenceDoesNotMatchReveal.selector, c.disputeId));
        disputes.postEvidence(c.disputeId, 0, reqs, other);
        vm.prank(server);
        disputes.postEvidence(c.disputeId, 0, reqs, revealed);
    }

    function test_evidenceTooLargeIsRefusedAndTheBoundNeverShrinks() public {
        DisputeManager.Params memory p = disputeParams(disputes);
        p.maxEvidenceBytes = 2_048;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "maxEvidenceBytes", 2_048));
        disputes.setParams(p);
        p.maxEvidenceBytes = 131_072;
        vm.prank(admin);
        disputes.setParams(p);
        (,,,,,,, uint32 maxBytes) = disputes.params();
        assertEq(maxBytes, 131_072, "raised");
    }

    // ---------------------------------------------------------------- the honest path, with the evidence

    function test_anHonestServerPostsItsEvidenceAndTheCommitteeOutvotesALyingAttester() public {
        Case memory c = _disputed("honest", true);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        castHonest(c.disputeId, c.stackId, committee, "honest");
        disputes.resolve(c.disputeId);
        assertTrue(disputes.getDispute(c.disputeId).outcome == DisputeManager.Outcome.Decided, "decided");
        assertEq(_collateral(c.attesters[0]), 0, "the lying attester is slashed");
        assertEq(_collateral(c.server), COLLATERAL, "the honest server keeps its collateral");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Accepted, "and is paid");
        for (uint256 i = 0; i < 3; ++i) {
            assertGe(_claimable(committee[i]), FRAUD_SHARE / 5, "members share");
        }
    }

    // ---------------------------------------------------------------- item 8: lazy members

    function test_lazyMembersVotingTheServersPublicClaimCannotShowTheWorkAndLose() public {
        Case memory c = _disputed("cheap model", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        bytes32 serverClaim = disputes.getDispute(c.disputeId).serverResult;
        // Two members copy the server's public claim without computing; one recomputes.
        Ballot[] memory ballots = new Ballot[](3);
        for (uint256 i = 0; i < 2; ++i) {
            ballots[i].claim = serverClaim;
            ballots[i].work = keccak256(abi.encode("no work", committee[i]));
            ballots[i].salt = keccak256(abi.encode("salt", committee[i]));
        }
        ballots[2] = ballot(committee[2], sampledOutputs(c.stackId, "honest"));
        cast(c.disputeId, committee, ballots);
        // The lazy members cannot show outputs that hash to the server's claim and to their work.
        Ballot memory guess = ballot(committee[0], sampledOutputs(c.stackId, "honest"));
        vm.prank(vm.addr(signerKey[committee[0]]));
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.OutputDoesNotMatchWork.selector, 0));
        disputes.substantiate(c.disputeId, committee[0], shownOf(guess));
        vm.expectRevert();
        disputes.resolve(c.disputeId);
        vm.warp(block.timestamp + 20 minutes + 1);
        disputes.resolve(c.disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
        // One shown vote of three drawn is no quorum: nothing is decided on the claim.
        assertTrue(d.outcome == DisputeManager.Outcome.Undecided, "one shown vote of three decides nothing");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "the lazy majority did not get the cheater paid");
        assertEq(_collateral(c.server), COLLATERAL, "nor is it slashed without a quorum");
        for (uint256 i = 0; i < 2; ++i) {
            assertEq(_collateral(committee[i]), 0, "lazy member slashed");
            assertEq(_claimable(committee[i]), 0, "and not paid");
        }
        assertEq(_collateral(committee[2]), COLLATERAL, "the working member keeps its collateral");
    }

    function test_aLazyMemberCannotShowOutputsAnotherMemberPostedFirst() public {
        Case memory c = _disputed("honest", true);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        Ballot[] memory ballots = new Ballot[](3);
        ballots[0] = ballot(committee[0], sampledOutputs(c.stackId, "honest"));
        ballots[1] = ballot(committee[1], sampledOutputs(c.stackId, "honest"));
        // The lazy member votes the (right) server claim with made-up work.
        ballots[2].claim = ballots[0].claim;
        ballots[2].work = keccak256("made-up work");
        ballots[2].salt = keccak256("lazy salt");
        cast(c.disputeId, committee, ballots);
        // Once the honest outputs are public it tries to show them as its own: its work was bound to its node id
        // before it had them.
        Ballot memory copied = ballot(committee[0], sampledOutputs(c.stackId, "honest"));
        vm.prank(vm.addr(signerKey[committee[2]]));
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.OutputDoesNotMatchWork.selector, 0));
        disputes.substantiate(c.disputeId, committee[2], shownOf(copied));
        vm.warp(block.timestamp + 20 minutes + 1);
        disputes.resolve(c.disputeId);
        assertEq(_collateral(committee[2]), 0, "the copier is slashed though its claim was right");
        assertEq(_collateral(c.server), COLLATERAL, "the honest server stands");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Accepted, "and is paid");
    }

    // ---------------------------------------------------------------- review 3: a quorum of the drawn committee

    /// A colluding member shows the cheater's claim (it holds the cheater's outputs) while the other members are
    /// kept silent: one shown vote of three drawn no longer decides for the server.
    function test_aLoneColluderShowingTheServersClaimCannotDecideForIt() public {
        Case memory c = _disputed("cheap model", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        Ballot memory colluder = ballot(committee[0], sampledOutputs(c.stackId, "cheap model"));
        assertEq(colluder.claim, disputes.getDispute(c.disputeId).serverResult, "the server's claim");
        commitBallot(c.disputeId, committee[0], colluder);
        vm.warp(block.timestamp + 10 minutes + 1);
        revealBallot(c.disputeId, committee[0], colluder);
        showBallot(c.disputeId, committee[0], colluder);
        vm.warp(block.timestamp + 10 minutes);
        disputes.resolve(c.disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
        assertTrue(d.outcome == DisputeManager.Outcome.Undecided, "no quorum");
        assertTrue(!d.decided, "not decided");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "the server is not paid");
        assertEq(_collateral(c.server), COLLATERAL, "nor slashed: nothing was decided");
        assertEq(vault.balanceOf(user), 2.2 ether, "the owner is refunded in full, the surcharge included");
        for (uint256 i = 0; i < 2; ++i) {
            assertEq(_claimable(c.attesters[i]), 0, "the dissenters earn nothing from an undecided dispute");
        }
        for (uint256 i = 1; i < 3; ++i) {
            assertEq(_collateral(committee[i]), COLLATERAL - TIMEOUT_SLASH, "silent members lose the timeout share");
        }
    }

    /// A split vote (one member shows the honest outputs, a colluder the server's, one is silent) used to be
    /// Undecided and pay the server: it now pays nobody and slashes nobody for the claim.
    function test_aSplitVoteDoesNotPayTheServer() public {
        Case memory c = _disputed("cheap model", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        Ballot[] memory ballots = new Ballot[](2);
        ballots[0] = ballot(committee[0], sampledOutputs(c.stackId, "honest"));
        ballots[1] = ballot(committee[1], sampledOutputs(c.stackId, "cheap model"));
        for (uint256 i = 0; i < 2; ++i) {
            commitBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes + 1);
        for (uint256 i = 0; i < 2; ++i) {
            revealBallot(c.disputeId, committee[i], ballots[i]);
            showBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes);
        disputes.resolve(c.disputeId);
        assertTrue(disputes.getDispute(c.disputeId).outcome == DisputeManager.Outcome.Undecided, "undecided");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "the server is not paid");
        assertEq(_collateral(c.server), COLLATERAL, "nor slashed");
        assertEq(_collateral(committee[0]), COLLATERAL, "a member that showed keeps its collateral");
        assertEq(_collateral(committee[1]), COLLATERAL, "either way: nothing was decided");
    }

    function test_committeesAreOdd() public {
        DisputeManager.Params memory p = disputeParams(disputes);
        p.committeeSize = 4;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "committeeSize", 4));
        disputes.setParams(p);
        // Size 5 with four candidates (seven subscribers less three parties): an even draw drops one member.
        p.committeeSize = 5;
        vm.prank(admin);
        disputes.setParams(p);
        Case memory c = _disputed("cheap model", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        assertEq(committee.length, 3, "four found, three drawn");
        castHonest(c.disputeId, c.stackId, committee, "honest");
        disputes.resolve(c.disputeId);
        assertEq(_collateral(c.server), 0, "a quorum of the three decides");
    }

    // ---------------------------------------------------------------- item 14: requests no member can replay

    function test_membersThatAbstainOnCompleteEvidencePayTheTimeoutShareAndTheServerIsNotPaid() public {
        Case memory c = _disputed("unreplayable", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        Ballot[] memory ballots = new Ballot[](3);
        for (uint256 i = 0; i < 3; ++i) {
            ballots[i] = unavailableBallot(committee[i]);
        }
        cast(c.disputeId, committee, ballots);
        disputes.resolve(c.disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
        assertTrue(d.outcome == DisputeManager.Outcome.Unverifiable, "unverifiable");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "the server is not paid");
        assertEq(_collateral(c.server), COLLATERAL, "nor slashed: nothing was proven");
        for (uint256 i = 0; i < 3; ++i) {
            // The requests were on-chain in full: an abstention is a missed vote, never more.
            assertEq(_collateral(committee[i]), COLLATERAL - TIMEOUT_SLASH, "abstaining member pays the timeout share");
            assertEq(nodes.getNode(committee[i]).obligations, 0, "and is released");
        }
        for (uint256 i = 0; i < 2; ++i) {
            assertEq(_collateral(c.attesters[i]), COLLATERAL, "attesters kept");
            assertEq(_claimable(c.attesters[i]), 0, "and not paid: nothing was decided");
        }
        assertEq(vault.balanceOf(user), 2.2 ether, "the owner is refunded, the surcharge included");
    }

    function test_anAbstentionDoesNotCountAgainstTheShownVotes() public {
        Case memory c = _disputed("cheap model", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        Ballot[] memory ballots = new Ballot[](3);
        ballots[0] = unavailableBallot(committee[0]);
        ballots[1] = ballot(committee[1], sampledOutputs(c.stackId, "honest"));
        ballots[2] = ballot(committee[2], sampledOutputs(c.stackId, "honest"));
        cast(c.disputeId, committee, ballots);
        disputes.resolve(c.disputeId);
        assertEq(_collateral(c.server), 0, "decided against the cheater");
        assertEq(_collateral(committee[0]), COLLATERAL - TIMEOUT_SLASH, "the abstaining member pays the timeout share");
        assertEq(_claimable(committee[0]), 0, "and is not paid");
    }

    // ---------------------------------------------------------------- review 6: no free abstention

    /// A member that would rather not compute declares the data unavailable although every disputed request is
    /// on-chain: it is charged exactly as the member that stayed silent.
    function test_abstainingWhileTheEvidenceIsOnChainCostsTheSameAsATimeout() public {
        Case memory c = _disputed("cheap model", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        assertEq(disputes.getDispute(c.disputeId).evidenceCount, 2, "the evidence is complete");
        uint256[] memory committee = committeeIds(c.disputeId);
        uint8 reputation = nodes.getNode(committee[0]).reputation;
        Ballot[] memory ballots = new Ballot[](2);
        ballots[0] = unavailableBallot(committee[0]);
        ballots[1] = ballot(committee[1], sampledOutputs(c.stackId, "honest"));
        for (uint256 i = 0; i < 2; ++i) {
            commitBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes + 1);
        for (uint256 i = 0; i < 2; ++i) {
            revealBallot(c.disputeId, committee[i], ballots[i]);
            showBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes);
        disputes.resolve(c.disputeId);
        // committee[0] abstained, committee[2] never voted: the same charge.
        assertEq(_collateral(committee[0]), COLLATERAL - TIMEOUT_SLASH, "the abstainer pays the timeout share");
        assertEq(_collateral(committee[0]), _collateral(committee[2]), "as much as the silent member");
        assertEq(
            nodes.getNode(committee[0]).reputation, nodes.getNode(committee[2]).reputation, "and the same reputation"
        );
        assertLe(nodes.getNode(committee[0]).reputation, reputation, "no better than before");
        assertEq(_collateral(committee[1]), COLLATERAL, "the member that showed its work keeps its collateral");
    }

    // ---------------------------------------------------------------- item 14: member timeouts

    function test_aSilentMembersTimeoutShareGoesToTheTreasuryNeverTheOwner() public {
        Case memory c = _disputed("cheap model", false);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        Ballot[] memory ballots = new Ballot[](2);
        for (uint256 i = 0; i < 2; ++i) {
            ballots[i] = ballot(committee[i], sampledOutputs(c.stackId, "honest"));
            commitBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes + 1);
        for (uint256 i = 0; i < 2; ++i) {
            revealBallot(c.disputeId, committee[i], ballots[i]);
            showBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes);
        disputes.resolve(c.disputeId);
        assertEq(_collateral(committee[2]), COLLATERAL - TIMEOUT_SLASH, "silent member slashed 5%");
        assertEq(vault.balanceOf(user), 2 ether + FRAUD_SHARE, "the owner gets nothing of the timeout");
        uint256 treasuryFromFraud = COLLATERAL * 2_000 / 10_000;
        assertEq(
            vault.balanceOf(treasury),
            treasuryFromFraud + TIMEOUT_SLASH * 7_500 / 10_000,
            "the user's part to the treasury"
        );
    }

    // ---------------------------------------------------------------- item 17: no committee

    function _approveEchelon(uint32 e) internal {
        vm.prank(admin);
        nodes.approveEchelon(e, echelonFingerprint(e));
    }

    function _setDisputeMinimum(uint8 least) internal {
        DisputeManager.Params memory p = disputeParams(disputes);
        p.minCommittee = least;
        vm.prank(admin);
        disputes.setParams(p);
    }

    function _setStackMinimum(uint8 least) internal {
        StackManager.Params memory p;
        (p.minDuration, p.maxDuration, p.settleWindow, p.maxUnits, p.surchargeBps, p.minChargeBps, p.minCommittee) =
            stacks.params();
        p.minCommittee = least;
        vm.prank(admin);
        stacks.setParams(p);
    }

    /// A verified task in echelon `e` with `n` subscribers, sold (item 4) with committee minimums of one, as the
    /// dev parameters do: with two attesters and n = 4 there is one committee candidate. The tests below then
    /// raise the dispute manager's minimum to three while the stack is in flight (governance may): one candidate
    /// is too few for a committee. A sale can no longer be made under a dispute minimum its echelon cannot hold
    /// (`test_aStackWhoseEchelonCannotHoldTheDisputesCommitteeIsRefused`), and nodes leaving the task cannot thin
    /// a committee out (they stay candidates for their exit notice).
    function _thinTask(uint32 e, uint256 n) internal returns (uint256 taskId, uint256[] memory members) {
        _approveEchelon(e);
        _setStackMinimum(1);
        _setDisputeMinimum(1);
        taskId = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        members = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            members[i] = addNode(e);
            subscribe(taskId, members[i], PRICE);
        }
        nextEpoch();
    }

    /// The stack manager's own minimum is one (the dev parameters), the dispute manager's three: a server in an
    /// echelon of four (two attesters, one other node) is refused at purchase, since its dispute would be bound to
    /// end without a committee (the liar neither paid nor slashed). The larger of the two minimums, read live, is
    /// what a sale must leave room for, whichever contract governance changes.
    function test_aStackWhoseEchelonCannotHoldTheDisputesCommitteeIsRefused() public {
        _approveEchelon(9);
        _setStackMinimum(1);
        uint256 thin = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < 4; ++i) {
            subscribe(thin, addNode(9), PRICE);
        }
        nextEpoch();
        assertEq(stacks.minCommittee(), 3, "the dispute manager's three");
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.TooFewVerifiers.selector, thin, 5));
        stacks.buyStack(thin, 1_000, PRICE, 1 days);
        vm.expectRevert(abi.encodeWithSelector(StackManager.TooFewVerifiers.selector, thin, 5));
        stacks.candidatesFor(thin, 1_000, PRICE);
        // The stack manager's minimum is raised instead, the dispute manager's lowered: the higher one still holds.
        _setDisputeMinimum(1);
        _setStackMinimum(3);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.TooFewVerifiers.selector, thin, 5));
        stacks.buyStack(thin, 1_000, PRICE, 1 days);
        // With both at one, the echelon holds the attesters and a committee: sold.
        _setStackMinimum(1);
        assertEq(stacks.minCommittee(), 1, "both at one");
        (uint256 stackId,) = buy(thin, 1_000);
        assertTrue(stackId != 0, "sold");
    }

    function test_whenEveryOtherEchelonNodeIsAPartyTheServerIsNotPaid() public {
        // Echelon 9 holds the server, its two attesters and one other node: one candidate for a committee of three.
        uint256[] memory six;
        (verifiedTask, six) = _thinTask(9, 4);
        Case memory c = _disputed("cheap model", false);
        _setDisputeMinimum(3); // raised while the stack is in flight
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.DrawNotReady.selector, c.disputeId, block.number));
        disputes.drawCommittee(c.disputeId);
        vm.roll(block.number + 2);
        disputes.drawCommittee(c.disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
        assertEq(d.drawRound, 1, "first round failed");
        assertTrue(d.status == DisputeManager.Status.Open, "drawn again later");
        vm.expectRevert();
        disputes.resolve(c.disputeId);
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.TooEarly.selector, c.disputeId, d.drawNotBefore));
        disputes.drawCommittee(c.disputeId);
        vm.warp(d.drawNotBefore);
        disputes.drawCommittee(c.disputeId);
        vm.roll(block.number + 2);
        disputes.drawCommittee(c.disputeId);
        d = disputes.getDispute(c.disputeId);
        assertTrue(d.outcome == DisputeManager.Outcome.NoCommittee, "no committee");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "the caught server is not paid");
        assertEq(vault.balanceOf(user), 2.2 ether, "the owner is refunded, the surcharge included");
        for (uint256 i = 0; i < 2; ++i) {
            assertEq(_claimable(c.attesters[i]), 0, "the dissenters earn nothing without a committee");
        }
        for (uint256 i = 0; i < six.length; ++i) {
            assertEq(_collateral(six[i]), COLLATERAL, "nobody slashed without a vote");
        }
    }

    function test_aCommitteeTooSmallIsDrawnAgainOnceMoreNodesAreEligible() public {
        DisputeManager.Params memory p = disputeParams(disputes);
        p.redrawDelay = uint64(EPOCH);
        vm.prank(admin);
        disputes.setParams(p);
        // One candidate besides the parties.
        (uint256 small,) = _thinTask(8, 4);
        verifiedTask = small;
        Case memory c = _disputed("cheap model", false);
        _setDisputeMinimum(3); // raised while the stack is in flight
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        assertEq(disputes.getDispute(c.disputeId).drawRound, 1, "one candidate is too few");
        for (uint256 i = 0; i < 2; ++i) {
            subscribe(small, addNode(8), PRICE);
        }
        vm.warp(disputes.getDispute(c.disputeId).drawNotBefore);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        assertEq(committee.length, 3, "drawn in the second round");
        castHonest(c.disputeId, c.stackId, committee, "honest");
        disputes.resolve(c.disputeId);
        assertEq(_collateral(c.server), 0, "and the cheater is caught");
    }

    function test_aDrawSeedTooOldIsReArmedOnALaterBlock() public {
        Case memory c = _disputed("cheap model", false);
        vm.roll(block.number + 300);
        disputes.drawCommittee(c.disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
        assertTrue(!d.drawn, "not drawn from a seed past the blockhash horizon");
        assertEq(d.drawBlock, block.number, "re-armed: this block seeds the draw");
        vm.roll(block.number + 2);
        disputes.drawCommittee(c.disputeId);
        assertEq(committeeIds(c.disputeId).length, 3, "drawn");
    }

    // ---------------------------------------------------------------- review 4: no reward from an undecided dispute

    /// A lying attester disputes an honest server where it knows no committee can be formed (one candidate besides
    /// the parties): the dispute ends NoCommittee, the server is not paid, and the liar earns nothing.
    function test_aDissenterEarnsNothingFromADisputeWithoutACommittee() public {
        (verifiedTask,) = _thinTask(9, 4);
        Case memory c = _disputed("honest", true);
        _setDisputeMinimum(3); // raised while the stack is in flight
        uint256 liar = c.attesters[0];
        uint256 before = token.balanceOf(operatorOf[liar]) + _claimable(liar);
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        for (uint256 round = 0; round < 2; ++round) {
            draw(c.disputeId);
            DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
            if (d.status != DisputeManager.Status.Open) break;
            vm.warp(d.drawNotBefore);
        }
        assertTrue(disputes.getDispute(c.disputeId).outcome == DisputeManager.Outcome.NoCommittee, "no committee");
        assertEq(_claimable(liar), 0, "the dissenter is paid nothing");
        assertEq(token.balanceOf(operatorOf[liar]) + _claimable(liar), before, "and gains nothing");
        assertEq(_collateral(liar), COLLATERAL, "it deposited nothing it could lose or get back");
        assertEq(nodes.getNode(liar).obligations, 0, "it is released");
        assertEq(vault.balanceOf(user), 2.2 ether, "the surcharge goes back to the owner with the rest");
    }

    // ---------------------------------------------------------------- review 2: the candidates are frozen

    function _isIn(uint256 id, uint256[] memory list) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == id) return true;
        }
        return false;
    }

    function _frozen(uint256 disputeId) internal view returns (uint256[] memory ids) {
        uint64[] memory c = disputes.candidatesOf(disputeId);
        ids = new uint256[](c.length);
        for (uint256 i = 0; i < c.length; ++i) {
            ids[i] = c[i];
        }
    }

    /// A party holding eligible nodes outside the task subscribes them once the dispute is open (and may watch the
    /// seed's block before the draw): none of them can be drawn, only the nodes eligible when the dispute opened.
    function test_nodesSubscribedAfterTheDisputeOpensAreNeverDrawn() public {
        uint256[] memory sybils = new uint256[](12);
        for (uint256 i = 0; i < sybils.length; ++i) {
            sybils[i] = addNode(1);
        }
        nextEpoch();
        Case memory c = _disputed("cheap model", false);
        uint256[] memory frozen = _frozen(c.disputeId);
        assertEq(frozen.length, 4, "the seven subscribers less the three parties");
        for (uint256 i = 0; i < sybils.length; ++i) {
            subscribe(verifiedTask, sybils[i], PRICE);
        }
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        assertEq(committee.length, 3, "drawn");
        for (uint256 i = 0; i < committee.length; ++i) {
            assertTrue(_isIn(committee[i], frozen), "a member is one of the frozen candidates");
            assertTrue(!_isIn(committee[i], sybils), "never a node subscribed after the opening");
        }
    }

    /// Re-arming a seed past the blockhash horizon keeps the candidates: waiting the horizon out lets no late node in.
    function test_reArmingTheDrawKeepsTheFrozenCandidates() public {
        uint256[] memory sybils = new uint256[](12);
        for (uint256 i = 0; i < sybils.length; ++i) {
            sybils[i] = addNode(1);
        }
        nextEpoch();
        Case memory c = _disputed("cheap model", false);
        uint256[] memory frozen = _frozen(c.disputeId);
        for (uint256 i = 0; i < sybils.length; ++i) {
            subscribe(verifiedTask, sybils[i], PRICE);
        }
        vm.roll(block.number + 300);
        disputes.drawCommittee(c.disputeId);
        assertEq(_frozen(c.disputeId).length, frozen.length, "re-armed on the same candidates");
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        for (uint256 i = 0; i < committee.length; ++i) {
            assertTrue(_isIn(committee[i], frozen), "drawn from the frozen candidates");
        }
    }

    /// A candidate that leaves once it has seen the seed does not hand its seat to a late node: the next frozen
    /// candidate still eligible takes it.
    /// A frozen candidate that leaves the task once the seed is known keeps its place: the committee is the one
    /// the draw gives when it stays, and a late subscriber is still never drawn.
    function test_aCandidateLeavingAfterTheSeedIsKnownKeepsItsPlace() public {
        uint256 late = addNode(1);
        nextEpoch();
        Case memory c = _disputed("cheap model", false);
        uint256[] memory frozen = _frozen(c.disputeId);
        subscribe(verifiedTask, late, PRICE);
        vm.roll(block.number + 2);
        uint256 before = vm.snapshotState();
        disputes.drawCommittee(c.disputeId);
        uint256[] memory staying = committeeIds(c.disputeId);
        vm.revertToState(before);
        // The seed is now known; a drawn candidate leaves the task before the draw.
        vm.prank(operatorOf[staying[0]]);
        tasks.unsubscribe(verifiedTask, staying[0]);
        disputes.drawCommittee(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        assertEq(committee.length, 3, "a full committee");
        for (uint256 i = 0; i < committee.length; ++i) {
            assertEq(committee[i], staying[i], "the same committee as had it stayed");
            assertTrue(committee[i] != late, "never the late one");
            assertTrue(_isIn(committee[i], frozen), "a frozen candidate");
        }
    }

    /// The server and one other node of a six-node echelon (the fewest item 4 allows) are the attacker's. The
    /// server lies, both attesters dissent, the dispute freezes the three other nodes; the attacker's one leaves
    /// the task so that only two would be eligible. It is drawn anyway, stays silent and pays the timeout share;
    /// the two honest members decide and the liar loses all its collateral.
    function _sixNodeDispute() internal returns (Case memory c, uint256 sybil) {
        _approveEchelon(9);
        uint256 thin = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        uint256[] memory six = new uint256[](6);
        for (uint256 i = 0; i < 6; ++i) {
            six[i] = addNode(9);
            subscribe(thin, six[i], PRICE);
        }
        nextEpoch();
        verifiedTask = thin;
        c = _disputed("cheap model", false);
        assertEq(disputes.candidatesOf(c.disputeId).length, 3, "three non-party candidates frozen");
        for (uint256 i = 0; i < 6; ++i) {
            uint256 id = six[i];
            if (id != c.server && id != c.attesters[0] && id != c.attesters[1]) {
                sybil = id;
                break;
            }
        }
    }

    function _honestMembersDecide(Case memory c, uint256 sybil) internal {
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        _honestMembersDecideOnEvidence(c, sybil);
    }

    function _honestMembersDecideOnEvidence(Case memory c, uint256 sybil) internal {
        draw(c.disputeId);
        uint256[] memory committee = committeeIds(c.disputeId);
        assertEq(committee.length, 3, "the leaver is still drawn");
        assertTrue(_isIn(sybil, committee), "the leaver holds its seat");
        assertEq(nodes.getNode(sybil).obligations, 1, "and the seat's obligation");
        Ballot[] memory ballots = new Ballot[](3);
        for (uint256 i = 0; i < 3; ++i) {
            if (committee[i] == sybil) continue;
            ballots[i] = ballot(committee[i], sampledOutputs(c.stackId, "honest"));
            commitBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes + 1);
        for (uint256 i = 0; i < 3; ++i) {
            if (committee[i] == sybil) continue;
            revealBallot(c.disputeId, committee[i], ballots[i]);
            showBallot(c.disputeId, committee[i], ballots[i]);
        }
        vm.warp(block.timestamp + 10 minutes);
        disputes.resolve(c.disputeId);
        DisputeManager.Dispute memory d = disputes.getDispute(c.disputeId);
        assertTrue(d.outcome == DisputeManager.Outcome.Decided, "decided");
        assertEq(_collateral(c.server), 0, "the liar loses all its collateral");
        assertTrue(nodes.getNode(c.server).status == INodeRegistry.NodeStatus.Slashed, "and is barred");
        assertEq(_collateral(sybil), COLLATERAL - TIMEOUT_SLASH, "the silent leaver pays the timeout share");
        assertEq(nodes.getNode(sybil).obligations, 0, "its obligation ends");
        assertTrue(_phase(c.stackId) == ISettlementManager.Phase.Failed, "the liar is not paid");
        for (uint256 i = 0; i < 2; ++i) {
            assertGe(_claimable(c.attesters[i]), 1, "the honest dissenters are paid");
        }
    }

    function test_aCaughtLiarCannotEscapeItsSlashByACandidateLeavingTheTask() public {
        (Case memory c, uint256 sybil) = _sixNodeDispute();
        vm.prank(operatorOf[sybil]);
        tasks.unsubscribe(verifiedTask, sybil);
        _honestMembersDecide(c, sybil);
    }

    /// The frozen candidate leaves the task, serves its exit notice, deregisters and waits for the draw to be left
    /// undone: its collateral is not withdrawable before the notice has passed again, by which time it is drawn
    /// (and then bound until the dispute ends).
    function test_aCaughtLiarCannotEscapeItsSlashByACandidateDeregistering() public {
        (Case memory c, uint256 sybil) = _sixNodeDispute();
        postEvidence(c.disputeId, c.stackId, c.server, c.claimed);
        vm.startPrank(operatorOf[sybil]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.SubscriptionsLeft.selector, sybil, SUB_COLLATERAL));
        nodes.deregister(sybil);
        tasks.unsubscribe(verifiedTask, sybil);
        vm.warp(block.timestamp + EXIT_NOTICE);
        tasks.completeExit(verifiedTask, sybil);
        nodes.deregister(sybil);
        vm.expectRevert(
            abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, sybil, block.timestamp + EXIT_NOTICE)
        );
        nodes.withdrawCollateral(sybil);
        vm.stopPrank();
        _honestMembersDecideOnEvidence(c, sybil);
    }
}

/// @notice Item 8 on a consensus dispute: members that copy a party's public root without computing.
contract ConsensusDisputesTest is DisputeSteps {
    uint256 internal task;
    ExampleConsumer internal consumer;
    bytes internal constant ANSWER = "yes";
    uint64 internal constant UNITS = 120;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 6; ++i) {
            addNode(2);
        }
        task = createTask(ITaskRegistry.SecurityLevel.Consensus, 0, 0, 0);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(task, nodeIds[i], PRICE);
        }
        consumer = new ExampleConsumer(consensus, token, address(vault));
        fund(address(consumer), 100 ether);
        nextEpoch();
    }

    /// The consumer asks for three seats, drawn in the next block among the candidates its event names.
    function _askThree() internal returns (uint256 requestId, ConsensusRequests.Seat[] memory seats) {
        vm.recordLogs();
        requestId = consumer.ask(task, "Answer yes or no.", 3, 1_000, PRICE, 2, 200_000);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256[] memory candidates;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (
                logs[i].emitter == address(consensus)
                    && logs[i].topics[0] == ConsensusRequests.ConsensusRequested.selector
            ) {
                (,,,, candidates) = abi.decode(logs[i].data, (bytes, uint8, uint64, uint64, uint256[]));
            }
        }
        vm.roll(block.number + 1);
        consensus.drawSeats(requestId, candidates);
        seats = consensus.seatsOf(requestId);
    }

    function _salt(uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encode("seat salt", index));
    }

    function test_lazyMembersCopyingALiarsRootCannotShowItsOutput() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _askThree();
        bytes[3] memory outputs = [bytes(ANSWER), bytes("no"), bytes("no")];
        for (uint256 i = 0; i < 3; ++i) {
            bytes32 root = ConsensusCommitment.root(outputs[i], UNITS, 3);
            bytes32 leaf = ConsensusCommitment.leaf(outputs[i], UNITS, i + 1);
            vm.prank(vm.addr(signerKey[seats[i].nodeId]));
            consensus.sealResult(requestId, i + 1, ConsensusCommitment.seal(requestId, i + 1, root, leaf, _salt(i)));
        }
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(vm.addr(signerKey[seats[i].nodeId]));
            consensus.revealResult(
                requestId,
                i + 1,
                ConsensusCommitment.root(outputs[i], UNITS, 3),
                ConsensusCommitment.leaf(outputs[i], UNITS, i + 1),
                _salt(i)
            );
        }
        uint256 disputeId = disputes.disputeCount();
        draw(disputeId);
        uint256[] memory committee = committeeIds(disputeId);
        Ballot[] memory ballots = new Ballot[](3);
        ballots[0] = consensusBallot(committee[0], ANSWER, UNITS, 3);
        ballots[1] = consensusBallot(committee[1], ANSWER, UNITS, 3);
        ballots[2].claim = ConsensusCommitment.root("no", UNITS, 3);
        ballots[2].work = keccak256(abi.encode("copied", committee[2]));
        ballots[2].salt = keccak256(abi.encode("salt", committee[2]));
        cast(disputeId, committee, ballots);
        vm.prank(vm.addr(signerKey[committee[2]]));
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.OutputDoesNotMatchWork.selector, 0));
        disputes.substantiate(disputeId, committee[2], shownOf(consensusBallot(committee[0], "no", UNITS, 3)));
        vm.warp(block.timestamp + 20 minutes + 1);
        disputes.resolve(disputeId);
        assertEq(
            disputes.getDispute(disputeId).winner, ConsensusCommitment.root(ANSWER, UNITS, 3), "the shown output wins"
        );
        assertEq(nodes.getNode(seats[1].nodeId).collateral, 0, "the lying seats are slashed");
        assertEq(nodes.getNode(committee[2]).collateral, 0, "the lazy member is slashed");
        assertEq(nodes.getNode(committee[0]).collateral, COLLATERAL, "the working members are not");
        consensus.deliverResult(requestId, ANSWER, UNITS);
        assertTrue(consumer.answered(requestId), "the honest answer is delivered");
    }

    /// A member that shows the honest output with another unit count than it claimed cannot substantiate: the
    /// units are part of what it shows, so the root of its shown bytes is not its claim.
    function test_aMemberShowingTheOutputWithOtherUnitsDoesNotMatchItsClaim() public {
        (uint256 requestId, ConsensusRequests.Seat[] memory seats) = _askThree();
        bytes[3] memory outputs = [bytes(ANSWER), bytes(ANSWER), bytes("no")];
        for (uint256 i = 0; i < 3; ++i) {
            bytes32 root = ConsensusCommitment.root(outputs[i], UNITS, 3);
            bytes32 leaf = ConsensusCommitment.leaf(outputs[i], UNITS, i + 1);
            vm.prank(vm.addr(signerKey[seats[i].nodeId]));
            consensus.sealResult(requestId, i + 1, ConsensusCommitment.seal(requestId, i + 1, root, leaf, _salt(i)));
        }
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(vm.addr(signerKey[seats[i].nodeId]));
            consensus.revealResult(
                requestId,
                i + 1,
                ConsensusCommitment.root(outputs[i], UNITS, 3),
                ConsensusCommitment.leaf(outputs[i], UNITS, i + 1),
                _salt(i)
            );
        }
        uint256 disputeId = disputes.disputeCount();
        draw(disputeId);
        uint256[] memory committee = committeeIds(disputeId);
        Ballot memory honest = consensusBallot(committee[0], ANSWER, UNITS, 3);
        Ballot memory otherUnits = consensusBallot(committee[0], ANSWER, UNITS + 1, 3);
        // It claims the honest root but bound other units into its work, and shows what its work binds.
        honest.work = otherUnits.work;
        honest.works = otherUnits.works;
        honest.outputs = otherUnits.outputs;
        commitBallot(disputeId, committee[0], honest);
        vm.warp(block.timestamp + 10 minutes + 1);
        revealBallot(disputeId, committee[0], honest);
        vm.prank(vm.addr(signerKey[committee[0]]));
        vm.expectRevert(abi.encodeWithSelector(DisputeManager.OutputDoesNotMatchClaim.selector, 0));
        disputes.substantiate(disputeId, committee[0], shownOf(honest));
        bytes memory tooShort = hex"01";
        assertEq(consensus.outputRoot(requestId, tooShort), bytes32(0), "bytes without units root to nothing");
    }
}
