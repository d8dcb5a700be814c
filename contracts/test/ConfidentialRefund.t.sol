// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {IStackServing} from "../src/interfaces/IStackServing.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// A node proven to have served evidence it never posted (`reportUnposted`'s statement) owes the buyers of the
/// level-3 stacks it served in that epoch: `refundUnposted` slashes it once more per stack, the user's share to the
/// stack's owner, whoever sends it.
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
        uint256 racerBefore = vault.balanceOf(racer);
        uint256 ownerBefore = vault.balanceOf(user);
        uint256 share = min(userShareNow(cheat), stacks.getStack(stackId).escrow);
        vm.prank(racer);
        uint256 slashed = attestations.refundUnposted(cheat, epoch, served, lie, stackId);
        assertTrue(slashed > 0, "slashed again");
        assertEq(vault.balanceOf(user) - ownerBefore, share, "the owner takes the user's share, up to the stack's cost");
        assertEq(vault.balanceOf(racer), racerBefore, "the racer takes nothing of it");
        assertTrue(!attestations.isCurrent(cheat), "record revoked");
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StackRefunded.selector, stackId));
        attestations.refundUnposted(cheat, epoch, served, lie, stackId);
    }

    /// The refund works without a prior report: it revokes and bans as the report does.
    function test_aRefundAloneRevokesAndBans() public {
        uint64 epoch = currentEpoch();
        (uint256 stackId,) = buyFrom(cheat);
        bytes32 served = keccak256("unposted");
        uint256 before = vault.balanceOf(user);
        nextEpoch();
        attestations.refundUnposted(cheat, epoch, served, statement(cheat, epoch, served), stackId);
        assertTrue(vault.balanceOf(user) > before, "refunded");
        assertTrue(!attestations.isCurrent(cheat), "record revoked");
        assertEq(attestations.bannedUntilEpoch(cheat), nodes.currentEpoch() + 2, "banned");
        bytes memory lie = statement(cheat, epoch, served);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StatementReported.selector, cheat, epoch, served));
        attestations.reportUnposted(cheat, epoch, served, lie);
    }

    /// Farmer: buys 40 small stacks of the liar during the lying epoch and refunds them all. Each refund is capped at
    /// the stack's escrow, so the farmer gets back at most what its stacks cost, and a genuine buyer who refunds
    /// afterwards still takes its full share.
    function test_farmingSmallStacksPaysNoMoreThanTheyCost() public {
        uint64 epoch = currentEpoch();
        bytes32 served = keccak256("unposted");
        bytes memory lie = statement(cheat, epoch, served);
        address genuine = address(0x6E7);
        fund(genuine, 1_000 ether);
        vm.prank(genuine);
        token.approve(address(vault), type(uint256).max);
        vm.prank(genuine);
        uint256 big = stacks.buyStackFromNode(confidential, cheat, 500_000_000, type(uint128).max, 1 days);
        uint256[] memory farmed = new uint256[](40);
        uint256 cost;
        for (uint256 i = 0; i < farmed.length; ++i) {
            (farmed[i],) = buyFrom(cheat);
            cost += stacks.getStack(farmed[i]).escrow;
        }
        nextEpoch();
        uint256 before = vault.balanceOf(user);
        for (uint256 i = 0; i < farmed.length; ++i) {
            attestations.refundUnposted(cheat, epoch, served, lie, farmed[i]);
        }
        assertLe(vault.balanceOf(user) - before, cost, "the farmer gets at most what its stacks cost");
        uint256 share = min(userShareNow(cheat), stacks.getStack(big).escrow);
        assertTrue(share > 200 ether, "the genuine share is nearly the whole 5% user share still");
        uint256 genuineBefore = vault.balanceOf(genuine);
        attestations.refundUnposted(cheat, epoch, served, lie, big);
        assertEq(vault.balanceOf(genuine) - genuineBefore, share, "the genuine buyer takes its full share");
    }

    /// Griefer: a holder of an old lie's stacks refunds them one by one long after, to keep an honest node (since
    /// re-attested) off confidential work. After the report, a refund only slashes: no revocation, no new ban; and
    /// past the claim window it is refused.
    function test_aLateRefundNeitherRevokesNorBansAndTheWindowCloses() public {
        uint64 epoch = currentEpoch();
        (uint256 first,) = buyFrom(cheat);
        (uint256 second,) = buyFrom(cheat);
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
