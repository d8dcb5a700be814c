// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice Issue 15, a listed purchase's draw resolved by whoever touches the stack first, from the hash of its
/// purchase block only, and its pending fields packed into the stack's own slots. The attacks: a resolver (the
/// buyer, a node, anyone) choosing WHEN to resolve among several later blocks to pick its hash; a buyer waiting out
/// the hash to re-roll an unwelcome node; a node that binds and then tries to back out; an expired purchase bound
/// anyway, or its escrow paid twice; and the packing read back wrong for any terms.
contract LazyListedDrawTest is AtomaFixture {
    uint256 internal plainTask;
    uint256 internal verifiedTask;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 9; ++i) addNode(1);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 1, 1);
        for (uint256 i = 0; i < 9; ++i) {
            subscribe(plainTask, nodeIds[i], PRICE);
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        nextEpoch();
        fund(user, 1_000_000 ether);
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
    }

    function _list(uint256 taskId) internal view returns (StackManager.Candidate[] memory c) {
        c = stacks.candidatesFor(taskId, 1_000, PRICE);
        for (uint256 i = 1; i < c.length; ++i) {
            for (uint256 j = i; j > 0 && c[j - 1].nodeId > c[j].nodeId; --j) (c[j - 1], c[j]) = (c[j], c[j - 1]);
        }
    }

    function _buy(uint256 taskId, StackManager.Candidate[] memory list) internal returns (uint256 stackId) {
        vm.prank(user);
        stackId = stacks.buyStackAmong(taskId, 1_000, PRICE, 1 days, list);
    }

    /// Whoever resolves, at whichever later block within the horizon, and whatever the hashes of the blocks after
    /// the purchase are, the same node is drawn: only the purchase block's hash counts, so nobody gains by picking
    /// the moment of resolution among several future hashes.
    function test_theResolverCannotPickTheHashByPickingTheMoment() public {
        StackManager.Candidate[] memory list = _list(plainTask);
        uint256 stackId = _buy(plainTask, list);
        uint256 bought = block.number;
        uint256 drawn;
        address[3] memory resolvers = [user, operatorOf[nodeIds[0]], address(0xBEEF)];
        for (uint256 later = 1; later <= 256; later += 15) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(bought + later);
            // Every block between the purchase and the resolver's gets a hash it might have hoped to use.
            for (uint256 b = bought + 1; b < bought + later; ++b) {
                vm.setBlockhash(b, keccak256(abi.encode("a later block", b, later)));
            }
            vm.prank(resolvers[later % 3]);
            uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
            if (drawn == 0) drawn = nodeId;
            assertEq(nodeId, drawn, "the same node whoever resolves, whenever");
            vm.revertToState(snapshot);
        }
        assertTrue(drawn != 0, "bound");
    }

    /// The purchase block's hash gone (more than 256 blocks): the purchase is cancelled and refunded in full, never
    /// bound, and never re-armed on a block the resolver picks (a buyer who disliked the drawn node cannot wait
    /// for a new draw of the same purchase; it can only buy again, paying again).
    function test_anExpiredListedPurchaseIsRefundedInFullNeverBound() public {
        StackManager.Candidate[] memory list = _list(plainTask);
        uint256 stackId = _buy(plainTask, list);
        uint256 locked = stacks.getStack(stackId).escrow;
        uint256 before = vault.balanceOf(user);
        vm.roll(block.number + 257);
        vm.expectEmit(address(stacks));
        emit StackManager.StackCancelled(stackId, locked);
        assertEq(stacks.drawListed(stackId, list, new uint256[](0)), 0, "not bound");
        IStackManager.Stack memory s = stacks.getStack(stackId);
        assertTrue(s.status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(s.nodeId, 0, "no node");
        assertEq(vault.balanceOf(user) - before, locked, "refunded in full");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), 0, "nothing left in escrow");
        // Nothing resolves it again: no re-arm, no second refund.
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawListed(stackId, list, new uint256[](0));
        assertEq(vault.balanceOf(user) - before, locked, "refunded once");
    }

    /// A node that saw the hash and was drawn, once bound, cannot back out: no draw, choice or cancel reaches an
    /// active stack, its node and escrow stay, and the escrow is never released twice.
    function test_aBoundNodeCannotBackOutNorTheEscrowBeSpentTwice() public {
        StackManager.Candidate[] memory list = _list(plainTask);
        uint256 stackId = _buy(plainTask, list);
        vm.roll(block.number + 1);
        uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        IStackManager.Stack memory bound = stacks.getStack(stackId);
        uint256 held = vault.escrowOf(stacks.escrowKey(stackId));
        assertEq(held, bound.escrow, "the escrow held is the stack's");
        address nodeOperator = operatorOf[nodeId];
        vm.startPrank(nodeOperator);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawListed(stackId, list, new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawNode(stackId, list);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        stacks.cancelChoice(stackId);
        vm.stopPrank();
        vm.roll(block.number + 300);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawListed(stackId, list, new uint256[](0));
        IStackManager.Stack memory after_ = stacks.getStack(stackId);
        assertEq(after_.nodeId, nodeId, "still bound");
        assertTrue(after_.status == IStackManager.StackStatus.Active, "still active");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), held, "escrow untouched");
    }

    struct Terms {
        uint64 units;
        uint32 duration;
        uint16 surchargeBps;
        uint16 minChargeBps;
        bool verified;
    }

    /// The packing, for any terms the fixture can sell: while pending the binding fields read 0 and the purchase
    /// reads back what it fixed; bound, the stack reads its node, price, escrow and expiry and the purchase keeps its
    /// duration and minimum charge; the escrow in the vault is always the stack's. The bounds are the fixture's own
    /// limits: units up to what a subscription's collateral backs at `PRICE` (`SUB_COLLATERAL` / `PRICE` million),
    /// a duration up to the longest its 31-day exit notice lets governance allow (30 days), block numbers up to
    /// 2^63 (the pending words hold them in 64 bits; from bit 16 of the price word) and times up to 2^40 s. In this
    /// fixture (9 nodes in one echelon, a verified task needing 1 attester and a committee of 3) every listed
    /// draw binds, so the draw must bind: a packing that misread the task, units or level into a cancel fails here.
    function testFuzz_thePackedStackReadsBackWhatWasFixed(Terms memory t, uint64 blocks, uint64 time) public {
        t.units = uint64(bound(t.units, 1, uint256(SUB_COLLATERAL) * 1e6 / PRICE));
        t.duration = uint32(bound(t.duration, 1 hours, 30 days));
        t.surchargeBps = uint16(bound(t.surchargeBps, 0, 5_000));
        t.minChargeBps = uint16(bound(t.minChargeBps, 0, 5_000));
        vm.roll(block.number + bound(blocks, 0, 1 << 63));
        vm.warp(block.timestamp + bound(time, 0, 1 << 40));
        vm.prank(admin);
        stacks.setParams(
            StackManager.Params({
                minDuration: 1 hours,
                maxDuration: 30 days,
                settleWindow: 1 hours,
                maxUnits: 1e12,
                surchargeBps: t.surchargeBps,
                minChargeBps: t.minChargeBps,
                minCommittee: 3
            })
        );
        uint256 taskId = t.verified ? verifiedTask : plainTask;
        StackManager.Candidate[] memory list = stacks.candidatesFor(taskId, t.units, PRICE);
        for (uint256 i = 1; i < list.length; ++i) {
            for (uint256 j = i; j > 0 && list[j - 1].nodeId > list[j].nodeId; --j) {
                (list[j - 1], list[j]) = (list[j], list[j - 1]);
            }
        }
        vm.prank(user);
        uint256 stackId = stacks.buyStackAmong(taskId, t.units, PRICE, t.duration, list);
        uint256 cost = uint256(t.units) * PRICE / 1e6;
        uint256 locked = cost + cost * (t.verified ? t.surchargeBps : 0) / 10_000;
        _checkPending(stackId, taskId, t, locked);
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 12);
        uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        assertTrue(nodeId != 0, "bound: every listed draw in this fixture binds");
        _checkBound(stackId, taskId, nodeId, t, locked);
        vm.prank(user);
        stacks.closeStack(stackId);
        assertEq(stacks.getStack(stackId).closedAt, block.timestamp, "closed now");
    }

    function _checkPending(uint256 stackId, uint256 taskId, Terms memory t, uint256 locked) internal view {
        IStackManager.Stack memory s = stacks.getStack(stackId);
        assertEq(s.owner, user, "owner");
        assertEq(s.taskId, taskId, "task");
        assertTrue(s.status == IStackManager.StackStatus.Pending, "pending");
        assertEq(s.units, t.units, "units");
        assertEq(s.escrow, locked, "escrow");
        assertEq(s.nodeId, 0, "no node yet");
        assertEq(s.expiresAt, 0, "no expiry yet");
        assertEq(s.closedAt, 0, "not closed");
        assertEq(s.pricePerMillion, 0, "no price yet");
        assertEq(stacks.minCharge(stackId), 0, "nothing charged before the bind");
        assertEq(stacks.settleDeadline(stackId), 1 hours, "no deadline before the bind");
        StackManager.Purchase memory p = stacks.getPurchase(stackId);
        assertEq(p.boughtAt, block.number, "bought at this block");
        assertEq(p.armedAt, block.number, "armed on it");
        assertEq(p.boughtTime, block.timestamp, "bought now");
        assertEq(p.duration, t.duration, "duration");
        assertEq(p.minChargeBps, t.minChargeBps, "minimum charge");
        assertEq(p.surchargeBps, t.verified ? t.surchargeBps : 0, "surcharge");
        assertTrue(p.candidatesHash != bytes32(0), "the list frozen");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), locked, "escrow in the vault");
    }

    function _checkBound(uint256 stackId, uint256 taskId, uint256 nodeId, Terms memory t, uint256 locked)
        internal
        view
    {
        IStackManager.Stack memory s = stacks.getStack(stackId);
        assertTrue(s.status == IStackManager.StackStatus.Active, "active");
        assertEq(s.owner, user, "owner");
        assertEq(s.taskId, taskId, "task");
        assertEq(s.nodeId, nodeId, "node");
        assertEq(s.units, t.units, "units");
        assertEq(s.pricePerMillion, PRICE, "listed price");
        assertEq(s.escrow, locked, "every listed price is the same");
        assertEq(s.expiresAt, block.timestamp + t.duration, "expiry");
        assertEq(s.closedAt, 0, "open");
        uint256 cost = uint256(t.units) * PRICE / 1e6;
        assertEq(stacks.minCharge(stackId), cost * t.minChargeBps / 10_000, "minimum charge");
        assertEq(stacks.settleDeadline(stackId), block.timestamp + t.duration + 1 hours, "deadline");
        StackManager.Purchase memory p = stacks.getPurchase(stackId);
        assertEq(p.duration, t.duration, "kept: the attestation registry reads it");
        assertEq(p.minChargeBps, t.minChargeBps, "kept: the settlement reads it");
        assertEq(p.candidatesHash, bytes32(0), "cleared once bound");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), locked, "escrow in the vault");
    }
}
