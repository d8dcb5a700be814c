// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {DeferredRandom} from "../src/common/DeferredRandom.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {SettlementDraw} from "../src/settlement/SettlementDraw.sol";
import {SettlementEvidence} from "../src/settlement/SettlementEvidence.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {CapacitySquat} from "./lib/CapacitySquat.sol";

/// @notice Each test plays one attack on stacks and their settlement (docs/soundness.md) and shows it failing.
contract SettlementAttacksTest is CapacitySquat {
    uint256 internal plainTask;
    uint256 internal verifiedTask;
    /// Sampled one time in a million: a server that could steer the draw would almost never be checked.
    uint256 internal rareTask;
    /// Registered and eligible, subscribed to nothing until a test makes it join late.
    uint256 internal outsider;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) addNode(1);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        rareTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(plainTask, nodeIds[i], PRICE);
            subscribe(verifiedTask, nodeIds[i], PRICE);
            subscribe(rareTask, nodeIds[i], PRICE);
        }
        outsider = addNode(1);
        nextEpoch();
    }

    function _request(uint256 taskId, uint64 units) internal returns (uint256, StackManager.Candidate[] memory) {
        vm.prank(user);
        return stacks.buyStack(taskId, units, type(uint128).max, 1 days);
    }

    // ---------------------------------------------------------------- item 10: the stack's node draw

    /// The buyer's transaction only arms the draw: the node follows the hash of the purchase block, which the
    /// buyer did not know when it sent it, and choosing when to call the draw changes nothing.
    function test_theBuyerCannotSteerTheNodeDraw() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _request(plainTask, 1_000);
        IStackManager.Stack memory pending = stacks.getStack(stackId);
        assertTrue(pending.status == IStackManager.StackStatus.Pending, "no node at purchase");
        assertEq(pending.nodeId, 0, "no node at purchase");
        assertEq(candidates.length, 7, "every eligible subscriber frozen");
        uint256 armed = block.number;
        vm.expectRevert(abi.encodeWithSelector(DeferredRandom.DrawTooEarly.selector, armed, armed));
        stacks.drawNode(stackId, candidates);

        uint256 drawn;
        for (uint256 later = 1; later <= 256; later += 51) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + later);
            uint256 nodeId = stacks.drawNode(stackId, candidates);
            if (drawn == 0) drawn = nodeId;
            assertEq(nodeId, drawn, "the same node whichever block the draw is called in");
            vm.revertToState(snapshot);
        }

        // Another purchase block hash, another node: the draw is the block's, not the buyer's.
        uint256 distinct;
        uint256 seen;
        for (uint256 h = 0; h < 12; ++h) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + 1);
            vm.setBlockhash(armed, keccak256(abi.encode("another block", h)));
            uint256 nodeId = stacks.drawNode(stackId, candidates);
            if (seen & (1 << nodeId) == 0) ++distinct;
            seen |= 1 << nodeId;
            vm.revertToState(snapshot);
        }
        assertGe(distinct, 3, "the node varies with the purchase block's hash");
    }

    /// A node that subscribes (or cuts its price) after the purchase is not among its candidates, and a
    /// candidate that raises its price after the purchase serves at the price it asked then.
    function test_candidatesAndPricesAreFrozenAtThePurchase() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _request(plainTask, 1_000);
        vm.prank(operatorOf[outsider]);
        tasks.subscribe(plainTask, outsider, 1, 1e12, SUB_COLLATERAL);
        for (uint256 i = 0; i < nodeIds.length - 1; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.updateSubscription(plainTask, nodeIds[i], 5 * PRICE, 1e12);
        }
        vm.roll(block.number + 1);
        StackManager.Candidate[] memory stuffed = new StackManager.Candidate[](candidates.length + 1);
        for (uint256 i = 0; i < candidates.length; ++i) stuffed[i] = candidates[i];
        stuffed[candidates.length] = StackManager.Candidate({nodeId: uint64(outsider), pricePerMillion: 1});
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, stuffed);
        uint256 nodeId = stacks.drawNode(stackId, candidates);
        assertTrue(nodeId != outsider && nodeId != 0, "a frozen candidate serves");
        assertEq(stacks.getStack(stackId).pricePerMillion, PRICE, "at the price asked when bought");
        assertEq(vault.escrowOf(bytes32(stackId)), 0.002 ether, "escrow at that price");
    }

    /// Left undrawn for more than 256 blocks, the purchase block's hash is gone: the draw re-arms on the block
    /// that notices, whose hash again nobody knew.
    function test_anExpiredNodeDrawIsRearmed() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _request(plainTask, 1_000);
        vm.roll(block.number + 300);
        assertEq(stacks.drawNode(stackId, candidates), 0, "no node from a lost hash");
        assertEq(stacks.getPurchase(stackId).armedAt, block.number, "re-armed here");
        vm.roll(block.number + 1);
        assertTrue(stacks.drawNode(stackId, candidates) != 0, "drawn from the new block");
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawNode(stackId, candidates);
    }

    /// Every candidate left before the draw: the purchase is cancelled and refunded in full.
    function test_aPurchaseNobodyCanServeAnyMoreIsRefunded() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _request(plainTask, 1_000);
        for (uint256 i = 0; i < nodeIds.length - 1; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.unsubscribe(plainTask, nodeIds[i]);
        }
        vm.roll(block.number + 1);
        assertEq(stacks.drawNode(stackId, candidates), 0, "nobody to serve");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(vault.balanceOf(user), 0.002 ether, "refunded in full");
    }

    // ---------------------------------------------------------------- item 10: the attester draw

    /// The settlement only arms the attester draw: whether it is checked, and by whom, is the same whichever
    /// later block the draw is called in.
    function test_theServerCannotSteerWhetherOrByWhomItIsChecked() public {
        uint256 coinTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 500_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length - 1; ++i) subscribe(coinTask, nodeIds[i], PRICE);
        (uint256 stackId, uint256 server) = buy(coinTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest");
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, s.root, 1_000_000, 4, 0);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Drawing, "nothing decided at settlement");
        uint256[] memory candidates = draws.candidatesFor(coinTask, server);
        uint256 armed = block.number;
        vm.expectRevert(abi.encodeWithSelector(DeferredRandom.DrawTooEarly.selector, armed, armed));
        draws.drawAttesters(stackId, candidates);

        bytes32 outcome;
        for (uint256 later = 1; later <= 256; later += 85) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + later);
            draws.drawAttesters(stackId, candidates);
            bytes32 o = keccak256(abi.encode(phaseOf(stackId), attestersOf(stackId)));
            if (outcome == 0) outcome = o;
            assertEq(o, outcome, "the same outcome whichever block the draw is called in");
            vm.revertToState(snapshot);
        }
    }

    /// A server that lets its draw expire, hoping for another coin, is checked for certain.
    function test_anExpiredAttesterDrawSamplesWithCertainty() public {
        (uint256 prompt, uint256 server1) = buy(rareTask, 1_000);
        settleAs(prompt, server1, serve(prompt, 2, "honest").root, 100, 2);
        assertTrue(phaseOf(prompt) == ISettlementManager.Phase.Accepted, "drawn at once: one in a million");

        (uint256 stackId, uint256 server) = buy(rareTask, 1_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, serve(stackId, 2, "honest").root, 100, 2, 0);
        uint256[] memory candidates = draws.candidatesFor(rareTask, server);
        vm.roll(block.number + 257);
        draws.drawAttesters(stackId, candidates);
        assertTrue(draws.armedOf(stackId).certain, "expired: certain");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Drawing, "re-armed, not drawn");
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, candidates);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "sampled");
        assertEq(attestersOf(stackId).length, 2, "attesters drawn");
    }

    /// A node that subscribes after the settlement cannot be drawn to attest it.
    function test_aNodeThatJoinsAfterTheSettlementCannotAttestIt() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, serve(stackId, 2, "honest").root, 100, 2, 0);
        uint256[] memory frozen = draws.candidatesFor(verifiedTask, server);
        subscribe(verifiedTask, outsider, PRICE);
        uint256[] memory stuffed = draws.candidatesFor(verifiedTask, server);
        assertEq(stuffed.length, frozen.length + 1, "the outsider is a candidate now");
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.WrongCandidates.selector, stackId));
        draws.drawAttesters(stackId, stuffed);
        draws.drawAttesters(stackId, frozen);
        uint256[] memory atts = attestersOf(stackId);
        for (uint256 i = 0; i < atts.length; ++i) assertTrue(atts[i] != outsider, "never the late joiner");
    }

    // ---------------------------------------------------------------- item 4: work nobody can check

    /// On a verified task a node whose echelon holds too few others to attest and to judge is never sold.
    function test_aNodeAloneInItsEchelonIsNeverSoldOnAVerifiedTask() public {
        uint256 lone = addNode(2);
        nextEpoch();
        vm.prank(operatorOf[lone]);
        tasks.subscribe(verifiedTask, lone, PRICE / 2, 1e12, SUB_COLLATERAL);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.TooFewVerifiers.selector, verifiedTask, 5));
        stacks.buyStack(verifiedTask, 1_000, PRICE / 2, 1 days);
        (, StackManager.Candidate[] memory candidates) = _request(verifiedTask, 1_000);
        for (uint256 i = 0; i < candidates.length; ++i) assertTrue(candidates[i].nodeId != lone, "not a candidate");
        // Where no check is promised, it may serve.
        vm.prank(operatorOf[lone]);
        tasks.subscribe(plainTask, lone, PRICE / 2, 1e12, SUB_COLLATERAL);
        (uint256 stackId, uint256 nodeId) = buyAs(user, plainTask, 1_000, PRICE / 2);
        assertEq(nodeId, lone, "sold on a plain task");
        assertTrue(stackId != 0, "bought");
    }

    /// A node whose echelon peers were all barred after the purchase cannot be checked: its work is not paid
    /// (the owner is refunded in full), and it is not slashed — even when the coin would not have sampled it.
    /// (Leaving the task no longer empties the pool: a leaving node stays a checking candidate for its exit
    /// notice, `ExitNotice.t.sol`; only a fraud slash takes a node out at once.)
    function test_aNodeWhosePeersLeftIsNotPaid() public {
        (uint256 stackId, uint256 server) = buy(rareTask, 1_000_000);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            if (nodeIds[i] == server || nodeIds[i] == outsider) continue;
            vm.prank(address(settlement));
            nodes.slashFraud(nodeIds[i], address(0), new uint256[](0));
        }
        settleAs(stackId, server, serve(stackId, 3, "honest").root, 1_000_000, 3);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "unverifiable: not paid");
        assertEq(claimableOf(server), 0, "server unpaid");
        assertEq(vault.balanceOf(user), 2.2 ether, "owner refunded in full");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "server not slashed");
        assertEq(nodes.getNode(server).obligations, 0, "obligation released");
    }

    // ---------------------------------------------------------------- item 7: false "transcript unavailable"

    /// An attester declares the transcript unavailable although it is not: the server posts the sampled
    /// requests, one per transaction; it is paid in full and not slashed, and the declarer's share of the
    /// surcharge (its bond) goes to the treasury.
    function test_aFalseUnavailableDeclarationCostsTheDeclarerNotTheServer() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 1_000_000);
        settleAs(stackId, server, s.root, 1_000_000, 4);
        uint256[] memory atts = attestersOf(stackId);
        vm.prank(vm.addr(signerKey[atts[0]]));
        settlement.declareTranscriptUnavailable(stackId, atts[0]);
        vm.prank(vm.addr(signerKey[atts[0]]));
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.AlreadyDeclared.selector, stackId, atts[0]));
        settlement.declareTranscriptUnavailable(stackId, atts[0]);
        postSampled(stackId, server);
        assertTrue(settlement.getSettlement(stackId).dataPosted, "posted");
        vm.prank(vm.addr(signerKey[atts[1]]));
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.AlreadyDeclared.selector, stackId, atts[1]));
        settlement.declareTranscriptUnavailable(stackId, atts[1]);
        commitAs(stackId, atts[0], s);
        commitAs(stackId, atts[1], s);
        revealAs(stackId, server, s);
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "honest server not slashed");
        assertEq(claimableOf(server), 1.9 ether, "and paid in full");
        assertEq(claimableOf(atts[0]), 0, "the false declarer lost its share");
        assertEq(claimableOf(atts[1]), 0.1 ether, "the other attester paid");
        assertEq(vault.balanceOf(treasury), 0.1 ether, "the bond went to the treasury");
    }

    /// Every request a server may have to post fits one transaction: bodies are bounded on-chain (the node's
    /// API refuses longer ones), and the bound can be raised, never lowered below what nodes accepted.
    function test_everyPostedRequestIsBounded() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        settleAs(stackId, server, serve(stackId, 4, "honest").root, 1_000_000, 4);
        uint256[] memory atts = attestersOf(stackId);
        vm.prank(vm.addr(signerKey[atts[0]]));
        settlement.declareTranscriptUnavailable(stackId, atts[0]);
        uint256 bound = evidence.maxRequestBytes();
        uint256 first = settlement.sampledIndices(stackId)[0];
        SettlementEvidence.SignedRequest memory big = signedRequest(stackId, first, new bytes(bound + 1));
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(abi.encodeWithSelector(SettlementEvidence.RequestTooLarge.selector, bound + 1, bound));
        evidence.postSampledRequest(stackId, 0, big);
        SettlementEvidence.SignedRequest memory fits = signedRequest(stackId, first, new bytes(bound));
        vm.prank(vm.addr(signerKey[server]));
        evidence.postSampledRequest(stackId, 0, fits);
        vm.prank(vm.addr(signerKey[server]));
        vm.expectRevert(abi.encodeWithSelector(SettlementEvidence.AlreadyPosted.selector, stackId, 0));
        evidence.postSampledRequest(stackId, 0, fits);
        assertLe(evidence.postingGas(bound), 15_000_000, "one posting fits half a 30M-gas block");
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "maxRequestBytes", bound - 1));
        evidence.setMaxRequestBytes(uint32(bound - 1));
    }

    // ---------------------------------------------------------------- item 14: poison requests

    /// A colluding owner and server put requests no one can replay into the stack. The attesters commit the
    /// fixed invalid-request result (0 units); the server's claim differs; the committee computes the same fixed
    /// result: the server loses its collateral and its fee, no attester is slashed, and the pair loses money.
    function test_aPoisonRequestSlashesNoAttesterAndPaysThePairNothing() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        uint256 paid = vault.escrowOf(bytes32(stackId));
        Served memory claimed = serve(stackId, 4, "answers to poison requests", 1_000_000);
        settleAs(stackId, server, claimed.root, 1_000_000, 4);
        uint256[] memory atts = attestersOf(stackId);
        uint256 n = settlement.sampledIndices(stackId).length;
        bytes[] memory invalid = new bytes[](n);
        for (uint256 i = 0; i < n; ++i) invalid[i] = '{"object":"atoma.invalid_request"}';
        bytes32 fixedResult = ballot(atts[0], invalid).claim;
        commitResultAs(stackId, atts[0], fixedResult);
        commitResultAs(stackId, atts[1], fixedResult);
        revealAs(stackId, server, claimed);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Disputed, "the claim is disputed");
        uint256 disputeId = disputes.disputeCount();
        postEvidence(disputeId, stackId, server, claimed);
        draw(disputeId);
        uint256[] memory committee = committeeIds(disputeId);
        Ballot[] memory ballots = new Ballot[](committee.length);
        for (uint256 i = 0; i < committee.length; ++i) ballots[i] = ballot(committee[i], invalid);
        cast(disputeId, committee, ballots);
        disputes.resolve(disputeId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "server not paid");
        assertEq(nodes.getNode(server).collateral, 0, "server slashed");
        assertEq(nodes.getNode(atts[0]).collateral, COLLATERAL, "attester kept its collateral");
        assertEq(nodes.getNode(atts[1]).collateral, COLLATERAL, "attester kept its collateral");
        uint256 pairAfter = vault.balanceOf(user) + claimableOf(server);
        assertLe(pairAfter + 1, paid + COLLATERAL, "the colluding pair ends with less than it put in");
    }

    /// Attesters that time out are slashed their timeout share, and the owner (who may have caused it with a
    /// request no one could replay) gets none of it: the user's share goes to the treasury.
    function test_anAttestersTimeoutShareNeverGoesToTheOwner() public {
        (uint256 stackId, uint256 server) = buy(verifiedTask, 1_000_000);
        settleAs(stackId, server, serve(stackId, 3, "honest").root, 1_000_000, 3);
        uint256 ownerBefore = vault.balanceOf(user);
        vm.warp(block.timestamp + 10 minutes + 1);
        settlement.timeoutAttesters(stackId);
        uint256 slashed = COLLATERAL * 500 / 10_000;
        assertEq(vault.balanceOf(user), ownerBefore, "nothing to the owner");
        assertEq(vault.balanceOf(treasury), 2 * (slashed * 7_500 / 10_000), "the user's share to the treasury");
    }

    // ---------------------------------------------------------------- issue 10, L1: salted attestations

    /// A settled, sampled stack whose two attesters are drawn; the server claims `claimed`.
    function _sampled(bytes32 answers) internal returns (uint256 stackId, uint256 server, Served memory claimed) {
        (stackId, server) = buy(verifiedTask, 1_000_000);
        claimed = serve(stackId, 4, answers, 1_000_000);
        settleAs(stackId, server, claimed.root, 1_000_000, 4);
    }

    /// A lazy attester computes the server's claimed result from the transcript (its leaves' response hashes and
    /// units) and wants to learn whether the other attester agreed before committing. With the old commitment
    /// H(nodeId, result) it could: one hash told it. With the salt, the other's commitment to the claim and a
    /// commitment to a dissent look the same to it; and copying the other's commitment gets it nothing it can open.
    function test_aLazyAttesterCannotPeekAtAnotherAttestersCommitment() public {
        (uint256 stackId, uint256 server, Served memory claimed) = _sampled("honest");
        uint256[] memory atts = attestersOf(stackId);
        (uint256 honest, uint256 lazy) = (atts[0], atts[1]);
        bytes32 claim = resultOf(settlement.sampledIndices(stackId), claimed);
        commitResultAs(stackId, honest, claim);
        bytes32 seen = settlement.attestersOf(stackId)[0].commitment;
        // The peek that used to work: test the other's commitment against the server's claim.
        assertTrue(seen != keccak256(abi.encode(honest, claim)), "the unsalted test no longer matches");
        bytes32[3] memory guesses = [bytes32(0), claim, bytes32(stackId)];
        for (uint256 g = 0; g < guesses.length; ++g) {
            assertTrue(seen != attestationCommitment(honest, claim, guesses[g]), "no guess without the salt");
        }
        // The lazy attester copies the commitment it saw instead: after the reveal it has nothing to open.
        vm.prank(vm.addr(signerKey[lazy]));
        settlement.commitAttestation(stackId, lazy, seen);
        revealAs(stackId, server, claimed);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Opening, "the copier has not opened");
        vm.prank(vm.addr(signerKey[lazy]));
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.WrongOpening.selector, stackId, lazy));
        settlement.openAttestation(stackId, lazy, claim, saltOf(stackId, honest));
        vm.warp(block.timestamp + 10 minutes + 1);
        settlement.timeoutAttesters(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "accepted on the honest opening");
        assertEq(nodes.getNode(lazy).collateral, 0, "the copier, unable to open, is slashed in full");
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(claimableOf(honest), 0.2 ether, "the surcharge goes to the attester that checked");
        assertEq(claimableOf(lazy), 0, "the copier is not paid");
    }

    /// An attester that committed but does not open after the reveal (here the buyer's own node, which would
    /// leave the honest server unpaid) cannot hold the settlement: after the opening window anyone calls the
    /// timeout, the silent attester loses all its collateral (half to the treasury, the rest burned: none to the
    /// buyer, none to any node), and the settlement completes on the openings it has. The attester that opened
    /// keeps everything and is paid.
    function test_anAttesterThatNeverOpensIsSlashedInFullAndTheSettlementCompletes() public {
        (uint256 stackId, uint256 server, Served memory claimed) = _sampled("honest");
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], claimed);
        commitAs(stackId, atts[1], claimed);
        revealOnlyAs(stackId, server, claimed);
        ISettlementManager.Settlement memory st = settlement.getSettlement(stackId);
        assertTrue(st.phase == ISettlementManager.Phase.Opening, "the attesters open next");
        openResult(stackId, atts[0], committedResult[stackId][atts[0]]);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Opening, "one still to open");
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.DeadlineNotPassed.selector, stackId, st.deadline));
        settlement.timeoutAttesters(stackId);
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.WrongPhase.selector, stackId, st.phase));
        settlement.failVerification(stackId);
        uint256 treasuryBefore = vault.balanceOf(treasury);
        uint256 ownerBefore = vault.balanceOf(user);
        vm.warp(uint256(st.deadline) + 1);
        vm.prank(vm.addr(signerKey[atts[1]]));
        vm.expectRevert(abi.encodeWithSelector(SettlementManager.DeadlinePassed.selector, stackId, st.deadline));
        settlement.openAttestation(stackId, atts[1], committedResult[stackId][atts[1]], saltOf(stackId, atts[1]));
        settlement.timeoutAttesters(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "accepted at the window's end");
        assertEq(nodes.getNode(atts[1]).collateral, 0, "the silent attester is slashed in full");
        assertTrue(nodes.getNode(atts[1]).status == INodeRegistry.NodeStatus.Slashed, "and barred");
        assertEq(nodes.getNode(atts[1]).obligations, 0, "and released");
        assertEq(vault.balanceOf(treasury) - treasuryBefore, COLLATERAL * 5_000 / 10_000, "half to the treasury");
        assertEq(vault.balanceOf(user), ownerBefore, "none to the owner");
        assertEq(claimableOf(atts[0]) + claimableOf(server), 0, "none to the other nodes");
        assertEq(nodes.getNode(atts[0]).collateral, COLLATERAL, "the attester that opened keeps everything");
        assertEq(nodes.getNode(atts[0]).obligations, 0, "released once accepted");
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        assertEq(claimableOf(server), 1.9 ether, "the honest server is paid in full");
        assertEq(claimableOf(atts[0]), 0.2 ether, "the attester that opened is paid");
        assertEq(claimableOf(atts[1]), 0, "the silent one is not");
    }

    /// Nobody opens (say both attesters are the buyer's, to leave an honest server unpaid): the work was never
    /// checked, so it is not paid (as when nobody commits), but each silent attester loses all its collateral,
    /// none of it to the buyer, who gets back exactly its escrow; the server is not slashed.
    function test_whenNoAttesterOpensTheWorkIsNotPaidAndTheSilentLoseEverything() public {
        (uint256 stackId, uint256 server, Served memory claimed) = _sampled("honest");
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], claimed);
        commitAs(stackId, atts[1], claimed);
        revealOnlyAs(stackId, server, claimed);
        vm.warp(block.timestamp + 10 minutes + 1);
        settlement.timeoutAttesters(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "not paid");
        assertEq(nodes.getNode(server).collateral, COLLATERAL, "the server is not slashed");
        assertEq(nodes.getNode(atts[0]).collateral, 0, "silent attesters slashed in full");
        assertEq(nodes.getNode(atts[1]).collateral, 0, "both");
        assertEq(nodes.getNode(atts[0]).obligations + nodes.getNode(atts[1]).obligations, 0, "and released");
        assertEq(vault.balanceOf(user), 2.2 ether, "the owner gets its escrow back and nothing of the slashes");
        assertEq(claimableOf(server), 0, "the server is not paid");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "closed");
    }

    /// An opening binds: a wrong salt, another result (switching sides once the server's claim is public), a
    /// second opening, an opening before the reveal and an opening by someone else's key are all refused.
    function test_anOpeningThatDoesNotMatchItsCommitmentIsRefused() public {
        (uint256 stackId, uint256 server, Served memory claimed) = _sampled("lies");
        Served memory honest = serve(stackId, 4, "honest", 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        commitAs(stackId, atts[0], honest);
        bytes32 truth = committedResult[stackId][atts[0]];
        bytes32 claim = resultOf(settlement.sampledIndices(stackId), claimed);
        vm.prank(vm.addr(signerKey[atts[0]]));
        vm.expectRevert(
            abi.encodeWithSelector(SettlementManager.WrongPhase.selector, stackId, ISettlementManager.Phase.Commit)
        );
        settlement.openAttestation(stackId, atts[0], truth, saltOf(stackId, atts[0]));
        commitAs(stackId, atts[1], honest);
        revealOnlyAs(stackId, server, claimed);
        bytes memory wrong = abi.encodeWithSelector(SettlementManager.WrongOpening.selector, stackId, atts[0]);
        vm.prank(vm.addr(signerKey[atts[0]]));
        vm.expectRevert(wrong);
        settlement.openAttestation(stackId, atts[0], truth, keccak256("another salt"));
        vm.prank(vm.addr(signerKey[atts[0]]));
        vm.expectRevert(wrong);
        settlement.openAttestation(stackId, atts[0], claim, saltOf(stackId, atts[0]));
        vm.prank(vm.addr(signerKey[atts[1]]));
        vm.expectRevert(
            abi.encodeWithSelector(SettlementManager.NotNodeActor.selector, atts[0], vm.addr(signerKey[atts[1]]))
        );
        settlement.openAttestation(stackId, atts[0], truth, saltOf(stackId, atts[0]));
        openResult(stackId, atts[0], truth);
        vm.prank(vm.addr(signerKey[atts[0]]));
        vm.expectRevert(wrong);
        settlement.openAttestation(stackId, atts[0], truth, saltOf(stackId, atts[0]));
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Opening, "waiting for the other opening");
    }

    /// A lying server with one honest and one colluding attester: the honest one dissents when it opens, and the
    /// colluder, having seen the dissent, stays closed rather than lose the dispute. It can neither stop the
    /// dispute (it is removed and the dispute opens) nor save its collateral: staying closed is slashed in full,
    /// as losing would have been. The committee decides against the server; the dissenter keeps everything.
    function test_aColluderThatStaysClosedAfterAnHonestDissentIsSlashedInFull() public {
        (uint256 stackId, uint256 server, Served memory claimed) = _sampled("lies");
        Served memory honest = serve(stackId, 4, "honest", 1_000_000);
        uint256[] memory atts = attestersOf(stackId);
        (uint256 dissenter, uint256 colluder) = (atts[0], atts[1]);
        commitAs(stackId, dissenter, honest);
        commitAs(stackId, colluder, claimed);
        revealOnlyAs(stackId, server, claimed);
        openResult(stackId, dissenter, committedResult[stackId][dissenter]);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Opening, "the colluder stays closed");
        vm.warp(block.timestamp + 10 minutes + 1);
        settlement.timeoutAttesters(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Disputed, "the dissent opens a dispute anyway");
        uint256 disputeId = disputes.disputeCount();
        assertEq(disputes.getDispute(disputeId).serverResult, settlement.revealedResult(stackId), "the claim");
        assertEq(nodes.getNode(colluder).collateral, 0, "the colluder is slashed in full, not a timeout share");
        assertEq(nodes.getNode(colluder).obligations, 0, "and released");
        assertEq(claimableOf(dissenter), 0, "its slash reaches no node");
        postEvidence(disputeId, stackId, server, claimed);
        draw(disputeId);
        castHonest(disputeId, stackId, committeeIds(disputeId), "honest");
        disputes.resolve(disputeId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "the server is not paid");
        assertEq(nodes.getNode(server).collateral, 0, "the server is slashed");
        assertGe(claimableOf(dissenter), 0.2 ether + 1, "the dissenter is paid the surcharge and a share");
        assertEq(nodes.getNode(dissenter).collateral, COLLATERAL, "and keeps its collateral");
    }

    // ---------------------------------------------------------------- item 16: capacity squatting

    /// An attacker prices its own node five times higher and buys up the honest nodes' capacity at the honest
    /// price, meaning never to use it. Honest nodes settle idle stacks early, which frees their capacity at
    /// once, and every squatted stack costs the attacker its minimum charge, paid to the treasury (its own node
    /// earns nothing from it). An honest buyer is then served at the honest price.
    function test_squattingHonestCapacityCostsTheSquatter() public {
        Squat memory q = squatScene();
        (uint256 first, uint256 nodeA) = buyAs(SQUATTER, q.task, 1_000_000, PRICE);
        (uint256 second, uint256 nodeB) = buyAs(SQUATTER, q.task, 1_000_000, PRICE);
        assertTrue(nodeA != q.attackerNode && nodeB != q.attackerNode && nodeA != nodeB, "the honest capacity taken");
        vm.prank(BUYER);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, q.task));
        stacks.buyStack(q.task, 1_000_000, PRICE, 1 days);

        // One stack the squatter closes; the other the node settles once it has been idle long enough.
        freeSquatted(first, nodeA, second, nodeB);
        (, uint256 served) = buyAs(BUYER, q.task, 1_000_000, PRICE);
        assertTrue(served == q.honestA || served == q.honestB, "the honest buyer is served at the honest price");
        // Refunded less the minimum charges, which go to the treasury; neither the squatter's node nor the
        // squatted ones earn anything (nodeA and nodeB are the two honest nodes, as asserted above).
        assertTheSquatCostTheSquatter(q, first, second);
    }
}
