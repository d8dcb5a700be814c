// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DeferredRandom} from "../src/common/DeferredRandom.sol";
import {IAtomaVault} from "../src/interfaces/IAtomaVault.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {CapacitySquat} from "./lib/CapacitySquat.sol";

/// @notice The protocol's other two ways to pick a stack's node (docs/soundness.md, "Picking the node"): a set
/// drawn at random whose member the buyer binds before use, and a node the buyer chooses. Each test plays an attack
/// on them and shows it failing; the fuzz tests check the rules over any terms.
contract NodeChoiceTest is CapacitySquat {
    uint256 internal plainTask;
    uint256 internal verifiedTask;
    /// Registered and eligible, subscribed to nothing.
    uint256 internal outsider;
    address internal stranger = address(0x5742);

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) addNode(1);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            // Prices differ by node, so a stack's price says which node's it is.
            subscribe(plainTask, nodeIds[i], PRICE + uint128(i) * 0.1 ether);
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        outsider = addNode(1);
        nextEpoch();
    }

    // ---------------------------------------------------------------- steps

    function _buySet(uint256 taskId, uint64 units, uint8 setSize)
        internal
        returns (uint256 stackId, StackManager.Candidate[] memory candidates)
    {
        vm.prank(user);
        (stackId, candidates) = stacks.buyStackFromSet(taskId, units, type(uint128).max, 1 days, setSize);
    }

    /// Draws the set in the next block.
    function _drawSet(uint256 stackId, StackManager.Candidate[] memory candidates, uint8 setSize)
        internal
        returns (StackManager.Candidate[] memory)
    {
        vm.roll(block.number + 1);
        return stacks.drawSet(stackId, candidates, setSize);
    }

    function _choose(uint256 stackId, StackManager.Candidate[] memory set, uint256 nodeId) internal returns (uint256) {
        vm.prank(user);
        return stacks.chooseFromSet(stackId, set, nodeId);
    }

    function _buyFrom(address buyer, uint256 taskId, uint256 nodeId, uint64 units, uint128 maxPrice)
        internal
        returns (uint256 stackId)
    {
        vm.prank(buyer);
        return stacks.buyStackFromNode(taskId, nodeId, units, maxPrice, 1 days);
    }

    function _reserved(uint256 taskId, uint256 nodeId) internal view returns (uint256) {
        return tasks.getSubscription(taskId, nodeId).reserved;
    }

    function _priceOf(uint256 taskId, uint256 nodeId) internal view returns (uint128) {
        return tasks.getSubscription(taskId, nodeId).pricePerMillion;
    }

    function _isMember(StackManager.Candidate[] memory set, uint256 nodeId) internal pure returns (bool) {
        for (uint256 i = 0; i < set.length; ++i) {
            if (set[i].nodeId == nodeId) return true;
        }
        return false;
    }

    /// A node of the task's subscribers that is not in `set`.
    function _outside(StackManager.Candidate[] memory set) internal view returns (uint256) {
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            if (!_isMember(set, nodeIds[i]) && nodeIds[i] != outsider) return nodeIds[i];
        }
        revert("every node is in the set");
    }

    function _expectNotOffered(uint256 taskId, uint256 nodeId, uint64 units, uint128 maxPrice) internal {
        vm.expectRevert(abi.encodeWithSelector(StackManager.NodeNotOffered.selector, taskId, nodeId));
        _buyFrom(user, taskId, nodeId, units, maxPrice);
    }

    // ---------------------------------------------------------------- a node the buyer chooses

    /// The buyer names a node: the stack is active at once, on that node alone, at its price, with the exact
    /// escrow; only that node can settle it.
    function test_aChosenNodeServesTheStackAloneAtItsPrice() public {
        uint256 chosen = nodeIds[3];
        uint256 balance = token.balanceOf(user);
        uint256 stackId = _buyFrom(user, plainTask, chosen, 1_000_000, 5 ether);
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        assertTrue(stack.status == IStackManager.StackStatus.Active, "active at once");
        assertEq(stack.nodeId, chosen, "served by the chosen node");
        assertEq(stack.pricePerMillion, _priceOf(plainTask, chosen), "at the node's price");
        assertEq(stack.escrow, _priceOf(plainTask, chosen), "a million units at that price");
        assertEq(vault.escrowOf(bytes32(stackId)), stack.escrow, "escrow locked exactly");
        assertEq(balance - token.balanceOf(user), stack.escrow, "nothing else taken");
        assertEq(_reserved(plainTask, chosen), 1_000_000, "capacity reserved on that node");
        assertEq(nodes.getNode(chosen).obligations, 1, "the node is bound by the stack");

        uint256 other = nodeIds[0];
        vm.prank(vm.addr(signerKey[other]));
        vm.expectRevert(
            abi.encodeWithSelector(StackManager.NotServingNode.selector, stackId, vm.addr(signerKey[other]))
        );
        settlement.settle(stackId, 0, 0, 0, 0);
        vm.prank(vm.addr(signerKey[chosen]));
        settlement.settle(stackId, 0, 0, 0, 0);
        assertEq(_reserved(plainTask, chosen), 0, "freed at the settlement");
    }

    /// On a verified task the surcharge is locked with the price, as for a drawn node.
    function test_aChosenNodeOnAVerifiedTaskLocksTheSurcharge() public {
        uint256 stackId = _buyFrom(user, verifiedTask, nodeIds[2], 1_000_000, PRICE);
        assertEq(stacks.getStack(stackId).escrow, PRICE + PRICE / 10, "price plus the 10 % surcharge");
    }

    /// A node asking more than the buyer's cap cannot be chosen, nor can a node without room for the units.
    function test_aChosenNodeAboveTheCapOrWithoutRoomIsRefused() public {
        uint256 pricey = nodeIds[6];
        uint128 price = _priceOf(plainTask, pricey);
        _expectNotOffered(plainTask, pricey, 1_000, price - 1);
        vm.prank(operatorOf[pricey]);
        tasks.updateSubscription(plainTask, pricey, price, 5_000);
        _expectNotOffered(plainTask, pricey, 5_001, type(uint128).max);
        _buyFrom(user, plainTask, pricey, 5_000, type(uint128).max);
        _expectNotOffered(plainTask, pricey, 1, type(uint128).max);
    }

    /// A node that is not a subscriber of the task, an unknown node and node 0 cannot be chosen.
    function test_aNonSubscriberCannotBeChosen() public {
        _expectNotOffered(plainTask, outsider, 1_000, type(uint128).max);
        _expectNotOffered(plainTask, 999, 1_000, type(uint128).max);
        _expectNotOffered(plainTask, 0, 1_000, type(uint128).max);
    }

    /// A node slashed for fraud, one leaving the task (in its exit notice: it still checks others but takes no new
    /// work) and one registered this epoch cannot be chosen.
    function test_aSlashedExitingOrNewNodeCannotBeChosen() public {
        uint256 slashed = nodeIds[0];
        vm.prank(address(receiptFraud));
        nodes.slashFraud(slashed, user, new uint256[](0));
        _expectNotOffered(plainTask, slashed, 1_000, type(uint128).max);

        uint256 leaving = nodeIds[1];
        vm.prank(operatorOf[leaving]);
        tasks.unsubscribe(plainTask, leaving);
        _expectNotOffered(plainTask, leaving, 1_000, type(uint128).max);

        uint256 fresh = addNode(1);
        subscribe(plainTask, fresh, PRICE);
        _expectNotOffered(plainTask, fresh, 1_000, type(uint128).max);
    }

    /// On a verified task a node whose echelon holds too few other nodes to attest it and judge a dispute cannot
    /// be chosen (its work could not be checked), even when others of the task can be.
    function test_anUncheckableNodeCannotBeChosenOnAVerifiedTask() public {
        uint256 alone = addNode(2);
        subscribe(verifiedTask, alone, PRICE);
        nextEpoch();
        _expectNotOffered(verifiedTask, alone, 1_000, type(uint128).max);
        _buyFrom(user, verifiedTask, nodeIds[0], 1_000, type(uint128).max);
    }

    /// Capacity squatting by choice (item 16): the attacker's own node asks five times the honest price; it
    /// chooses each honest node in turn and fills its capacity with stacks it never uses, so that every buyer
    /// lands on its node. Each squatted stack costs it the minimum charge, paid to the treasury (its own node earns
    /// nothing from it); an honest node settles an idle stack early, which frees the capacity, and the honest buyer
    /// then chooses it at the honest price.
    function test_squattingANodesCapacityWithChosenStacksCostsTheSquatter() public {
        Squat memory q = squatScene();
        uint256 first = _buyFrom(SQUATTER, q.task, q.honestA, 1_000_000, PRICE);
        uint256 second = _buyFrom(SQUATTER, q.task, q.honestB, 1_000_000, PRICE);
        vm.prank(BUYER);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NodeNotOffered.selector, q.task, q.honestA));
        stacks.buyStackFromNode(q.task, q.honestA, 1_000_000, PRICE, 1 days);
        vm.prank(BUYER);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, q.task));
        stacks.buyStack(q.task, 1_000_000, PRICE, 1 days);

        freeSquatted(first, q.honestA, second, q.honestB);
        uint256 served = _buyFrom(BUYER, q.task, q.honestA, 1_000_000, PRICE);
        assertEq(stacks.getStack(served).pricePerMillion, PRICE, "the honest buyer is served at the honest price");
        assertTheSquatCostTheSquatter(q, first, second);
    }

    // ---------------------------------------------------------------- a set drawn at random

    /// The purchase only arms the draw; the set follows the purchase block's hash whichever later block draws it,
    /// another hash gives another set, and its members are distinct frozen candidates.
    function test_theSetIsDrawnFromTheFrozenCandidatesAndTheBuyerCannotSteerIt() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, 3);
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Pending, "pending");
        uint256 armed = block.number;
        vm.expectRevert(abi.encodeWithSelector(DeferredRandom.DrawTooEarly.selector, armed, armed));
        stacks.drawSet(stackId, candidates, 3);

        bytes32 first;
        for (uint256 later = 1; later <= 256; later += 51) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + later);
            bytes32 drawn = keccak256(abi.encode(stacks.drawSet(stackId, candidates, 3)));
            if (first == 0) first = drawn;
            assertEq(drawn, first, "the same set whichever block draws it");
            vm.revertToState(snapshot);
        }
        uint256 distinct;
        bytes32[12] memory seen;
        for (uint256 h = 0; h < 12; ++h) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(armed + 1);
            vm.setBlockhash(armed, keccak256(abi.encode("another block", h)));
            StackManager.Candidate[] memory set = stacks.drawSet(stackId, candidates, 3);
            assertEq(set.length, 3, "three members");
            for (uint256 i = 0; i < set.length; ++i) {
                for (uint256 j = i + 1; j < set.length; ++j) assertTrue(set[i].nodeId != set[j].nodeId, "distinct");
                assertEq(set[i].pricePerMillion, _priceOf(plainTask, set[i].nodeId), "at its frozen price");
            }
            bytes32 key = keccak256(abi.encode(set));
            bool known;
            for (uint256 k = 0; k < distinct; ++k) known = known || seen[k] == key;
            if (!known) seen[distinct++] = key;
            vm.revertToState(snapshot);
        }
        assertGe(distinct, 6, "the set varies with the purchase block's hash");
    }

    /// The owner binds the stack to one member before first use: it becomes active on that member alone, at the
    /// price the member asked at the purchase, and the excess escrow goes back. Nothing was reserved on any member
    /// before the choice.
    function test_theOwnerBindsTheStackToOneMemberWhichAloneServesIt() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000_000, 3);
        StackManager.Candidate[] memory set = _drawSet(stackId, candidates, 3);
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Choosing, "waiting for the choice");
        for (uint256 i = 0; i < nodeIds.length; ++i) assertEq(_reserved(plainTask, nodeIds[i]), 0, "nothing reserved");
        for (uint256 i = 0; i < set.length; ++i) assertEq(nodes.getNode(set[i].nodeId).obligations, 0, "no obligation");

        StackManager.Candidate memory pick = set[2];
        for (uint256 i = 0; i < nodeIds.length - 1; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.updateSubscription(plainTask, nodeIds[i], 9 ether, 1e12);
        }
        assertEq(_choose(stackId, set, pick.nodeId), pick.nodeId, "chosen");
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        assertTrue(stack.status == IStackManager.StackStatus.Active, "active");
        assertEq(stack.nodeId, pick.nodeId, "served by the member chosen");
        assertEq(stack.pricePerMillion, pick.pricePerMillion, "at its price when bought");
        assertEq(vault.escrowOf(bytes32(stackId)), pick.pricePerMillion, "escrow at that price");
        assertEq(_reserved(plainTask, pick.nodeId), 1_000_000, "reserved on the member chosen only");
        assertEq(_reserved(plainTask, set[0].nodeId), 0, "nothing on the others");

        vm.prank(vm.addr(signerKey[set[0].nodeId]));
        vm.expectRevert(
            abi.encodeWithSelector(StackManager.NotServingNode.selector, stackId, vm.addr(signerKey[set[0].nodeId]))
        );
        settlement.settle(stackId, 0, 0, 0, 0);
    }

    /// Once chosen, the stack cannot be moved to another member, before or after its first use.
    function test_reChoosingIsRefused() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, 3);
        StackManager.Candidate[] memory set = _drawSet(stackId, candidates, 3);
        _choose(stackId, set, set[0].nodeId);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        _choose(stackId, set, set[1].nodeId);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        _choose(stackId, set, set[0].nodeId);
        Served memory s = serve(stackId, 2, "used");
        vm.prank(vm.addr(signerKey[set[0].nodeId]));
        settlement.settle(stackId, s.root, s.units, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        _choose(stackId, set, set[1].nodeId);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawSet(stackId, candidates, 3);
    }

    /// Only the owner chooses, only a member of the set drawn, only with the set as drawn; a set purchase cannot
    /// be drawn as one node, nor a one-node purchase as a set, nor a set of another size.
    function test_onlyTheOwnerChoosesOnlyAMemberOfTheDrawnSet() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, 3);
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, candidates);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawSet(stackId, candidates, 4);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        _choose(stackId, candidates, candidates[0].nodeId);
        StackManager.Candidate[] memory set = stacks.drawSet(stackId, candidates, 3);

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NotStackOwner.selector, stackId, stranger));
        stacks.chooseFromSet(stackId, set, set[0].nodeId);
        uint256 nonMember = _outside(set);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NotInSet.selector, stackId, nonMember));
        _choose(stackId, set, nonMember);
        StackManager.Candidate[] memory forged = new StackManager.Candidate[](1);
        forged[0] = StackManager.Candidate({nodeId: uint64(nonMember), pricePerMillion: 1});
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        _choose(stackId, forged, nonMember);
        set[0].pricePerMillion = 1;
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        _choose(stackId, set, set[0].nodeId);

        vm.prank(user);
        (uint256 single, StackManager.Candidate[] memory singles) = stacks.buyStack(plainTask, 1_000, PRICE * 2, 1 days);
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, single));
        stacks.drawSet(single, singles, 2);
    }

    function test_theSetSizeIsBounded() public {
        uint8 max = stacks.MAX_SET_SIZE();
        for (uint256 i = 0; i < 3; ++i) {
            uint8 size = [uint8(0), 1, max + 1][i];
            vm.prank(user);
            vm.expectRevert(abi.encodeWithSelector(StackManager.InvalidSetSize.selector, size, max));
            stacks.buyStackFromSet(plainTask, 1_000, type(uint128).max, 1 days, size);
        }
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, max);
        assertEq(_drawSet(stackId, candidates, max).length, candidates.length, "every candidate, when fewer");
    }

    /// A Sybil that registers and subscribes many nodes after the purchase is never in its set: the candidates
    /// were frozen when it was bought.
    function test_aSybilFloodAfterThePurchaseIsNeverInTheSet() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, 5);
        uint256 firstSybil = nodeIds.length + 1;
        for (uint256 i = 0; i < 10; ++i) subscribe(plainTask, addNode(1), 1);
        nextEpoch();
        StackManager.Candidate[] memory set = _drawSet(stackId, candidates, 5);
        for (uint256 i = 0; i < set.length; ++i) assertTrue(set[i].nodeId < firstSybil, "a frozen candidate");
    }

    /// A Sybil holding half of the candidates when the set is bought fills a set of three with its own nodes only
    /// as often as chance gives (C(7,3)/C(14,3), under 10 %), against half the time for a single drawn node; each
    /// node is in a set once at most, and a set with an honest member lets the buyer pick it.
    function test_aSybilWithHalfTheCandidatesRarelyFillsTheSet() public {
        uint256 firstSybil = nodeIds.length + 1;
        for (uint256 i = 0; i < 7; ++i) subscribe(plainTask, addNode(1), PRICE);
        nextEpoch();
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, 3);
        assertEq(candidates.length, 14, "seven honest candidates, seven Sybils");
        uint256 allSybil;
        uint256 runs = 64;
        for (uint256 h = 0; h < runs; ++h) {
            uint256 snapshot = vm.snapshotState();
            vm.roll(block.number + 1);
            vm.setBlockhash(block.number - 1, keccak256(abi.encode("block", h)));
            StackManager.Candidate[] memory set = stacks.drawSet(stackId, candidates, 3);
            uint256 sybils;
            uint256 honest;
            for (uint256 i = 0; i < set.length; ++i) {
                if (set[i].nodeId >= firstSybil) ++sybils;
                else honest = set[i].nodeId;
            }
            if (sybils == set.length) ++allSybil;
            else assertEq(_choose(stackId, set, honest), honest, "the buyer picks the honest member");
            vm.revertToState(snapshot);
        }
        assertLe(allSybil, runs / 5, "all-Sybil sets are rare");
    }

    /// A member that can no longer serve when the owner chooses (it left the task) cannot be chosen: the choice
    /// cancels the purchase and refunds it in full, and no other member is bound. The set draw passes nobody over
    /// (a member that cannot serve is drawn all the same), so nobody can reshape the set by filling members.
    function test_aMemberThatCanNoLongerServeCannotBeChosen() public {
        uint256 before = token.balanceOf(user) + vault.balanceOf(user);
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, 3);
        StackManager.Candidate[] memory set = _drawSet(stackId, candidates, 3);
        vm.prank(operatorOf[set[0].nodeId]);
        tasks.unsubscribe(plainTask, set[0].nodeId);
        assertEq(_choose(stackId, set, set[0].nodeId), 0, "not bound to the member that left");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(token.balanceOf(user) + vault.balanceOf(user), before, "refunded in full");
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        _choose(stackId, set, set[1].nodeId);

        uint256 task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < nodeIds.length - 1; ++i) subscribe(task, nodeIds[i], PRICE);
        (uint256 next, StackManager.Candidate[] memory nextCandidates) = _buySet(task, 1_000, 16);
        for (uint256 i = 0; i < 5; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.unsubscribe(task, nodeIds[i]);
        }
        StackManager.Candidate[] memory rest = _drawSet(next, nextCandidates, 16);
        assertEq(rest.length, nextCandidates.length, "every frozen candidate, whether it can still serve or not");
    }

    /// Left unchosen past the draw limit, the stack is cancelled and refunded in full by anyone's call; nothing
    /// was ever reserved. A set nobody can serve any more is drawn all the same; its owner cancels it at once.
    function test_anUnchosenSetIsRefundedAfterTheDrawLimit() public {
        uint256 before = token.balanceOf(user) + vault.balanceOf(user);
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000_000, 3);
        StackManager.Candidate[] memory set = _drawSet(stackId, candidates, 3);
        vm.warp(block.timestamp + stacks.DRAW_LIMIT() + 1);
        vm.prank(stranger);
        assertEq(stacks.chooseFromSet(stackId, set, set[0].nodeId), 0, "no node past the limit");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(token.balanceOf(user) + vault.balanceOf(user), before, "refunded in full");
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        _choose(stackId, set, set[0].nodeId);

        (uint256 next, StackManager.Candidate[] memory nextCandidates) = _buySet(plainTask, 1_000, 3);
        for (uint256 i = 0; i < nodeIds.length - 1; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.unsubscribe(plainTask, nodeIds[i]);
        }
        assertEq(_drawSet(next, nextCandidates, 3).length, 3, "drawn though nobody can serve");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NotStackOwner.selector, next, stranger));
        stacks.cancelChoice(next);
        uint256 owned = token.balanceOf(user) + vault.balanceOf(user) + stacks.getStack(next).escrow;
        vm.prank(user);
        stacks.cancelChoice(next);
        assertTrue(stacks.getStack(next).status == IStackManager.StackStatus.Closed, "cancelled by its owner at once");
        assertEq(token.balanceOf(user) + vault.balanceOf(user), owned, "refunded in full");
    }

    /// Set purchases reserve nothing until the choice: a buyer holding many drawn, unchosen sets squats on no
    /// capacity, and an honest buyer is still served by the only node.
    function test_unchosenSetsSquatNoCapacity() public {
        uint256 task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        vm.prank(operatorOf[nodeIds[0]]);
        tasks.subscribe(task, nodeIds[0], PRICE, 1_000_000, SUB_COLLATERAL);
        vm.prank(operatorOf[nodeIds[1]]);
        tasks.subscribe(task, nodeIds[1], PRICE, 1_000_000, SUB_COLLATERAL);
        for (uint256 i = 0; i < 4; ++i) {
            (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(task, 1_000_000, 2);
            assertEq(_drawSet(stackId, candidates, 2).length, 2, "both in every set");
        }
        assertEq(_reserved(task, nodeIds[0]) + _reserved(task, nodeIds[1]), 0, "nothing reserved");
        uint256 served = _buyFrom(user, task, nodeIds[0], 1_000_000, PRICE);
        assertEq(stacks.getStack(served).nodeId, nodeIds[0], "the honest buyer is served");
    }

    /// An expired set draw is re-armed on the block that notices, as a node draw is.
    function test_anExpiredSetDrawIsRearmed() public {
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, 3);
        vm.roll(block.number + 300);
        assertEq(stacks.drawSet(stackId, candidates, 3).length, 0, "no set from a lost hash");
        assertEq(stacks.getPurchase(stackId).armedAt, block.number, "re-armed here");
        assertEq(_drawSet(stackId, candidates, 3).length, 3, "drawn from the new block");
    }

    // ---------------------------------------------------------------- reentrancy

    /// No call these functions make reaches code the buyer controls (the vault credits balances, the token has no
    /// hooks), and each is guarded anyway: a vault that calls back into the manager while it locks, releases or
    /// refunds is refused with `ReentrancyGuardReentrantCall`.
    function test_theNewEntryPointsCannotBeReentered() public {
        ReenteringVault hostile = new ReenteringVault();
        StackManager manager = new StackManager(
            admin, tasks, INodeRegistry(address(nodes)), models, IAtomaVault(address(hostile)), _params()
        );
        vm.startPrank(admin);
        tasks.grantRole(tasks.PROTOCOL_ROLE(), address(manager));
        nodes.grantRole(nodes.PROTOCOL_ROLE(), address(manager));
        vm.stopPrank();
        hostile.aim(manager, plainTask, nodeIds[0]);

        vm.prank(user);
        manager.buyStackFromNode(plainTask, nodeIds[0], 1_000, type(uint128).max, 1 days);
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory candidates) =
            manager.buyStackFromSet(plainTask, 1_000, type(uint128).max, 1 days, 3);
        vm.roll(block.number + 1);
        StackManager.Candidate[] memory set = manager.drawSet(stackId, candidates, 3);
        vm.prank(user);
        manager.chooseFromSet(stackId, set, set[0].nodeId);
        assertGe(hostile.attempts(), 8, "every entry point tried from lock and release");
        assertEq(hostile.admitted(), 0, "none admitted");
    }

    function _params() internal view returns (StackManager.Params memory p) {
        (p.minDuration, p.maxDuration, p.settleWindow, p.maxUnits, p.surchargeBps, p.minChargeBps, p.minCommittee) =
            stacks.params();
    }

    // ---------------------------------------------------------------- fuzz

    /// Any node, units, cap and task, with a node uncheckable on the verified task and one subscriber harmed
    /// (left, slashed): a chosen purchase succeeds exactly when the node is among the candidates the draw would
    /// freeze, and then locks the node's exact price and reserves the units on it alone.
    function testFuzz_aChosenNodeIsOnlyEverACandidateAtItsExactPrice(
        uint256 pick,
        uint64 units,
        uint128 cap,
        bool verified,
        uint8 harm
    ) public {
        uint256 taskId = verified ? verifiedTask : plainTask;
        subscribe(taskId, addNode(2), PRICE);
        nextEpoch();
        uint256 harmed = nodeIds[harm % 7];
        if (harm % 3 == 1) {
            vm.prank(operatorOf[harmed]);
            tasks.unsubscribe(taskId, harmed);
        } else if (harm % 3 == 2) {
            vm.prank(address(receiptFraud));
            nodes.slashFraud(harmed, user, new uint256[](0));
        }
        uint256 nodeId = bound(pick, 0, nodeIds.length + 1);
        units = uint64(bound(units, 1, 2e12));
        cap = uint128(bound(cap, 0, 3 ether));
        bool offered;
        try stacks.candidatesFor(taskId, units, cap) returns (StackManager.Candidate[] memory c) {
            offered = _isMember(c, nodeId);
        } catch {}
        uint256 reservedBefore = nodeId == 0 ? 0 : _reserved(taskId, nodeId);
        vm.prank(user);
        try stacks.buyStackFromNode(taskId, nodeId, units, cap, 1 days) returns (uint256 stackId) {
            assertTrue(offered, "only a candidate");
            IStackManager.Stack memory stack = stacks.getStack(stackId);
            assertEq(stack.nodeId, nodeId, "the chosen node");
            assertLe(stack.pricePerMillion, cap, "within the cap");
            assertEq(stack.pricePerMillion, _priceOf(taskId, nodeId), "its price");
            uint256 cost = (uint256(units) * stack.pricePerMillion + 1e6 - 1) / 1e6;
            assertEq(vault.escrowOf(bytes32(stackId)), cost + (verified ? cost / 10 : 0), "exact escrow");
            assertEq(_reserved(taskId, nodeId), reservedBefore + units, "its units reserved");
            assertLe(_reserved(taskId, nodeId), tasks.getSubscription(taskId, nodeId).capacity, "within capacity");
        } catch {
            assertTrue(!offered, "a candidate is never refused");
        }
    }

    /// Any set size, block hash and pick: the set is min(size, candidates) distinct frozen candidates at their
    /// frozen prices, and the owner's choice succeeds exactly for a member.
    function testFuzz_aSetIsDistinctCandidatesAndOnlyAMemberCanBeChosen(uint8 size, bytes32 hash, uint256 pick)
        public
    {
        size = uint8(bound(size, 2, stacks.MAX_SET_SIZE()));
        (uint256 stackId, StackManager.Candidate[] memory candidates) = _buySet(plainTask, 1_000, size);
        vm.roll(block.number + 1);
        vm.setBlockhash(block.number - 1, hash);
        StackManager.Candidate[] memory set = stacks.drawSet(stackId, candidates, size);
        assertEq(set.length, size < candidates.length ? size : candidates.length, "min(size, candidates)");
        for (uint256 i = 0; i < set.length; ++i) {
            assertTrue(_isMember(candidates, set[i].nodeId), "a frozen candidate");
            assertEq(set[i].pricePerMillion, _priceOf(plainTask, set[i].nodeId), "at its frozen price");
            for (uint256 j = i + 1; j < set.length; ++j) assertTrue(set[i].nodeId != set[j].nodeId, "distinct");
        }
        uint256 nodeId = bound(pick, 0, nodeIds.length + 1);
        vm.prank(user);
        try stacks.chooseFromSet(stackId, set, nodeId) returns (uint256 chosen) {
            assertTrue(_isMember(set, nodeId), "only a member");
            assertEq(chosen, nodeId, "the member chosen");
            assertEq(stacks.getStack(stackId).nodeId, nodeId, "serves the stack");
        } catch {
            assertTrue(!_isMember(set, nodeId), "a member that can serve is never refused");
        }
    }
}

