// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice Review s5 H-1: each purchase kind (walked `buyStack`, set `buyStackFromSet`, listed `buyStackAmong`) is
/// drawn only by its own draw (`drawNode`, `drawSet`, `drawListed`). Before the fix a listed list (tagged 0xff)
/// matched `drawSet(id, list, 255)`: a buyer listing a node at 0 bound it for free through `chooseFromSet`, and
/// anyone could front-run the default (listed) purchase's draw into `Choosing` to lock its escrow for an hour.
contract PurchaseKindAttacksTest is AtomaFixture {
    uint256 internal task;
    address internal griefer = address(0xBAD);

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 6; ++i) addNode(1);
        task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < 6; ++i) subscribe(task, nodeIds[i], PRICE);
        nextEpoch();
        fund(user, 1_000_000 ether);
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
    }

    function _sorted(StackManager.Candidate[] memory c) internal pure returns (StackManager.Candidate[] memory) {
        for (uint256 i = 1; i < c.length; ++i) {
            for (uint256 j = i; j > 0 && c[j - 1].nodeId > c[j].nodeId; --j) (c[j - 1], c[j]) = (c[j], c[j - 1]);
        }
        return c;
    }

    /// The buyer lists one node at price 0 and tries to bind it through the set path: refused, still pending, and
    /// its own draw then cancels the purchase (the node asks more than listed).
    function test_drawSetRefusesAListedPurchase() public {
        StackManager.Candidate[] memory list = new StackManager.Candidate[](1);
        list[0] = StackManager.Candidate({nodeId: uint64(nodeIds[0]), pricePerMillion: 0});
        vm.prank(user);
        uint256 stackId = stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
        vm.roll(block.number + 1);
        vm.startPrank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.InvalidSetSize.selector, uint256(0xff), uint256(16)));
        stacks.drawSet(stackId, list, 0xff);
        for (uint256 size = 2; size <= stacks.MAX_SET_SIZE(); ++size) {
            vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
            stacks.drawSet(stackId, list, uint8(size));
        }
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotChoosing.selector, stackId));
        stacks.chooseFromSet(stackId, list, nodeIds[0]);
        vm.stopPrank();
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Pending, "still pending");
        assertEq(stacks.drawListed(stackId, list, new uint256[](0)), 0, "listed below its price: cancelled");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
    }

    /// A third party front-runs the default purchase's `drawListed` with every other draw over its own list:
    /// each reverts, the stack stays pending, and the real draw then binds a node at its price.
    function test_theGriefingFrontRunFails() public {
        StackManager.Candidate[] memory list = _sorted(stacks.candidatesFor(task, 1_000, PRICE));
        vm.prank(user);
        uint256 stackId = stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
        vm.roll(block.number + 1);
        vm.startPrank(griefer);
        vm.expectRevert(abi.encodeWithSelector(StackManager.InvalidSetSize.selector, uint256(0xff), uint256(16)));
        stacks.drawSet(stackId, list, 0xff);
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, list);
        vm.stopPrank();
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Pending, "still pending");
        uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        assertTrue(nodeId != 0, "the real draw binds");
        assertEq(stacks.getStack(stackId).pricePerMillion, PRICE, "at the node's price");
    }

    /// Fuzz over purchase kind x draw entry point x the `setSize` an attacker passes, each with the purchase's
    /// own frozen list: only the kind's own draw (with its own size, for a set) is accepted.
    function testFuzz_eachPurchaseIsDrawnOnlyByItsOwnDraw(uint8 kind, uint8 draw, uint8 setSize, uint8 boughtSize)
        public
    {
        kind %= 3;
        draw %= 3;
        boughtSize = uint8(bound(boughtSize, 2, stacks.MAX_SET_SIZE()));
        StackManager.Candidate[] memory list;
        uint256 stackId;
        vm.startPrank(user);
        if (kind == 0) {
            (stackId, list) = stacks.buyStack(task, 1_000, PRICE, 1 days);
        } else if (kind == 1) {
            (stackId, list) = stacks.buyStackFromSet(task, 1_000, PRICE, 1 days, boughtSize);
        } else {
            list = _sorted(stacks.candidatesFor(task, 1_000, PRICE));
            stackId = stacks.buyStackAmong(task, 1_000, PRICE, 1 days, list);
        }
        vm.stopPrank();
        vm.roll(block.number + 1);
        bool accepted;
        vm.prank(griefer);
        if (draw == 0) {
            try stacks.drawNode(stackId, list) returns (uint256) {
                accepted = true;
            } catch {}
        } else if (draw == 1) {
            try stacks.drawSet(stackId, list, setSize) returns (StackManager.Candidate[] memory) {
                accepted = true;
            } catch {}
        } else {
            try stacks.drawListed(stackId, list, new uint256[](0)) returns (uint256) {
                accepted = true;
            } catch {}
        }
        bool own = kind == draw && (kind != 1 || setSize == boughtSize);
        assertTrue(accepted == own, "only the purchase's own draw");
        IStackManager.StackStatus status = stacks.getStack(stackId).status;
        if (!own) assertTrue(status == IStackManager.StackStatus.Pending, "a refused draw leaves it pending");
        else if (kind == 1) assertTrue(status == IStackManager.StackStatus.Choosing, "set drawn");
        else assertTrue(status == IStackManager.StackStatus.Active, "bound");
    }
}
