// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice Review of the lazily-resolved listed purchase, M-1: what an expired draw (its armed block's hash gone,
/// 256 blocks) does is the purchase's own kind's action, whichever draw is called. A listed purchase is cancelled and
/// refunded, never re-armed (nobody waits out its draw through `drawNode`/`drawSet` to have it made again); a walked
/// or set purchase is re-armed, never cancelled by a stranger (or the buyer) calling `drawListed`. A draw of another
/// kind is refused (`WrongCandidates`) before the expiry is acted on, with any list, and changes nothing.
contract ExpiryByKindTest is AtomaFixture {
    uint256 internal task;
    address internal stranger = address(0xBAD);

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 9; ++i) addNode(1);
        task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < 9; ++i) subscribe(task, nodeIds[i], PRICE);
        nextEpoch();
        fund(user, 1_000_000 ether);
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
    }

    function _list() internal view returns (StackManager.Candidate[] memory c) {
        c = stacks.candidatesFor(task, 1_000, PRICE);
        for (uint256 i = 1; i < c.length; ++i) {
            for (uint256 j = i; j > 0 && c[j - 1].nodeId > c[j].nodeId; --j) (c[j - 1], c[j]) = (c[j], c[j - 1]);
        }
    }

    function _none() internal pure returns (StackManager.Candidate[] memory) {
        return new StackManager.Candidate[](0);
    }

    function _assertUntouched(uint256 stackId, uint256 armedAt, uint256 locked) internal view {
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Pending, "still pending");
        assertEq(stacks.getPurchase(stackId).armedAt, armedAt, "not re-armed");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), locked, "escrow held");
    }

    /// Attack a: an expired listed purchase re-armed through `drawNode` (empty list, or its own list) or `drawSet`
    /// (every set size): each is refused and changes nothing; its own draw then refunds it in full.
    function test_anExpiredListedPurchaseCannotBeReArmedByAnotherDraw() public {
        StackManager.Candidate[] memory list = _list();
        vm.prank(user);
        uint256 stackId = stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
        uint256 armedAt = block.number;
        uint256 locked = stacks.getStack(stackId).escrow;
        uint256 before = vault.balanceOf(user);
        vm.roll(block.number + 257);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, _none());
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, list);
        for (uint256 size = 2; size <= stacks.MAX_SET_SIZE(); ++size) {
            vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
            stacks.drawSet(stackId, _none(), uint8(size));
            vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
            stacks.drawSet(stackId, list, uint8(size));
        }
        vm.stopPrank();
        _assertUntouched(stackId, armedAt, locked);
        // A block later, still nothing armed on a fresh hash: its own draw refunds it.
        vm.roll(block.number + 1);
        vm.expectEmit(address(stacks));
        emit StackManager.StackCancelled(stackId, locked);
        assertEq(stacks.drawListed(stackId, list, new uint256[](0)), 0, "never bound on a second hash");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(vault.balanceOf(user) - before, locked, "refunded in full");
    }

    /// Its own draw with a wrong list does not act on the expiry either.
    function test_anExpiredListedPurchaseIsNotRefundedOnAWrongList() public {
        StackManager.Candidate[] memory list = _list();
        vm.prank(user);
        uint256 stackId = stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
        uint256 armedAt = block.number;
        uint256 locked = stacks.getStack(stackId).escrow;
        vm.roll(block.number + 300);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawListed(stackId, _none(), new uint256[](0));
        _assertUntouched(stackId, armedAt, locked);
    }

    /// Attack b: a walked purchase whose hash expired cancelled by a stranger calling `drawListed` (empty list, or
    /// the walked purchase's own list): refused, nothing changes; its own draw re-arms it, then binds a node.
    function test_anExpiredWalkedPurchaseCannotBeCancelledThroughDrawListed() public {
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory frozen) = stacks.buyStack(task, 1_000, PRICE, 1 days);
        uint256 armedAt = block.number;
        uint256 locked = stacks.getStack(stackId).escrow;
        vm.roll(block.number + 257);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawListed(stackId, _none(), new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawListed(stackId, frozen, new uint256[](0));
        vm.stopPrank();
        _assertUntouched(stackId, armedAt, locked);
        vm.expectEmit(address(stacks));
        emit StackManager.NodeDrawRearmed(stackId, uint64(block.number));
        assertEq(stacks.drawNode(stackId, frozen), 0, "re-armed");
        _assertUntouched(stackId, block.number, locked);
        vm.roll(block.number + 1);
        assertTrue(stacks.drawNode(stackId, frozen) != 0, "bound on the re-armed draw");
    }

    /// Attack b on a set purchase: likewise refused; its own draw re-arms it, then draws the set.
    function test_anExpiredSetPurchaseCannotBeCancelledThroughDrawListed() public {
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory frozen) =
            stacks.buyStackFromSet(task, 1_000, PRICE, 1 days, 3);
        uint256 armedAt = block.number;
        uint256 locked = stacks.getStack(stackId).escrow;
        vm.roll(block.number + 257);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawListed(stackId, _none(), new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawListed(stackId, frozen, new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, frozen);
        vm.stopPrank();
        _assertUntouched(stackId, armedAt, locked);
        assertEq(stacks.drawSet(stackId, frozen, 3).length, 0, "re-armed");
        _assertUntouched(stackId, block.number, locked);
        vm.roll(block.number + 1);
        assertEq(stacks.drawSet(stackId, frozen, 3).length, 3, "set drawn on the re-armed draw");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Choosing, "choosing");
    }

    /// Past `DRAW_LIMIT` every kind is cancelled and refunded by whichever draw touches it, whatever list: that is
    /// every kind's own action, and an undrawn purchase's escrow is never held past it.
    function test_pastTheDrawLimitAnyDrawRefunds() public {
        vm.prank(user);
        (uint256 walked,) = stacks.buyStack(task, 1_000, PRICE, 1 days);
        StackManager.Candidate[] memory list = _list();
        vm.prank(user);
        uint256 listed = stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
        vm.roll(block.number + 400);
        vm.warp(block.timestamp + stacks.DRAW_LIMIT() + 1);
        vm.startPrank(stranger);
        assertEq(stacks.drawListed(walked, _none(), new uint256[](0)), 0, "walked: refunded");
        assertEq(stacks.drawNode(listed, _none()), 0, "listed: refunded");
        vm.stopPrank();
        assertTrue(stacks.getStack(walked).status == IStackManager.StackStatus.Closed, "walked cancelled");
        assertTrue(stacks.getStack(listed).status == IStackManager.StackStatus.Closed, "listed cancelled");
        assertEq(vault.escrowOf(stacks.escrowKey(walked)), 0, "walked escrow refunded");
        assertEq(vault.escrowOf(stacks.escrowKey(listed)), 0, "listed escrow refunded");
    }
}
