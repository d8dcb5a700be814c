// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {CapacitySquat} from "./lib/CapacitySquat.sol";

/// @notice Review (rev1): attacks on the drawn set and chosen node that the change does not stop. Each test asserts
/// the SAFE outcome, so each FAILS on the current code.
contract ReviewNodeChoiceTest is CapacitySquat {
    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 7; ++i) addNode(1);
        nextEpoch();
    }

    /// F1. A third party steers SOMEONE ELSE's drawn purchase to its own 5x-priced node. The armed block's hash is
    /// public one block after the purchase; before any drawNode the attacker (one tx, ahead of the keepers' grace
    /// blocks) uses buyStackFromNode to aim a 1-unit stack at each honest node ranked ahead of its own, leaving
    /// each one unit short of the victim's stack, then calls drawNode itself. The honest nodes are passed over.
    function test_review_thirdPartySteersADrawnPurchaseForOneUnitPerHonestNode() public {
        Squat memory q = squatScene();
        vm.prank(BUYER);
        (uint256 victim, StackManager.Candidate[] memory candidates) =
            stacks.buyStack(q.task, 1_000_000, 5 * PRICE, 1 days);
        vm.roll(block.number + 1);
        uint256 cost;
        vm.startPrank(SQUATTER);
        for (uint256 i = 0; i < 2; ++i) {
            uint256 honest = i == 0 ? q.honestA : q.honestB;
            uint256 squat = stacks.buyStackFromNode(q.task, honest, 1, PRICE, 1 hours);
            cost += stacks.minCharge(squat);
        }
        vm.stopPrank();
        uint256 drawn = stacks.drawNode(victim, candidates);
        // cost == 2 * 10% * (1 unit at 2 ether per million) = 4e11 wei; the victim's escrow is 10 ether (5x).
        assertTrue(cost == 4e11 && stacks.getStack(victim).escrow == 10 ether, "numbers as stated");
        assertTrue(drawn != q.attackerNode, "a third party steered the victim's draw to its 5x node for ~0 cost");
        // The fix: the drawn honest node lost its room, so the purchase is cancelled and refunded in full.
        assertEq(drawn, 0, "no node bound");
        assertTrue(stacks.getStack(victim).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(token.balanceOf(BUYER) + vault.balanceOf(BUYER), 100 ether, "the victim refunded in full");
    }

    /// F1 (set). The victim's set is drawn; the attacker front-runs its chooseFromSet by leaving every honest
    /// member one unit short: the owner can only bind the stack to the attacker's 5x node, or lose the purchase.
    function test_review_frontRunningChooseFromSetLeavesOnlyTheAttacker() public {
        Squat memory q = squatScene();
        vm.prank(BUYER);
        (uint256 victim, StackManager.Candidate[] memory candidates) =
            stacks.buyStackFromSet(q.task, 1_000_000, 5 * PRICE, 1 days, 3);
        vm.roll(block.number + 1);
        StackManager.Candidate[] memory set = stacks.drawSet(victim, candidates, 3);
        vm.startPrank(SQUATTER);
        stacks.buyStackFromNode(q.task, q.honestA, 1, PRICE, 1 hours);
        stacks.buyStackFromNode(q.task, q.honestB, 1, PRICE, 1 hours);
        vm.stopPrank();
        vm.prank(BUYER);
        try stacks.chooseFromSet(victim, set, q.honestA) {}
        catch {
            fail("the owner's choice of the honest member was front-run with a 1-unit stack");
        }
        // The fix: the choice of a member that lost its room cancels the purchase instead of binding another.
        assertTrue(stacks.getStack(victim).status == IStackManager.StackStatus.Closed, "cancelled, not rebound");
        assertEq(token.balanceOf(BUYER) + vault.balanceOf(BUYER), 100 ether, "the victim refunded in full");
    }

    /// F3. surchargeBps is read at the choice (and at drawNode), not frozen at the purchase like minChargeBps: a
    /// raise between a set purchase and its choice makes every choice underflow (`stack.escrow - escrow`), so the
    /// set can only lapse; a cut makes the buyer pay a surcharge other than the one it locked.
    function test_review_aSurchargeRaiseBetweenPurchaseAndChoiceBlocksTheChoice() public {
        (, uint256 stackId, StackManager.Candidate[] memory set) = _drawnVerifiedSet();
        (uint64 a, uint64 b, uint64 c, uint64 d,, uint16 minCharge, uint8 committee) = stacks.params();
        vm.prank(admin);
        stacks.setParams(StackManager.Params(a, b, c, d, 2_000, minCharge, committee));
        vm.prank(user);
        try stacks.chooseFromSet(stackId, set, set[0].nodeId) {}
        catch {
            fail("a governance surcharge change between purchase and choice made the set unchoosable");
        }
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Active, "bound");
    }

    /// L3. The choice re-checks what the purchase checked on a verified task: the chosen member's echelon must
    /// still hold the attesters and a dispute committee besides it. When the others have left, it is not bound.
    function test_review_theChoiceRechecksTheCheckersOfAVerifiedTask() public {
        (uint256 task, uint256 stackId, StackManager.Candidate[] memory set) = _drawnVerifiedSet();
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            if (nodeIds[i] == set[0].nodeId) continue;
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.unsubscribe(task, nodeIds[i]);
        }
        vm.prank(user);
        assertEq(stacks.chooseFromSet(stackId, set, set[0].nodeId), 0, "nobody left to check its work");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled and refunded");
    }

    /// A verified task every fixture node serves at PRICE, and the user's set purchase of three on it, drawn.
    function _drawnVerifiedSet()
        internal
        returns (uint256 task, uint256 stackId, StackManager.Candidate[] memory set)
    {
        task = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) subscribe(task, nodeIds[i], PRICE);
        nextEpoch();
        vm.prank(user);
        StackManager.Candidate[] memory candidates;
        (stackId, candidates) = stacks.buyStackFromSet(task, 1_000_000, PRICE, 1 days, 3);
        vm.roll(block.number + 1);
        set = stacks.drawSet(stackId, candidates, 3);
    }
}
