// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DeferredRandom} from "../src/common/DeferredRandom.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice A listed purchase (`buyStackAmong`, `drawListed`): the buyer names the candidates and the draw checks
/// only the node it draws. The attacks a drawn purchase must withstand, tried on it: a node that joins, cuts its
/// price or raises it around the purchase; a buyer that would steer the draw after the fact; a drawn node that
/// leaves, fills up or loses its reputation before the draw; a drawer that names false checkers; a list that is
/// not what was frozen. And the draw stays uniform over the list.
contract ListedPurchaseTest is AtomaFixture {
    uint256 internal plainTask;
    uint256 internal verifiedTask;
    uint256 internal outsider;
    /// A task asking for reputation 1, which every node has at the purchase.
    uint256 internal repTask;

    function setUp() public {
        deployAtoma();
        // Six nodes in echelon 1 (enough checkers), three in echelon 2 (too few), and one that joins later.
        for (uint256 i = 0; i < 9; ++i) addNode(i < 6 ? 1 : 2);
        outsider = addNode(1);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 1, 1);
        repTask = tasks.createTask(MODEL, 0, ITaskRegistry.SecurityLevel.None, 1, 0, 0, 0);
        for (uint256 i = 0; i < 9; ++i) {
            vm.prank(address(stacks));
            nodes.rewardHonest(nodeIds[i]);
            subscribe(repTask, nodeIds[i], PRICE);
            subscribe(plainTask, nodeIds[i], PRICE);
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        nextEpoch();
        fund(user, 1_000_000 ether);
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
    }

    /// `candidatesFor` in increasing node order, as the chain package lists them.
    function _list(uint256 taskId, uint64 units, uint128 cap) internal view returns (StackManager.Candidate[] memory c) {
        c = stacks.candidatesFor(taskId, units, cap);
        for (uint256 i = 1; i < c.length; ++i) {
            for (uint256 j = i; j > 0 && c[j - 1].nodeId > c[j].nodeId; --j) (c[j - 1], c[j]) = (c[j], c[j - 1]);
        }
    }

    function _buy(uint256 taskId, StackManager.Candidate[] memory list) internal returns (uint256 stackId) {
        vm.prank(user);
        stackId = stacks.buyStackAmong(taskId, 1_000, type(uint128).max, 1 days, list);
    }

    /// The node `list` draws for the stack armed at `armed` (a snapshot: nothing is kept).
    function _peek(uint256 stackId, StackManager.Candidate[] memory list) internal returns (uint256 nodeId) {
        uint256 snapshot = vm.snapshotState();
        vm.roll(block.number + 1);
        nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        vm.revertToState(snapshot);
    }

    function _checkersOf(uint256 taskId, uint256 nodeId, uint256 count) internal view returns (uint256[] memory out) {
        ITaskRegistry.Offer[] memory pool = tasks.offers(taskId, 0, 0);
        uint32 echelon = nodes.getNode(nodeId).echelon;
        out = new uint256[](count);
        uint256 found;
        for (uint256 id = 1; id <= nodeIds.length && found < count; ++id) {
            if (id == nodeId) continue;
            for (uint256 i = 0; i < pool.length; ++i) {
                if (pool[i].nodeId == id && pool[i].echelon == echelon) out[found++] = id;
            }
        }
        require(found == count, "not enough checkers");
    }

    function test_aListedPurchaseReadsNoCandidateAndDrawsOneOfTheList() public {
        StackManager.Candidate[] memory list = _list(plainTask, 1_000, PRICE);
        assertEq(list.length, 9, "every subscriber offered");
        uint256 stackId = _buy(plainTask, list);
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Pending, "pending");
        vm.roll(block.number + 1);
        uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        assertTrue(nodeId >= 1 && nodeId <= 9, "a listed node");
        IStackManager.Stack memory s = stacks.getStack(stackId);
        assertEq(s.nodeId, nodeId, "bound");
        assertEq(s.pricePerMillion, PRICE, "at the listed price");
    }

    /// The buyer cannot steer the draw: whichever later block draws it, the same node; another purchase block
    /// hash, another node. The list cannot be swapped for another after the purchase, nor used by `drawNode`.
    function test_theBuyerCannotSteerAListedDraw() public {
        StackManager.Candidate[] memory list = _list(plainTask, 1_000, PRICE);
        uint256 stackId = _buy(plainTask, list);
        uint256 armed = block.number;
        vm.expectRevert(abi.encodeWithSelector(DeferredRandom.DrawTooEarly.selector, armed, armed));
        stacks.drawListed(stackId, list, new uint256[](0));
        uint256 drawn;
        for (uint256 later = 1; later <= 256; later += 51) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + later);
            uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
            if (drawn == 0) drawn = nodeId;
            assertEq(nodeId, drawn, "the same node whichever block draws");
            vm.revertToState(snapshot);
        }
        uint256 seen;
        uint256 distinct;
        for (uint256 h = 0; h < 12; ++h) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + 1);
            vm.setBlockhash(armed, keccak256(abi.encode("another block", h)));
            uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
            if (seen & (1 << nodeId) == 0) ++distinct;
            seen |= 1 << nodeId;
            vm.revertToState(snapshot);
        }
        assertGe(distinct, 3, "the node varies with the purchase block's hash");

        vm.roll(armed + 1);
        // A list without the drawn node (the buyer reshaping it after the hash is known) is refused.
        StackManager.Candidate[] memory other = new StackManager.Candidate[](list.length - 1);
        for (uint256 i = 0; i + 1 < list.length; ++i) other[i] = list[i];
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawListed(stackId, other, new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, list);
    }

    /// A node that joins or cuts its price after the purchase is never drawn; one that raises its price after it
    /// can only decline the sale (cancelled, refunded in full), never be paid more than listed.
    function test_aNodeCannotPriceItselfIntoOrUpAListedDraw() public {
        StackManager.Candidate[] memory list = _list(plainTask, 1_000, PRICE);
        uint256 stackId = _buy(plainTask, list);
        uint256 locked = stacks.getStack(stackId).escrow;
        vm.prank(operatorOf[outsider]);
        tasks.subscribe(plainTask, outsider, 1, 1e12, SUB_COLLATERAL);
        uint256 drawn = _peek(stackId, list);
        assertTrue(drawn != outsider, "a later subscriber is not in the list");
        // The drawn node cuts its price: still bound at the listed price.
        uint256 snapshot = vm.snapshotState();
        vm.prank(operatorOf[drawn]);
        tasks.updateSubscription(plainTask, drawn, 1, 1e12);
        vm.roll(block.number + 1);
        assertEq(stacks.drawListed(stackId, list, new uint256[](0)), drawn, "drawn");
        assertEq(stacks.getStack(stackId).pricePerMillion, PRICE, "at the listed price");
        vm.revertToState(snapshot);
        // The drawn node raises its price after seeing the hash: the purchase is cancelled, refunded in full.
        vm.prank(operatorOf[drawn]);
        tasks.updateSubscription(plainTask, drawn, PRICE * 5, 1e12);
        uint256 before = vault.balanceOf(user);
        vm.roll(block.number + 1);
        assertEq(stacks.drawListed(stackId, list, new uint256[](0)), 0, "declined");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(vault.balanceOf(user) - before, locked, "refunded in full");
    }

    /// A buyer cannot list a node below its price to make it serve cheap: drawn, the purchase is cancelled.
    function test_aNodeListedBelowItsPriceIsNeverBoundBelowIt() public {
        StackManager.Candidate[] memory list = _list(plainTask, 1_000, PRICE);
        for (uint256 i = 0; i < list.length; ++i) list[i].pricePerMillion = PRICE / 2;
        uint256 stackId = _buy(plainTask, list);
        vm.roll(block.number + 1);
        assertEq(stacks.drawListed(stackId, list, new uint256[](0)), 0, "cancelled");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
    }

    /// The drawn node leaving, filling up or losing its reputation between purchase and draw cancels the purchase,
    /// and never hands it to another listed node.
    function test_aDrawnNodeThatCannotServeAnyMoreCancelsTheListedPurchase() public {
        StackManager.Candidate[] memory list = _list(repTask, 1_000, PRICE);
        uint256 stackId = _buy(repTask, list);
        uint256 drawn = _peek(stackId, list);
        for (uint256 how = 0; how < 3; ++how) {
            uint256 snapshot = vm.snapshotState();
            if (how == 0) {
                vm.prank(operatorOf[drawn]);
                tasks.unsubscribe(repTask, drawn);
            } else if (how == 1) {
                vm.prank(operatorOf[drawn]);
                tasks.updateSubscription(repTask, drawn, PRICE, 1_000 - 1);
            } else {
                // Stale reputation: a timeout takes the drawn node below the task's minimum after the purchase.
                vm.prank(address(settlement));
                nodes.slashTimeoutUpTo(drawn, user, 0, true);
                assertTrue(nodes.getNode(drawn).reputation < 1, "below the task's minimum");
            }
            vm.roll(block.number + 1);
            assertEq(stacks.drawListed(stackId, list, new uint256[](0)), 0, "cancelled, not passed on");
            assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
            vm.revertToState(snapshot);
        }
    }

    /// The buyer may name only itself-harming lists: empty, unordered, repeated or above its cap are refused.
    function test_aMalformedListIsRefused() public {
        StackManager.Candidate[] memory list = _list(plainTask, 1_000, PRICE);
        vm.startPrank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, plainTask));
        stacks.buyStackAmong(plainTask, 1_000, PRICE, 1 days, new StackManager.Candidate[](0));
        (list[0], list[1]) = (list[1], list[0]);
        vm.expectRevert(abi.encodeWithSelector(StackManager.BadCandidateList.selector, plainTask));
        stacks.buyStackAmong(plainTask, 1_000, PRICE, 1 days, list);
        list[0] = list[1];
        vm.expectRevert(abi.encodeWithSelector(StackManager.BadCandidateList.selector, plainTask));
        stacks.buyStackAmong(plainTask, 1_000, PRICE, 1 days, list);
        list = _list(plainTask, 1_000, PRICE);
        vm.expectRevert(abi.encodeWithSelector(StackManager.BadCandidateList.selector, plainTask));
        stacks.buyStackAmong(plainTask, 1_000, PRICE - 1, 1 days, list);
        vm.stopPrank();
    }

    /// On a verified task the drawn node's echelon must hold its checkers: named ones are each checked (a false
    /// one makes the draw count instead, so a drawer cannot cancel the sale with it), and without names the subscribers are counted
    /// (the buyer listed the echelon-2 nodes, which have too few: drawn, they cancel the purchase).
    function test_theDrawnNodesCheckersAreCheckedNamedOrCounted() public {
        assertEq(_list(verifiedTask, 1_000, PRICE).length, 6, "echelon 2 has too few checkers");
        StackManager.Candidate[] memory all = _list(plainTask, 1_000, PRICE);
        uint256 needed = 1 + stacks.minCommittee();
        assertTrue(needed > 2, "echelon 2 holds two others: too few");
        uint256 cancelled;
        uint256 opened;
        for (uint256 h = 0; h < 24; ++h) {
            uint256 snapshot = vm.snapshotState();
            uint256 stackId = _buy(verifiedTask, all);
            uint256 armed = block.number;
            vm.roll(armed + 1);
            vm.setBlockhash(armed, keccak256(abi.encode("hash", h)));
            uint256 counted = stacks.drawListed(stackId, all, new uint256[](0));
            if (counted == 0) {
                ++cancelled;
                vm.revertToState(snapshot);
                continue;
            }
            assertEq(nodes.getNode(counted).echelon, 1, "only a checkable node opens");
            vm.revertToState(snapshot);
            snapshot = vm.snapshotState();
            stackId = _buy(verifiedTask, all);
            vm.roll(armed + 1);
            vm.setBlockhash(armed, keccak256(abi.encode("hash", h)));
            uint256[] memory good = _checkersOf(verifiedTask, counted, needed);
            uint256[] memory wrong = _checkersOf(verifiedTask, counted, needed);
            // A false name (echelon 2, or the node itself) only makes the draw count: the same node opens.
            wrong[needed - 1] = 8; // in echelon 2, above every echelon-1 id
            uint256 inner = vm.snapshotState();
            assertEq(stacks.drawListed(stackId, all, wrong), counted, "a false name falls back to the count");
            vm.revertToState(inner);
            wrong[needed - 1] = counted < good[needed - 1] ? good[needed - 1] : counted;
            if (wrong[needed - 1] == counted) {
                inner = vm.snapshotState();
                assertEq(stacks.drawListed(stackId, all, wrong), counted, "naming the node falls back to the count");
                vm.revertToState(inner);
            }
            assertEq(stacks.drawListed(stackId, all, good), counted, "named checkers open the same node");
            ++opened;
            vm.revertToState(snapshot);
        }
        assertTrue(opened > 0, "some drawn in echelon 1");
        assertTrue(cancelled > 0, "some drawn in echelon 2, cancelled");
    }

    /// Review s5 L-3: a low-id checker the chain package names unsubscribes just before the draw (front-running
    /// it) to stall the purchase. The draw falls back to the count: it opens or cancels exactly as it would with
    /// no names, never reverts.
    function test_aNamedCheckerThatLeavesBeforeTheDrawCannotStallIt() public {
        StackManager.Candidate[] memory all = _list(plainTask, 1_000, PRICE);
        uint256 needed = 1 + stacks.minCommittee();
        uint256 compared;
        for (uint256 h = 0; h < 12; ++h) {
            uint256 snapshot = vm.snapshotState();
            uint256 stackId = _buy(verifiedTask, all);
            uint256 armed = block.number;
            vm.roll(armed + 1);
            vm.setBlockhash(armed, keccak256(abi.encode("leave", h)));
            uint256 drawn = _peek2(stackId, all);
            if (drawn == 0 || nodes.getNode(drawn).echelon != 1) {
                vm.revertToState(snapshot);
                continue;
            }
            uint256[] memory named = _checkersOf(verifiedTask, drawn, needed);
            vm.prank(operatorOf[named[0]]);
            tasks.unsubscribe(verifiedTask, named[0]);
            uint256 inner = vm.snapshotState();
            uint256 unnamed = stacks.drawListed(stackId, all, new uint256[](0));
            IStackManager.StackStatus expected = stacks.getStack(stackId).status;
            vm.revertToState(inner);
            assertEq(stacks.drawListed(stackId, all, named), unnamed, "as with no names");
            assertTrue(stacks.getStack(stackId).status == expected, "same outcome");
            ++compared;
            vm.revertToState(snapshot);
        }
        assertTrue(compared > 0, "some drawn in echelon 1");
    }

    /// The node the draw of `stackId` gives in this block (a snapshot: nothing is kept).
    function _peek2(uint256 stackId, StackManager.Candidate[] memory list) internal returns (uint256 nodeId) {
        uint256 snapshot = vm.snapshotState();
        nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        vm.revertToState(snapshot);
    }

    function _sorted(uint256[] memory a) internal pure returns (uint256[] memory) {
        for (uint256 i = 1; i < a.length; ++i) {
            for (uint256 j = i; j > 0 && a[j - 1] > a[j]; --j) (a[j - 1], a[j]) = (a[j], a[j - 1]);
        }
        return a;
    }

    /// Uniform over the list: 9 nodes, 900 block hashes, each drawn 100 ± 40 times.
    function test_theListedDrawIsUniformOverTheList() public {
        StackManager.Candidate[] memory list = _list(plainTask, 1, PRICE);
        uint256[10] memory counts;
        for (uint256 h = 0; h < 900; ++h) {
            uint256 snapshot = vm.snapshotState();
            vm.prank(user);
            uint256 stackId = stacks.buyStackAmong(plainTask, 1, type(uint128).max, 1 days, list);
            uint256 armed = block.number;
            vm.roll(armed + 1);
            vm.setBlockhash(armed, keccak256(abi.encode("uniform", h)));
            ++counts[stacks.drawListed(stackId, list, new uint256[](0))];
            vm.revertToState(snapshot);
        }
        for (uint256 i = 1; i <= 9; ++i) {
            assertTrue(counts[i] > 60, "not starved");
            assertTrue(counts[i] < 140, "not favoured");
        }
    }

    /// Any list, any hash: the node bound is a listed one at its listed price, or the purchase is cancelled and
    /// refunded in full; never a node outside the list, never above the listed price.
    function testFuzz_aListedDrawBindsOnlyAListedNodeAtItsPrice(uint256 mask, bytes32 hash, uint128 cut) public {
        StackManager.Candidate[] memory all = _list(plainTask, 1_000, PRICE);
        mask = bound(mask, 1, (1 << all.length) - 1);
        StackManager.Candidate[] memory list = new StackManager.Candidate[](all.length);
        uint256 n;
        for (uint256 i = 0; i < all.length; ++i) {
            if (mask & (1 << i) != 0) list[n++] = all[i];
        }
        assembly {
            mstore(list, n)
        }
        cut = uint128(bound(cut, 0, PRICE));
        list[0].pricePerMillion = cut;
        uint256 stackId = _buy(plainTask, list);
        uint256 locked = stacks.getStack(stackId).escrow;
        uint256 armed = block.number;
        vm.roll(armed + 1);
        vm.setBlockhash(armed, hash);
        uint256 before = vault.balanceOf(user);
        uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        IStackManager.Stack memory s = stacks.getStack(stackId);
        if (nodeId == 0) {
            assertTrue(s.status == IStackManager.StackStatus.Closed, "cancelled");
            assertEq(vault.balanceOf(user) - before, locked, "refunded in full");
            assertTrue(list[0].pricePerMillion < PRICE, "only the node listed below its price is refused");
            return;
        }
        bool listed;
        for (uint256 i = 0; i < n; ++i) {
            if (list[i].nodeId == nodeId) {
                listed = true;
                assertEq(s.pricePerMillion, list[i].pricePerMillion, "at its listed price");
                assertGe(list[i].pricePerMillion, PRICE, "never below its ask");
            }
        }
        assertTrue(listed, "a listed node");
    }
}
