// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ITaskRegistry} from "../../src/interfaces/ITaskRegistry.sol";
import {SettlementSteps} from "./SettlementSteps.sol";

/// @notice The scene of the capacity-squatting attack (item 16), shared by the drawn and the chosen-node versions:
/// two honest nodes with room for one stack each at the honest price, the attacker's own node at five times it,
/// a squatter that fills the honest capacity and never uses it, and an honest buyer.
abstract contract CapacitySquat is SettlementSteps {
    address internal constant SQUATTER = address(0x5A7);
    address internal constant BUYER = address(0xB0B);

    struct Squat {
        uint256 task;
        uint256 honestA;
        uint256 honestB;
        uint256 attackerNode;
    }

    /// A fresh unverified task the first two fixture nodes serve at PRICE with room for 1,000,000 units each, and
    /// the third (the attacker's) at 5 × PRICE without limit; the squatter and the buyer funded and approved.
    function squatScene() internal returns (Squat memory q) {
        q = Squat({
            task: createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0),
            honestA: nodeIds[0],
            honestB: nodeIds[1],
            attackerNode: nodeIds[2]
        });
        vm.prank(operatorOf[q.honestA]);
        tasks.subscribe(q.task, q.honestA, PRICE, 1_000_000, SUB_COLLATERAL);
        vm.prank(operatorOf[q.honestB]);
        tasks.subscribe(q.task, q.honestB, PRICE, 1_000_000, SUB_COLLATERAL);
        vm.prank(operatorOf[q.attackerNode]);
        tasks.subscribe(q.task, q.attackerNode, 5 * PRICE, 1e12, SUB_COLLATERAL);
        for (uint256 i = 0; i < 2; ++i) {
            address party = i == 0 ? SQUATTER : BUYER;
            fund(party, 100 ether);
            vm.prank(party);
            token.approve(address(vault), type(uint256).max);
        }
    }

    /// The squatter closes `first` and its node settles it; the node of `second` settles it once it has been idle
    /// long enough (as an honest node settles an idle stack early).
    function freeSquatted(uint256 first, uint256 nodeOfFirst, uint256 second, uint256 nodeOfSecond) internal {
        vm.prank(SQUATTER);
        stacks.closeStack(first);
        vm.prank(vm.addr(signerKey[nodeOfFirst]));
        settlement.settle(first, 0, 0, 0, 0);
        vm.warp(block.timestamp + 10 minutes);
        vm.prank(vm.addr(signerKey[nodeOfSecond]));
        settlement.settle(second, 0, 0, 0, 0);
    }

    /// Once the two squatted stacks are final: the squatter got all but their minimum charges back, the charges
    /// went to the treasury, and neither its own node nor the squatted ones earned anything.
    function assertTheSquatCostTheSquatter(Squat memory q, uint256 first, uint256 second) internal {
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(first);
        settlement.finalize(second);
        uint256 minCharge = 2 ether * 1_000 / 10_000;
        assertEq(vault.balanceOf(SQUATTER), 2 * (2 ether - minCharge), "refunded less the minimum charge");
        assertEq(vault.balanceOf(treasury), 2 * minCharge, "the minimum charges go to the treasury");
        assertEq(claimableOf(q.attackerNode), 0, "the squatter's own node earns nothing");
        assertEq(claimableOf(q.honestA) + claimableOf(q.honestB), 0, "unused capacity pays no node");
    }
}
