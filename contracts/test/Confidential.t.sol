// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {TaskRegistry} from "../src/registry/TaskRegistry.sol";
import {SettlementDraw} from "../src/settlement/SettlementDraw.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {Units} from "../src/common/Units.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// @notice Security level 3 on-chain, attacker first: nodes that post records for others, replay old evidence,
/// run unallowed or dev software on a production task, or serve past their expiry; griefers who drop the
/// subscriptions of a node whose record is current; and a confidential stack that must never be sampled.
contract ConfidentialTest is ConfidentialSteps {
    uint256 internal a;
    uint256 internal b;

    function setUp() public {
        deployConfidential();
        a = addNode(0);
        b = addNode(0);
    }

    // ---------------------------------------------------------------- posting records

    function test_aNodeCannotPostARecordForAnotherNode() public {
        bytes32 evidence = nextEvidence();
        uint64 epoch = currentEpoch();
        uint64 expiresAt = uint64(block.timestamp + 1 days);
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.NotNodeActor.selector, b, operatorOf[a]));
        attestations.post(b, AttestationRegistry.Kind.Tdx, epoch, evidence, bytes32("k"), GOOD, expiresAt, false);
        // Nor its signer, nor a stranger.
        address signerA = vm.addr(signerKey[a]);
        vm.prank(signerA);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.NotNodeActor.selector, b, signerA));
        attestations.post(b, AttestationRegistry.Kind.Tdx, epoch, evidence, bytes32("k"), GOOD, expiresAt, false);
        assertEq(attestations.attestationOf(b).expiresAt, 0, "b holds no record");
        // The node's own signer may post for it.
        vm.prank(vm.addr(signerKey[b]));
        attestations.post(b, AttestationRegistry.Kind.Tdx, epoch, evidence, bytes32("k"), GOOD, expiresAt, false);
        assertEq(attestations.attestationOf(b).evidenceHash, evidence, "b's signer posted");
    }

    function test_replayedEvidenceIsRefused() public {
        bytes32 old = attest(a);
        AttestationRegistry.Attestation memory first = attestations.attestationOf(a);
        nextEpoch();
        nextEpoch();
        assertTrue(!attestations.isCurrent(a), "expired");
        uint64 expiresAt = uint64(block.timestamp + 1 days);
        // The old evidence with the epoch it bound: stale.
        vm.startPrank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StaleEpoch.selector, first.epoch, nodes.currentEpoch()));
        attestations.post(a, AttestationRegistry.Kind.Tdx, first.epoch, old, first.encryptionKey, GOOD, expiresAt, false);
        // The old evidence claiming the current epoch: its hash was used.
        uint64 epoch = currentEpoch();
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidenceReused.selector, old));
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, old, first.encryptionKey, GOOD, expiresAt, false);
        vm.stopPrank();
        assertTrue(!attestations.isCurrent(a), "no record revived");
    }

    /// Attacker: node b copies a's evidence hash (from the mempool, or by hashing the quote a serves) and posts it
    /// first, to make a's own post revert for ever and keep a off level 3. The replay set is per node, so a's post
    /// goes through; b's copy names evidence whose report data binds a's signer, which no client accepts from b.
    function test_frontRunningAVictimsEvidenceDoesNotBlockIt() public {
        bytes32 victimEvidence = keccak256("victim's quote of this epoch");
        uint64 epoch = currentEpoch();
        uint64 expiresAt = uint64(block.timestamp + 1 hours);
        vm.prank(operatorOf[b]);
        attestations.post(b, AttestationRegistry.Kind.Tdx, epoch, victimEvidence, bytes32("victim key"), GOOD, expiresAt, false);
        vm.prank(operatorOf[a]);
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, victimEvidence, bytes32("victim key"), GOOD, expiresAt, false);
        assertTrue(attestations.isCurrent(a), "the victim's record is current");
        assertEq(attestations.attestationOf(a).evidenceHash, victimEvidence, "the victim's own evidence");
        assertTrue(attestations.evidenceUsed(a, victimEvidence) && attestations.evidenceUsed(b, victimEvidence), "per node");
        // Each node still cannot replay its own evidence.
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidenceReused.selector, victimEvidence));
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, victimEvidence, bytes32("victim key"), GOOD, expiresAt, false);
    }

    function test_expiryIsBoundedByTheGovernanceMaximum() public {
        uint64 epoch = currentEpoch();
        uint256 latest = block.timestamp + attestations.maxValidity();
        vm.startPrank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.InvalidExpiry.selector, uint64(latest + 1), latest));
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, nextEvidence(), bytes32("k"), GOOD, uint64(latest + 1), false);
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.InvalidExpiry.selector, now_, latest));
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, nextEvidence(), bytes32("k"), GOOD, now_, false);
        vm.expectRevert(AttestationRegistry.InvalidKind.selector);
        attestations.post(a, AttestationRegistry.Kind.None, epoch, nextEvidence(), bytes32("k"), GOOD, now_ + 1, false);
        vm.expectRevert(AttestationRegistry.MissingEncryptionKey.selector);
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, nextEvidence(), 0, GOOD, now_ + 1, false);
        vm.expectRevert(AttestationRegistry.MissingEvidenceHash.selector);
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, 0, bytes32("k"), GOOD, now_ + 1, false);
        vm.expectRevert(AttestationRegistry.MissingMeasurement.selector);
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, nextEvidence(), bytes32("k"), 0, now_ + 1, false);
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, nextEvidence(), bytes32("k"), GOOD, uint64(latest), false);
        vm.stopPrank();
        // Governance bounds its own maximum, and only governance sets it.
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "maxValidity", 31 days));
        attestations.setMaxValidity(31 days);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "maxValidity", 59 minutes));
        attestations.setMaxValidity(59 minutes);
        vm.stopPrank();
        bytes32 governor = attestations.GOVERNOR_ROLE();
        vm.prank(operatorOf[a]);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, operatorOf[a], governor)
        );
        attestations.setTaskMeasurement(confidential, OTHER, true);
    }

    function test_repostingReplacesTheRecord() public {
        attest(a);
        bytes32 firstKey = attestations.attestationOf(a).encryptionKey;
        nextEpoch();
        bytes32 second = attest(a);
        AttestationRegistry.Attestation memory record = attestations.attestationOf(a);
        assertEq(record.evidenceHash, second, "new evidence");
        assertTrue(record.encryptionKey != firstKey, "rotated key");
        assertEq(record.epoch, nodes.currentEpoch(), "this epoch");
    }

    function test_aSlashedOrDeregisteredNodeCannotPost() public {
        vm.prank(operatorOf[a]);
        nodes.deregister(a);
        uint64 epoch = currentEpoch();
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.NodeNotActive.selector, a));
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, nextEvidence(), bytes32("k"), GOOD, epoch + 1 hours, false);
    }

    // ---------------------------------------------------------------- subscribing

    function test_subscribingNeedsACurrentRecordWithAnAllowedMeasurement() public {
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.NoAttestation.selector, a));
        tasks.subscribe(confidential, a, PRICE, 1e12, SUB_COLLATERAL);
        attest(a, AttestationRegistry.Kind.Tdx, OTHER, VALIDITY);
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.MeasurementNotAllowed.selector, confidential, OTHER));
        tasks.subscribe(confidential, a, PRICE, 1e12, SUB_COLLATERAL);
        // Allowed for the model, the measurement serves every task of it.
        vm.prank(admin);
        attestations.setModelMeasurement(MODEL, OTHER, true);
        subscribe(confidential, a, PRICE);
        assertTrue(tasks.getSubscription(confidential, a).active, "subscribed");
        // A task at another level needs no record at all.
        uint256 open = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(open, b, PRICE);
    }

    function test_devKindIsRefusedUnlessGovernanceAllowedIt() public {
        attest(a, AttestationRegistry.Kind.Dev, GOOD, VALIDITY);
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.DevKindRefused.selector, confidential, a));
        tasks.subscribe(confidential, a, PRICE, 1e12, SUB_COLLATERAL);
        // Allowed on one task, not on another.
        uint256 other = createTask(ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0);
        vm.startPrank(admin);
        attestations.setTaskMeasurement(other, GOOD, true);
        attestations.setDevAllowed(confidential, true);
        vm.stopPrank();
        subscribe(confidential, a, PRICE);
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.DevKindRefused.selector, other, a));
        tasks.subscribe(other, a, PRICE, 1e12, SUB_COLLATERAL);
        // A development network accepts it everywhere.
        vm.prank(admin);
        attestations.setDevNetwork(true);
        subscribe(other, a, PRICE);
    }

    function test_anExpiredRecordCannotSubscribe() public {
        attest(a, AttestationRegistry.Kind.Tdx, GOOD, 1 hours);
        vm.warp(block.timestamp + 1 hours);
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.AttestationExpired.selector, a, uint64(block.timestamp)));
        tasks.subscribe(confidential, a, PRICE, 1e12, SUB_COLLATERAL);
    }

    // ---------------------------------------------------------------- buying

    function test_anExpiredRecordStopsNewStacksAtOnce() public {
        attest(a, AttestationRegistry.Kind.Tdx, GOOD, 36 hours);
        subscribe(confidential, a, PRICE);
        nextEpoch();
        (uint256 stackId, uint256 nodeId) = buy(confidential, 1_000);
        assertEq(nodeId, a, "served while current");
        assertEq(stacks.getStack(stackId).securityLevel, 3, "a confidential stack");
        vm.warp(block.timestamp + 12 hours);
        // Expired: no drawn purchase, no purchase from the node, named reason for the latter.
        vm.startPrank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, confidential));
        stacks.buyStack(confidential, 1_000, type(uint128).max, 1 days);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.AttestationExpired.selector, a, uint64(block.timestamp)));
        stacks.buyStackFromNode(confidential, a, 1_000, type(uint128).max, 1 days);
        vm.stopPrank();
        // The stack bought before is served and settled as usual.
        assertEq(uint256(stacks.getStack(stackId).status), uint256(IStackManager.StackStatus.Active), "still active");
    }

    function test_aRecordExpiringBetweenPurchaseAndDrawCancelsAndRefunds() public {
        // Thirty minutes of validity left after the node becomes eligible: less than the draw limit.
        attest(a, AttestationRegistry.Kind.Tdx, GOOD, 1 days + 30 minutes);
        subscribe(confidential, a, PRICE);
        nextEpoch();
        uint256 before = vault.balanceOf(user);
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory candidates) =
            stacks.buyStack(confidential, 1_000, type(uint128).max, 1 days);
        assertEq(candidates.length, 1, "a was a candidate");
        vm.warp(block.timestamp + 31 minutes);
        vm.roll(block.number + 1);
        assertTrue(!attestations.isCurrent(a), "expired before the draw, within the draw limit");
        uint256 nodeId = stacks.drawNode(stackId, candidates);
        assertEq(nodeId, 0, "not bound");
        assertEq(uint256(stacks.getStack(stackId).status), uint256(IStackManager.StackStatus.Closed), "cancelled");
        assertEq(vault.balanceOf(user) - before, Units.cost(1_000, PRICE), "refunded in full");
    }

    function test_aSetMemberWhoseRecordExpiredBeforeTheChoiceCancelsAndRefunds() public {
        attest(a, AttestationRegistry.Kind.Tdx, GOOD, 1 days + 30 minutes);
        attest(b, AttestationRegistry.Kind.Tdx, GOOD, 1 days + 30 minutes);
        subscribe(confidential, a, PRICE);
        subscribe(confidential, b, PRICE);
        nextEpoch();
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory candidates) =
            stacks.buyStackFromSet(confidential, 1_000, type(uint128).max, 1 days, 2);
        assertEq(candidates.length, 2, "both attested nodes are candidates");
        vm.roll(block.number + 1);
        StackManager.Candidate[] memory set = stacks.drawSet(stackId, candidates, 2);
        vm.warp(block.timestamp + 31 minutes);
        vm.prank(user);
        assertEq(stacks.chooseFromSet(stackId, set, set[0].nodeId), 0, "not bound to an expired node");
        assertEq(uint256(stacks.getStack(stackId).status), uint256(IStackManager.StackStatus.Closed), "cancelled");
    }

    function test_buyingFromAnUnattestedNodeIsRefusedWithTheReason() public {
        attest(a);
        subscribe(confidential, a, PRICE);
        nextEpoch();
        // The measurement is withdrawn by governance: the node is no longer offered.
        vm.prank(admin);
        attestations.setTaskMeasurement(confidential, GOOD, false);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.MeasurementNotAllowed.selector, confidential, GOOD));
        stacks.buyStackFromNode(confidential, a, 1_000, type(uint128).max, 1 days);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, confidential));
        stacks.buyStack(confidential, 1_000, type(uint128).max, 1 days);
    }

    // ---------------------------------------------------------------- dropping subscriptions

    function test_aGrieferCannotDropTheSubscriptionsOfANodeWhoseRecordIsCurrent() public {
        attest(a);
        subscribe(confidential, a, PRICE);
        uint256 open = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(open, a, PRICE);
        address griefer = address(0x6E1EF);
        vm.startPrank(griefer);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.AttestationCurrent.selector, confidential, a));
        tasks.dropUnattested(confidential, a);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NothingToDrop.selector, a));
        tasks.dropUnattestedAll(a);
        // A task that is not confidential is never dropped this way.
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NotConfidential.selector, open));
        tasks.dropUnattested(open, a);
        vm.stopPrank();
        assertTrue(tasks.getSubscription(confidential, a).active, "still subscribed");
        assertTrue(tasks.getSubscription(open, a).active, "still subscribed to the open task");
    }

    function test_anyoneDropsTheConfidentialSubscriptionsOfAnExpiredNode() public {
        attest(a);
        subscribe(confidential, a, PRICE);
        uint256 second = createTask(ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0);
        uint256 open = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        vm.prank(admin);
        attestations.setModelMeasurement(MODEL, GOOD, true);
        subscribe(second, a, PRICE);
        subscribe(open, a, PRICE);
        vm.warp(block.timestamp + VALIDITY);
        address keeper = address(0x4EE9);
        vm.prank(keeper);
        tasks.dropUnattested(confidential, a);
        ITaskRegistry.Subscription memory sub = tasks.getSubscription(confidential, a);
        assertTrue(!sub.active && sub.exitAt == block.timestamp + EXIT_NOTICE, "on exit notice");
        // Dropped once only.
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NotSubscribed.selector, confidential, a));
        tasks.dropUnattested(confidential, a);
        vm.prank(keeper);
        tasks.dropUnattestedAll(a);
        assertTrue(!tasks.getSubscription(second, a).active, "second confidential task dropped");
        assertTrue(tasks.getSubscription(open, a).active, "the open task is untouched");
        // Re-attesting and subscribing again cancels the notice.
        attest(a);
        subscribe(confidential, a, PRICE);
        assertTrue(tasks.getSubscription(confidential, a).active, "back");
    }

    function test_droppingAllIsBoundedByTheSubscriptionLimit() public {
        // Every subscription a node may hold, all confidential and all expired: one call drops them all within a
        // gas bound a keeper can pay, however the node arranged them.
        vm.prank(admin);
        attestations.setModelMeasurement(MODEL, GOOD, true);
        attest(a);
        // SUB_COLLATERAL allows four subscriptions on COLLATERAL.
        subscribe(confidential, a, PRICE);
        for (uint256 i = 1; i < 4; ++i) {
            subscribe(createTask(ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0), a, PRICE);
        }
        vm.warp(block.timestamp + VALIDITY);
        uint256 gasBefore = gasleft();
        tasks.dropUnattestedAll(a);
        uint256 used = gasBefore - gasleft();
        assertLe(used, 200_000, "four drops");
        uint256[] memory list = tasks.tasksOf(a);
        for (uint256 i = 0; i < list.length; ++i) {
            assertTrue(!tasks.getSubscription(list[i], a).active, "dropped");
        }
    }

    // ---------------------------------------------------------------- settlement

    function test_aConfidentialStackIsSettledWithoutSampling() public {
        attest(a);
        subscribe(confidential, a, PRICE);
        nextEpoch();
        (uint256 stackId,) = buy(confidential, 1_000);
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        assertEq(stack.escrow, Units.cost(1_000, PRICE), "no verification surcharge");
        Served memory s = serve(stackId, 6, bytes32("salt"));
        settleAs(stackId, a, s.root, s.units, 6);
        ISettlementManager.Settlement memory st = settlement.getSettlement(stackId);
        assertTrue(st.phase == ISettlementManager.Phase.Accepted, "accepted without a draw");
        assertEq(draws.armedOf(stackId).armedAt, 0, "no attester draw armed");
        assertEq(settlement.attesterIdsOf(stackId).length, 0, "no attesters");
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NothingToDraw.selector, stackId));
        draws.drawAttesters(stackId, new uint256[](0));
        vm.warp(block.timestamp + 2 hours);
        settlement.finalize(stackId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Finalized, "paid");
    }

    /// The owner's challenge works on a confidential stack as on any other: the node's signed response for a leaf
    /// (over the ciphertext's hash) it must prove in the settled tree, or be slashed.
    function test_theOwnersChallengeStillWorksOnAConfidentialStack() public {
        attest(a);
        subscribe(confidential, a, PRICE);
        nextEpoch();
        (uint256 stackId,) = buy(confidential, 1_000);
        Served memory s = serve(stackId, 6, bytes32("salt"));
        settleAs(stackId, a, s.root, s.units, 6);
        AtomaTypedData.Response memory r = AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: 2,
            nonce: 2,
            reqHash: s.reqHashes[2],
            respHash: s.respHashes[2],
            units: s.leaves[2].units,
            cumulativeUnits: s.leaves[2].cumulativeUnits,
            seed: 7
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[a], stacks.responseDigest(r));
        vm.prank(user);
        uint256 challengeId = challenges.challenge(stackId, r, abi.encodePacked(rr, ss, v));
        vm.prank(vm.addr(signerKey[a]));
        challenges.answerChallenge(challengeId, stackProof(s.hashes, 2));
        assertTrue(challenges.getChallenge(challengeId).status == ChallengeManager.Status.Dismissed, "answered");
    }

    function test_consensusTasksStayOffTheStackPath() public {
        uint256 c = createTask(ITaskRegistry.SecurityLevel.Consensus, 0, 0, 0);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.TaskUnavailable.selector, c));
        stacks.buyStack(c, 1_000, type(uint128).max, 1 days);
    }

    function test_confidentialTasksNeedTheRegistryWiredOnce() public {
        vm.startPrank(admin);
        TaskRegistry fresh = new TaskRegistry(
            admin,
            INodeRegistry(address(nodes)),
            models,
            TaskRegistry.Params({
                minReplicationPpm: 0,
                maxSubscribersPerTask: 8,
                maxSubscriptionsPerNode: 4,
                maxAttesters: 1,
                maxSampleSize: 1,
                minSubscriptionCollateral: 1 ether,
                exitNotice: EXIT_NOTICE
            })
        );
        vm.expectRevert(AtomaAccess.NotWired.selector);
        fresh.createTask(MODEL, 0, ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0, 0);
        fresh.wireAttestations(attestations);
        vm.expectRevert(AtomaAccess.AlreadyWired.selector);
        fresh.wireAttestations(attestations);
        vm.stopPrank();
        fresh.createTask(MODEL, 0, ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0, 0);
    }

    // ---------------------------------------------------------------- fuzz

    /// A drop succeeds exactly when the node is no longer accepted (expired, or its measurement withdrawn), never
    /// while it is: whoever calls it, whenever.
    function testFuzz_aDropSucceedsOnlyOnceTheNodeIsNoLongerAccepted(uint32 elapsed, bool withdraw, address keeper)
        public
    {
        attest(a);
        subscribe(confidential, a, PRICE);
        vm.warp(block.timestamp + bound(elapsed, 0, 2 * VALIDITY));
        if (withdraw) {
            vm.prank(admin);
            attestations.setTaskMeasurement(confidential, GOOD, false);
        }
        bool accepted = attestations.accepts(confidential, MODEL, a);
        assertTrue(accepted == (!withdraw && attestations.isCurrent(a)), "accepted iff current and allowed");
        vm.prank(keeper);
        if (accepted) vm.expectRevert(abi.encodeWithSelector(TaskRegistry.AttestationCurrent.selector, confidential, a));
        tasks.dropUnattested(confidential, a);
        assertTrue(tasks.getSubscription(confidential, a).active == accepted, "dropped iff no longer accepted");
    }

    /// Whatever the validity and the time that passes, a node subscribes and is sold only while its record is
    /// current, and posting succeeds only within the governance maximum.
    function testFuzz_onlyACurrentRecordServes(uint64 validity, uint32 elapsed) public {
        validity = uint64(bound(validity, 1, 3 days));
        uint64 epoch = currentEpoch();
        uint64 expiresAt = uint64(block.timestamp) + validity;
        bytes32 evidence = nextEvidence();
        uint64 maxValidity = attestations.maxValidity();
        vm.prank(operatorOf[a]);
        if (validity > maxValidity) {
            vm.expectRevert(
                abi.encodeWithSelector(AttestationRegistry.InvalidExpiry.selector, expiresAt, block.timestamp + maxValidity)
            );
        }
        attestations.post(a, AttestationRegistry.Kind.Tdx, epoch, evidence, bytes32("k"), GOOD, expiresAt, false);
        if (validity > maxValidity) return;
        vm.warp(block.timestamp + bound(elapsed, 0, 3 days));
        bool current = block.timestamp < expiresAt;
        assertTrue(attestations.accepts(confidential, MODEL, a) == current, "accepted iff current");
        vm.prank(operatorOf[a]);
        if (!current) vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.AttestationExpired.selector, a, expiresAt));
        tasks.subscribe(confidential, a, PRICE, 1e12, SUB_COLLATERAL);
        if (!current) return;
        nextEpoch();
        current = block.timestamp < expiresAt;
        vm.prank(user);
        if (!current) vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.AttestationExpired.selector, a, expiresAt));
        stacks.buyStackFromNode(confidential, a, 1_000, type(uint128).max, 1 days);
    }
}
