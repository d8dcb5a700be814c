// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {Units} from "../src/common/Units.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {NodeRegistry} from "../src/registry/NodeRegistry.sol";
import {IStackServing} from "../src/interfaces/IStackServing.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// A node proven to have served evidence it never posted (`reportUnposted`'s statement) owes the buyers of the
/// level-3 stacks it served in that epoch: `refundUnposted` slashes it once more per stack, once the stack's
/// settlement is finalized, the user's share (at most what the stack paid for its units) to the stack's owner,
/// whoever sends it.
contract ConfidentialRefundTest is ConfidentialSteps {
    uint256 internal cheat;
    uint256 internal other;
    address internal racer = address(0xBAD);

    function setUp() public {
        deployConfidential();
        cheat = confidentialNode();
        other = confidentialNode();
        nextEpoch();
        attest(cheat);
        attest(other);
        // A minute into the epoch: a stack bought now and closed at once still served in it (for that minute).
        vm.warp(block.timestamp + 1 minutes);
    }

    function statement(uint256 nodeId, uint64 epoch, bytes32 evidenceHash) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(signerKey[nodeId], attestations.servedEvidenceDigest(nodeId, epoch, evidenceHash));
        return abi.encodePacked(r, s, v);
    }

    /// The user's share of a timeout slash of `nodeId` now (the fixture's 5% of collateral, half to the user).
    function userShareNow(uint256 nodeId) internal view returns (uint256) {
        return uint256(nodes.getNode(nodeId).collateral) * 500 / 10_000 * 5_000 / 10_000;
    }

    /// Attacker: a reporter racing the buyer reports the lie first (taking the reporter's share), then tries to
    /// refund the buyer's stack to itself. The refund still goes to the stack's owner, once, whoever sends it.
    function test_theBuyerIsRefundedFromTheSlashWhoeverReportsFirst() public {
        uint64 epoch = currentEpoch();
        (uint256 stackId, uint256 server) = buyFrom(cheat);
        assertEq(server, cheat, "served by the cheat");
        bytes32 served = keccak256("evidence it serves, never posted");
        bytes memory lie = statement(cheat, epoch, served);
        nextEpoch(); // an unposted hash convicts once its epoch is over
        vm.prank(racer);
        attestations.reportUnposted(cheat, epoch, served, lie);
        settleAndFinalize(stackId, 1_000);
        uint256 racerBefore = vault.balanceOf(racer);
        uint256 ownerBefore = vault.balanceOf(user);
        uint256 share = min(userShareNow(cheat), paidFor(stackId));
        vm.prank(racer);
        uint256 slashed = attestations.refundUnposted(cheat, epoch, served, lie, stackId);
        assertTrue(slashed > 0, "slashed again");
        assertEq(vault.balanceOf(user) - ownerBefore, share, "the owner takes the user's share, up to what it paid");
        assertEq(vault.balanceOf(racer), racerBefore, "the racer takes nothing of it");
        assertTrue(!attestations.isCurrent(cheat), "record revoked");
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackRefunded.selector, stackId));
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
    }

    /// The refund works without a prior report: it revokes and bans as the report does.
    function test_aRefundAloneRevokesAndBans() public {
        uint64 epoch = currentEpoch();
        (uint256 stackId,) = buyFrom(cheat);
        settleAndFinalize(stackId, 1_000);
        bytes32 served = keccak256("unposted");
        uint256 before = vault.balanceOf(user);
        uint8 reputation = nodes.getNode(cheat).reputation;
        nextEpoch();
        attestations.refundUnposted(cheat, epoch, served, statement(cheat, epoch, served), stackId);
        assertTrue(nodes.getNode(cheat).reputation < reputation, "the first punishment cuts reputation");
        assertTrue(vault.balanceOf(user) > before, "refunded");
        assertTrue(!attestations.isCurrent(cheat), "record revoked");
        assertEq(attestations.bannedUntilEpoch(cheat), nodes.currentEpoch() + 2, "banned");
    }

    /// Liar (review rev4 R4-2): refunds a tiny stack of its own first, hoping the refund's capped slash stands for
    /// the report. The report still slashes in full and pays its reporter; the revocation and ban are not repeated.
    function test_aLiarRefundingItsOwnStackFirstIsStillReported() public {
        uint64 epoch = currentEpoch();
        (uint256 stackId,) = buyFrom(cheat);
        settleAndFinalize(stackId, 1);
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        nextEpoch();
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
        uint256 ban = attestations.bannedUntilEpoch(cheat);
        uint256 collateral = nodes.getNode(cheat).collateral;
        address reporter = address(0xBEEF);
        uint256 reporterBefore = vault.balanceOf(reporter);
        vm.prank(reporter);
        uint256 slashed = attestations.reportUnposted(cheat, epoch, served, lie);
        assertTrue(slashed > 0, "the report slashes");
        assertEq(nodes.getNode(cheat).collateral, collateral - slashed, "in full");
        assertTrue(vault.balanceOf(reporter) > reporterBefore, "the reporter is paid");
        assertEq(attestations.bannedUntilEpoch(cheat), ban, "no second ban");
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StatementReported.selector, cheat, epoch, served));
        attestations.reportUnposted(cheat, epoch, served, lie);
    }

    /// Farmer: learns of a provable lie, buys 40 large stacks of the liar during its epoch, closes them unused, lets
    /// them settle (the node settles them empty; its escrow comes back less the minimum charge) and claims a refund
    /// for each. Nothing was paid for them, so nothing is refunded: the farmer ends poorer, the node's collateral and
    /// reputation untouched, and a genuine buyer who paid for what it used still takes its full share afterwards.
    function test_farmingUnusedStacksNetsTheFarmerNothing() public {
        uint64 epoch = currentEpoch();
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        address genuine = address(0x6E7);
        fund(genuine, 1_000 ether);
        vm.prank(genuine);
        token.approve(address(vault), type(uint256).max);
        vm.prank(genuine);
        uint256 big = stacks.buyStackFromNode(confidential, cheat, 500_000_000, type(uint128).max, 1 days);
        uint256 farmerBefore = token.balanceOf(user) + vault.balanceOf(user);
        uint256 collateral = nodes.getNode(cheat).collateral;
        uint8 reputation = nodes.getNode(cheat).reputation;
        uint256[] memory farmed = new uint256[](40);
        for (uint256 i = 0; i < farmed.length; ++i) {
            vm.prank(user);
            farmed[i] = stacks.buyStackFromNode(confidential, cheat, 5_000_000, type(uint128).max, 1 days);
            vm.prank(user);
            stacks.closeStack(farmed[i]);
            settle(farmed[i], 0);
        }
        nextEpoch(); // the lie is provable once its epoch is over
        for (uint256 i = 0; i < farmed.length; ++i) {
            // Before its settlement is over, nothing can be claimed.
            vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.SettlementNotOver.selector, farmed[i]));
            attestations.refundUnposted(cheat, epoch, served, lie, farmed[i]);
        }
        finalizeAll(farmed);
        for (uint256 i = 0; i < farmed.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackNotPaid.selector, farmed[i]));
            attestations.refundUnposted(cheat, epoch, served, lie, farmed[i]);
        }
        assertTrue(token.balanceOf(user) + vault.balanceOf(user) < farmerBefore, "the farmer's net is negative");
        assertEq(nodes.getNode(cheat).collateral, collateral, "the node's collateral is not drained");
        assertEq(nodes.getNode(cheat).reputation, reputation, "nor its reputation");
        settleAndFinalize(big, 500_000_000);
        uint256 share = min(userShareNow(cheat), paidFor(big));
        assertTrue(share > 200 ether, "the genuine share is nearly the whole 5% user share");
        uint256 genuineBefore = vault.balanceOf(genuine);
        attestations.refundUnposted(cheat, epoch, served, lie, big);
        assertEq(vault.balanceOf(genuine) - genuineBefore, share, "the genuine buyer takes its full share");
    }

    /// Farmer: pays for a little of each of 20 stacks (one unit's worth), then claims a refund for each. Each refund
    /// is capped at what the stack paid for its units, so the farmer's net, refunds and settlement refunds
    /// counted, is never positive; and after the first punishment, refunds no longer cut reputation.
    function test_farmingBarelyUsedStacksNeverPays() public {
        uint64 epoch = currentEpoch();
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        uint256 farmerBefore = token.balanceOf(user) + vault.balanceOf(user);
        uint256[] memory farmed = new uint256[](20);
        for (uint256 i = 0; i < farmed.length; ++i) {
            vm.prank(user);
            farmed[i] = stacks.buyStackFromNode(confidential, cheat, 5_000_000, type(uint128).max, 1 days);
            vm.prank(user);
            stacks.closeStack(farmed[i]);
            settle(farmed[i], 1);
        }
        finalizeAll(farmed);
        nextEpoch();
        attestations.refundUnposted(cheat, epoch, served, lie, farmed[0]);
        uint8 reputation = nodes.getNode(cheat).reputation;
        for (uint256 i = 1; i < farmed.length; ++i) {
            uint256 before = vault.balanceOf(user);
            attestations.refundUnposted(cheat, epoch, served, lie, farmed[i]);
            assertLe(vault.balanceOf(user) - before, paidFor(farmed[i]), "at most what the stack paid");
        }
        assertLe(token.balanceOf(user) + vault.balanceOf(user), farmerBefore, "the farmer's net is not positive");
        assertEq(nodes.getNode(cheat).reputation, reputation, "later refunds do not cut reputation");
    }

    /// Farmer: a stack whose node never settled is refunded in full by its timeout (the node slashed then); a
    /// refund for the lie on top of it is refused.
    function test_aTimedOutStackIsNotRefundedTwice() public {
        uint64 epoch = currentEpoch();
        (uint256 stackId,) = buyFrom(cheat);
        vm.warp(stacks.settleDeadline(stackId) + 1);
        settlement.timeoutSettlement(stackId);
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackNotPaid.selector, stackId));
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
    }

    /// Griefer: a holder of an old lie's stacks refunds them one by one long after, to keep an honest node (since
    /// re-attested) off confidential work. After the report, a refund only slashes: no revocation, no new ban; and
    /// past the claim window it is refused.
    function test_aLateRefundNeitherRevokesNorBansAndTheWindowCloses() public {
        uint64 epoch = currentEpoch();
        (uint256 first,) = buyFrom(cheat);
        (uint256 second,) = buyFrom(cheat);
        settle(first, 1_000);
        settle(second, 1_000);
        uint256[] memory both = new uint256[](2);
        (both[0], both[1]) = (first, second);
        finalizeAll(both);
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        nextEpoch();
        attestations.reportUnposted(cheat, epoch, served, lie);
        uint256 ban = attestations.bannedUntilEpoch(cheat);
        vm.warp(block.timestamp + 3 * nodes.EPOCH_LENGTH());
        attest(cheat);
        attestations.refundUnposted(cheat, epoch, served, lie, first);
        assertTrue(attestations.isCurrent(cheat), "the honest record stays current");
        assertEq(attestations.bannedUntilEpoch(cheat), ban, "no new ban");
        // Past the window, the old lie refunds nothing.
        vm.warp(block.timestamp + 3 * nodes.EPOCH_LENGTH());
        uint256 current = nodes.currentEpoch();
        assertTrue(current > uint256(epoch) + attestations.REFUND_EPOCHS(), "past the window");
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.RefundWindowClosed.selector, epoch, current));
        attestations.refundUnposted(cheat, epoch, served, lie, second);
    }

    /// Liar: keeps the stack's settlement disputed (answering the owner's index challenges, each at its deadline)
    /// until the claim window counted from the challenge window's end has closed, so that the refund, which waits
    /// for finalization, expires. The claim made while it is disputed is recorded and paid after finalization.
    function test_aSettlementHeldDisputedPastTheWindowStillRefunds() public {
        uint64 epoch = currentEpoch();
        (uint256 stackId,) = buyFrom(cheat);
        settle(stackId, 1_000);
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        // The owner's challenge holds the settlement disputed (what the challenge manager does on an index challenge).
        vm.prank(address(challenges));
        settlement.markChallenged(stackId);
        nextEpoch();
        uint256 collateral = nodes.getNode(cheat).collateral;
        vm.expectEmit(address(attestations));
        emit AttestationRegistry.RefundClaimed(cheat, stackId, epoch);
        assertEq(attestations.refundUnposted(cheat, epoch, served, lie, stackId), 0, "claimed, nothing slashed yet");
        assertTrue(
            attestations.refundClaimed(attestations.servedEvidenceDigest(cheat, epoch, served), stackId), "claim recorded"
        );
        assertEq(nodes.getNode(cheat).collateral, collateral, "no slash before finalization");
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.SettlementNotOver.selector, stackId));
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
        // The node answers its last challenge long after the old window closed.
        vm.warp(block.timestamp + (attestations.REFUND_EPOCHS() + 3) * nodes.EPOCH_LENGTH());
        vm.prank(address(challenges));
        settlement.onDisputeResolved(stackId, true, false);
        settlement.finalize(stackId);
        uint256 ends = (settlement.getSettlement(stackId).windowEnds - nodes.GENESIS()) / nodes.EPOCH_LENGTH();
        assertTrue(nodes.currentEpoch() > ends + attestations.REFUND_EPOCHS(), "past the old window");
        uint256 share = min(userShareNow(cheat), paidFor(stackId));
        uint256 before = vault.balanceOf(user);
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
        assertEq(vault.balanceOf(user) - before, share, "the buyer is refunded after finalization");
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackRefunded.selector, stackId));
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
    }

    /// Farmer: a stack served under two lying statements (two epochs) is refunded at most what it paid in all,
    /// not once per statement.
    function test_aStackUnderSeveralLiesIsRefundedAtMostWhatItPaid() public {
        uint64 first = currentEpoch();
        (uint256 stackId,) = buyFrom(cheat);
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, first, served);
        nextEpoch();
        uint64 second = currentEpoch();
        bytes memory again = statement(cheat, second, served);
        settle(stackId, 1_000);
        nextEpoch();
        uint256[] memory one = new uint256[](1);
        one[0] = stackId;
        finalizeAll(one);
        uint256 paid = paidFor(stackId);
        assertTrue(paid < userShareNow(cheat), "the cap binds");
        uint256 before = vault.balanceOf(user);
        attestations.refundUnposted(cheat, first, served, lie, stackId);
        assertEq(vault.balanceOf(user) - before, paid, "the first lie refunds what the stack paid");
        assertEq(attestations.refundedTotal(stackId), paid, "running total");
        uint256 collateral = nodes.getNode(cheat).collateral;
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackNotPaid.selector, stackId));
        attestations.refundUnposted(cheat, second, served, again, stackId);
        assertEq(vault.balanceOf(user) - before, paid, "nothing more for the second lie");
        assertEq(nodes.getNode(cheat).collateral, collateral, "nor a slash");
    }

    /// Griefer: with governance's user share of a timeout at zero, a refund pays its buyer nothing; it must not
    /// then slash the full timeout share of the collateral for each stack.
    function test_noUserShareMeansARefundSlashesNothing() public {
        // The public getter returns the struct's fields as a tuple: the same encoding as the struct.
        (, bytes memory current) = address(nodes).staticcall(abi.encodeCall(nodes.params, ()));
        NodeRegistry.Params memory p = abi.decode(current, (NodeRegistry.Params));
        p.timeoutUserBps = 0;
        vm.prank(admin);
        nodes.setParams(p);
        uint64 epoch = currentEpoch();
        (uint256 stackId,) = buyFrom(cheat);
        settleAndFinalize(stackId, 1_000);
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        nextEpoch();
        uint256 collateral = nodes.getNode(cheat).collateral;
        uint256 before = vault.balanceOf(user);
        assertEq(attestations.refundUnposted(cheat, epoch, served, lie, stackId), 0, "nothing slashed");
        assertEq(nodes.getNode(cheat).collateral, collateral, "the collateral is untouched");
        assertEq(vault.balanceOf(user), before, "and the buyer paid nothing");
        assertTrue(!attestations.isCurrent(cheat), "the lie still revokes");
    }

    /// Griefer: a stack closed before the statement's epoch began, though its nominal expiry falls inside it, was
    /// not served under the statement.
    function test_aStackClosedBeforeTheEpochIsRefused() public {
        uint48 duration = uint48(3 * nodes.EPOCH_LENGTH());
        vm.prank(user);
        uint256 stackId = stacks.buyStackFromNode(confidential, cheat, 1_000, type(uint128).max, duration);
        vm.prank(user);
        stacks.closeStack(stackId);
        vm.warp(block.timestamp + nodes.EPOCH_LENGTH());
        uint64 epoch = currentEpoch();
        assertTrue(stacks.getStack(stackId).expiresAt > block.timestamp, "nominally still running");
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        nextEpoch();
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackNotServedUnder.selector, stackId, cheat, epoch));
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
    }

    /// Griefer: a stack its node settled (and so stopped serving) before the statement's epoch began, though its
    /// nominal expiry falls inside it, was not served under the statement.
    function test_aStackSettledBeforeTheEpochIsRefused() public {
        uint48 duration = uint48(3 * nodes.EPOCH_LENGTH());
        vm.prank(user);
        uint256 stackId = stacks.buyStackFromNode(confidential, cheat, 1_000, type(uint128).max, duration);
        settle(stackId, 1_000);
        vm.warp(block.timestamp + nodes.EPOCH_LENGTH());
        uint256[] memory one = new uint256[](1);
        one[0] = stackId;
        finalizeAll(one);
        uint64 epoch = currentEpoch();
        assertTrue(stacks.getStack(stackId).expiresAt > block.timestamp, "nominally still running");
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        nextEpoch();
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackNotServedUnder.selector, stackId, cheat, epoch));
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
    }

    /// The node settles `stackId` now for `units` (over two requests, none when empty).
    function settle(uint256 stackId, uint64 units) internal {
        uint64 count = units == 0 ? 0 : 2;
        Served memory s = serve(stackId, count, keccak256("salt"), units);
        settleAs(stackId, stacks.getStack(stackId).nodeId, s.root, units, count);
    }

    /// Finalizes each of `stackIds` once every challenge window is over.
    function finalizeAll(uint256[] memory stackIds) internal {
        uint256 last;
        for (uint256 i = 0; i < stackIds.length; ++i) {
            uint256 ends = settlement.getSettlement(stackIds[i]).windowEnds;
            if (ends > last) last = ends;
        }
        if (last + 1 > block.timestamp) vm.warp(last + 1);
        for (uint256 i = 0; i < stackIds.length; ++i) settlement.finalize(stackIds[i]);
    }

    function settleAndFinalize(uint256 stackId, uint64 units) internal {
        settle(stackId, units);
        uint256[] memory one = new uint256[](1);
        one[0] = stackId;
        finalizeAll(one);
    }

    /// What the owner of a finalized stack paid for its settled units.
    function paidFor(uint256 stackId) internal view returns (uint256) {
        return Units.cost(settlement.getSettlement(stackId).units, stacks.getStack(stackId).pricePerMillion);
    }

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    /// Griefer: names stacks the lie never touched to drain the node into its own pocket: another node's stack, a
    /// stack of a lower level, a stack served only in a later epoch, and one that expired before the statement's
    /// epoch began. Each is refused, and an honest node's true statement refunds nothing.
    function test_stacksNotServedUnderTheStatementAreRefused() public {
        uint64 epoch = currentEpoch();
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        // Another node's level-3 stack.
        (uint256 otherStack, uint256 otherServer) = buyFrom(other);
        assertEq(otherServer, other, "other serves it");
        nextEpoch();
        vm.expectRevert(
            abi.encodeWithSelector(AttestationRegistry.StackNotServedUnder.selector, otherStack, cheat, epoch)
        );
        attestations.refundUnposted(cheat, epoch, served, lie, otherStack);
        // A level-0 stack of the cheat.
        uint256 plain = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(plain, cheat, PRICE);
        nextEpoch();
        attest(cheat);
        attest(other);
        (uint256 plainStack,) = buy(plain, 1_000);
        vm.expectRevert(
            abi.encodeWithSelector(AttestationRegistry.StackNotServedUnder.selector, plainStack, cheat, epoch)
        );
        attestations.refundUnposted(cheat, epoch, served, lie, plainStack);
        // A level-3 stack of the cheat bought in a later epoch than the statement's.
        (uint256 later,) = buyFrom(cheat);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackNotServedUnder.selector, later, cheat, epoch));
        attestations.refundUnposted(cheat, epoch, served, lie, later);
        // A stack that does not exist (never bound to a node).
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackNotServedUnder.selector, 999, cheat, epoch));
        attestations.refundUnposted(cheat, epoch, served, lie, 999);
        // A stack that expired before the statement's epoch began.
        uint64 laterEpoch = currentEpoch() + 3;
        vm.warp(block.timestamp + 4 * nodes.EPOCH_LENGTH());
        bytes memory laterLie = statement(cheat, laterEpoch, served);
        vm.expectRevert(
            abi.encodeWithSelector(AttestationRegistry.StackNotServedUnder.selector, later, cheat, laterEpoch)
        );
        attestations.refundUnposted(cheat, laterEpoch, served, laterLie, later);
    }

    /// Griefer: an honest node's genuine statement (evidence it posted, in that epoch) refunds nothing.
    function test_anHonestStatementRefundsNothing() public {
        uint64 epoch = currentEpoch();
        bytes32 posted = attest(cheat);
        (uint256 stackId,) = buyFrom(cheat);
        bytes memory genuine = statement(cheat, epoch, posted);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidencePosted.selector, cheat, posted));
        attestations.refundUnposted(cheat, epoch, posted, genuine, stackId);
        assertTrue(attestations.isCurrent(cheat), "still current");
    }

    /// The stack manager is wired once, by the admin only; before it, a refund names its reason.
    function test_stacksAreWiredOnceByTheAdmin() public {
        AttestationRegistry fresh = new AttestationRegistry(admin, INodeRegistry(address(nodes)), 2 days);
        uint64 epoch = currentEpoch();
        bytes32 served = keccak256("unposted");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signerKey[cheat], fresh.servedEvidenceDigest(cheat, epoch, served));
        bytes memory lie = abi.encodePacked(r, s, v);
        nextEpoch();
        vm.expectRevert(AtomaAccess.NotWired.selector);
        fresh.refundUnposted(cheat, epoch, served, lie, 1);
        vm.prank(racer);
        vm.expectRevert();
        fresh.wireStacks(IStackServing(address(stacks)));
        vm.startPrank(admin);
        fresh.wireStacks(IStackServing(address(stacks)));
        vm.expectRevert(AtomaAccess.AlreadyWired.selector);
        fresh.wireStacks(IStackServing(address(stacks)));
        vm.stopPrank();
    }

    /// A level-3 stack bought by `user` from `nodeId` by name.
    function buyFrom(uint256 nodeId) internal returns (uint256 stackId, uint256 server) {
        vm.prank(user);
        stackId = stacks.buyStackFromNode(confidential, nodeId, 1_000, type(uint128).max, 1 days);
        server = stacks.getStack(stackId).nodeId;
    }
}