/// @notice A vault that, when the stack manager locks, releases or refunds through it, calls back into each of the
/// manager's purchase entry points and counts whether any is admitted (it forwards nothing: no token moves).
contract ReenteringVault {
    StackManager internal manager;
    uint256 internal taskId;
    uint256 internal nodeId;
    uint256 public attempts;
    uint256 public admitted;
    mapping(bytes32 => uint256) public escrowOf;

    function aim(StackManager manager_, uint256 taskId_, uint256 nodeId_) external {
        (manager, taskId, nodeId) = (manager_, taskId_, nodeId_);
    }

    function lock(bytes32 key, address, uint256 amount) external {
        escrowOf[key] = amount;
        _reenter();
    }

    function release(bytes32 key, address, uint256 amount) external {
        escrowOf[key] -= amount;
        _reenter();
    }

    function refund(bytes32 key, address) external returns (uint256 refunded) {
        refunded = escrowOf[key];
        escrowOf[key] = 0;
        _reenter();
    }

    function _reenter() internal {
        StackManager.Candidate[] memory none = new StackManager.Candidate[](0);
        bytes[4] memory calls = [
            abi.encodeCall(StackManager.buyStackFromNode, (taskId, nodeId, 1_000, type(uint128).max, 1 days)),
            abi.encodeCall(StackManager.buyStackFromSet, (taskId, 1_000, type(uint128).max, 1 days, 2)),
            abi.encodeCall(StackManager.drawSet, (1, none, 2)),
            abi.encodeCall(StackManager.chooseFromSet, (1, none, nodeId))
        ];
        for (uint256 i = 0; i < calls.length; ++i) {
            ++attempts;
            (bool ok, bytes memory reason) = address(manager).call(calls[i]);
            if (ok || bytes4(reason) != bytes4(keccak256("ReentrancyGuardReentrantCall()"))) ++admitted;
        }
    }
}
