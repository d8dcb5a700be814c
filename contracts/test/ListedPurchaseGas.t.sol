// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice Issue 15's drawn purchase as the gas bench makes it (`buyStackAmong`, then `drawListed` a block later,
/// ten subscribers, after a first purchase), for `forge test --isolate -vvvv` on this file; and the packed
/// stack's fields refusing what does not fit them (a buyer trying to wrap the purchase time or the escrow word).
contract ListedPurchaseGasTest is AtomaFixture {
    uint256 internal task;
    StackManager.Candidate[] internal list;

    function setUp() public {
        deployAtoma();
        task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < 10; ++i) subscribe(task, addNode(1), PRICE);
        nextEpoch();
        fund(user, 1_000_000 ether);
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
        StackManager.Candidate[] memory c = stacks.candidatesFor(task, 1_000, PRICE);
        for (uint256 i = 0; i < c.length; ++i) list.push(c[i]);
        _buyAndDraw();
    }

    function _buyAndDraw() internal returns (uint256 stackId, uint256 nodeId) {
        vm.prank(user);
        stackId = stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
        vm.roll(block.number + 1);
        nodeId = stacks.drawListed(stackId, list, new uint256[](0));
    }

    function test_gas_listedPurchaseAfterAFirst() public {
        (uint256 stackId, uint256 nodeId) = _buyAndDraw();
        assertEq(stacks.getStack(stackId).nodeId, nodeId, "bound to the drawn node");
        assertTrue(nodeId != 0, "drawn");
    }

    /// A purchase whose time needs more than the 48 bits it is stored in is refused, not wrapped to an early time
    /// (which would make its draw look expired, or its `DRAW_LIMIT` never pass).
    function test_aTimePastFortyEightBitsIsRefused() public {
        vm.warp(uint256(1) << 48);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.FieldOverflow.selector, uint256(1) << 48, 48));
        stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
    }

    /// An escrow wider than its 128-bit word (a price near the top of `uint128` for many units) is refused before
    /// anything is locked, not truncated to a small escrow that the stack would then be bound against.
    function test_anEscrowPastOneHundredTwentyEightBitsIsRefused() public {
        StackManager.Candidate[] memory dear = new StackManager.Candidate[](1);
        dear[0] = StackManager.Candidate({nodeId: list[0].nodeId, pricePerMillion: type(uint128).max});
        uint64 units = 1_000_000_000;
        uint256 wanted = uint256(units) * type(uint128).max / 1_000_000;
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.FieldOverflow.selector, wanted, 128));
        stacks.buyStackAmong(task, units, type(uint128).max, 1 days, dear);
    }
}
