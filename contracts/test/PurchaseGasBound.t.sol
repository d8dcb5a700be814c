// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {Units} from "../src/common/Units.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";
import {Vm} from "./lib/Vm.sol";

/// @notice Issue 15's regression guard on a drawn purchase's gas (`buyStackAmong`, then `drawListed` a block
/// later, ten listed nodes, after a first purchase), and the attacks its cheaper draw could open: the draw takes
/// the list's hash and the purchase's log from the calldata as sent, so a drawer that alters a listed price (to
/// release more, or bind cheaper) or replays the draw must be refused, the escrow, the excess and the vault's totals
/// must stay exact, and the log must read as the ABI encoder wrote it.
contract PurchaseGasBoundTest is AtomaFixture {
    /// buy + draw as measured here (each call finding the contracts cold, without the transactions' base and
    /// calldata): about 261.7k before the vault stopped logging `EscrowLocked` (259,879 after) and the listed
    /// names were hashed (253,885) and logged (250,979) from the calldata as sent, not through the ABI encoder.
    uint256 internal constant BUY_AND_DRAW_BOUND = 251_500;

    uint256 internal task;
    StackManager.Candidate[] internal list;
    /// The gas bench's task: the same ten nodes, all at one price (nothing to release at the draw).
    uint256 internal flatTask;
    StackManager.Candidate[] internal flatList;

    function setUp() public {
        deployAtoma();
        task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        flatTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        // Ten nodes, the last five dearer: a drawn cheap node leaves an excess to release.
        for (uint256 i = 0; i < 10; ++i) {
            uint256 nodeId = addNode(1);
            subscribe(task, nodeId, i < 5 ? PRICE : PRICE * 3);
            subscribe(flatTask, nodeId, PRICE);
        }
        nextEpoch();
        fund(user, 1_000_000 ether);
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
        StackManager.Candidate[] memory c = stacks.candidatesFor(task, 1_000, PRICE * 3);
        for (uint256 i = 0; i < c.length; ++i) list.push(c[i]);
        c = stacks.candidatesFor(flatTask, 1_000, PRICE);
        for (uint256 i = 0; i < c.length; ++i) flatList.push(c[i]);
        // A first purchase, drawn, as the bench's: none of the measured ones pays for the first's storage.
        vm.prank(user);
        uint256 first = stacks.buyStackAmong(flatTask, 1_000, PRICE, 1 days, flatList);
        vm.roll(block.number + 1);
        stacks.drawListed(first, flatList, new uint256[](0));
    }

    function _buy() internal returns (uint256 stackId) {
        vm.prank(user);
        stackId = stacks.buyStackAmong(task, 1_000, PRICE * 3, 1 days, list);
    }

    function _inVault() internal view returns (uint256) {
        return token.balanceOf(address(vault));
    }

    /// Every contract either call touches, cold again, as each transaction finds them.
    function _cool() internal {
        vm.cool(address(stacks));
        vm.cool(address(vault));
        vm.cool(address(token));
        vm.cool(address(tasks));
        vm.cool(address(nodes));
        vm.cool(address(models));
    }

    function test_gas_buyAndDrawStayUnderTheBound() public {
        _cool();
        StackManager.Candidate[] memory names = flatList;
        uint256[] memory none = new uint256[](0);
        vm.prank(user);
        uint256 before = gasleft();
        uint256 stackId = stacks.buyStackAmong(flatTask, 1_000, PRICE, 1 days, names);
        uint256 used = before - gasleft();
        vm.roll(block.number + 1);
        _cool();
        before = gasleft();
        uint256 nodeId = stacks.drawListed(stackId, names, none);
        used += before - gasleft();
        assertTrue(nodeId != 0, "drawn");
        assertLe(used, BUY_AND_DRAW_BOUND, "buy + draw gas");
    }

    /// The escrow locked at the highest listed price; the drawn node's price bound; the excess released to the
    /// buyer's balance, exactly; the vault's totals equal to the tokens it holds for them.
    function test_theDrawReleasesExactlyTheExcessOverTheDrawnPrice() public {
        uint256 balanceBefore = vault.balanceOf(user);
        (uint128 escrowedBefore, uint128 owedBefore) = (vault.totalEscrowed(), vault.totalOwed());
        uint256 stackId = _buy();
        uint256 locked = Units.cost(1_000, PRICE * 3);
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), locked, "locked at the highest listed price");
        vm.roll(block.number + 1);
        uint256 nodeId = stacks.drawListed(stackId, list, new uint256[](0));
        uint128 price = stacks.getStack(stackId).pricePerMillion;
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i].nodeId == nodeId) assertEq(price, list[i].pricePerMillion, "bound at its listed price");
        }
        uint256 escrow = Units.cost(1_000, price);
        assertEq(stacks.getStack(stackId).escrow, escrow, "the stack's escrow");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), escrow, "the vault's escrow");
        assertEq(vault.balanceOf(user) - balanceBefore, locked - escrow, "the excess, exactly");
        assertEq(vault.totalEscrowed() - escrowedBefore, escrow, "escrowed");
        assertEq(vault.totalOwed() - owedBefore, locked - escrow, "owed");
        assertGe(_inVault(), uint256(vault.totalEscrowed()) + vault.totalOwed(), "solvent");
    }

    /// A drawer that raises a listed price (so that the highest, and the excess it would release, grows) or lowers
    /// the drawn node's (so that it would be bound cheaper and release more) is refused: the list is the frozen one
    /// or nothing. The stack stays pending, its escrow untouched.
    function test_aDrawerCannotInflateTheListToReleaseMore() public {
        uint256 stackId = _buy();
        vm.roll(block.number + 1);
        bytes32 key = stacks.escrowKey(stackId);
        uint256 locked = vault.escrowOf(key);
        for (uint256 i = 0; i < list.length; ++i) {
            StackManager.Candidate[] memory forged = list;
            forged[i].pricePerMillion = i < 5 ? PRICE * 3 : PRICE * 30;
            vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
            stacks.drawListed(stackId, forged, new uint256[](0));
            forged[i].pricePerMillion = 1;
            vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
            stacks.drawListed(stackId, forged, new uint256[](0));
        }
        assertEq(vault.escrowOf(key), locked, "escrow untouched");
        assertEq(uint8(stacks.getStack(stackId).status), uint8(IStackManager.StackStatus.Pending), "still pending");
    }

    /// The purchase's `StackRequested`, logged from the calldata, is what the ABI encoder wrote: the same topics and
    /// data, the names included, and its list hash is the one `drawListed` checks (`abi.encode(tag, names)`).
    function test_theListedLogAndHashAreTheEncodersOwn() public {
        StackManager.Candidate[] memory names = flatList;
        vm.recordLogs();
        vm.prank(user);
        uint256 stackId = stacks.buyStackAmong(flatTask, 1_000, PRICE, 1 days, names);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        Vm.Log memory got = logs[logs.length - 1];
        assertEq(got.emitter, address(stacks), "emitter");
        assertEq(got.topics.length, 4, "topics");
        assertEq(got.topics[0], StackManager.StackRequested.selector, "signature");
        assertEq(got.topics[1], bytes32(stackId), "stack");
        assertEq(got.topics[2], bytes32(uint256(uint160(user))), "owner");
        assertEq(got.topics[3], bytes32(flatTask), "task");
        uint256 locked = Units.cost(1_000, PRICE);
        bytes memory expected = abi.encode(uint64(1_000), locked, uint64(block.number), names);
        assertEq(keccak256(got.data), keccak256(expected), "data");
        assertEq(
            stacks.getPurchase(stackId).candidatesHash,
            keccak256(abi.encode(keccak256("atoma.listed"), names)),
            "the frozen hash"
        );
    }

    /// Names with dirty high bits (a node id or price word wider than its type) are refused at the purchase, and a
    /// draw given the frozen list with a dirty word is `WrongCandidates`: the calldata hashed and logged as sent is
    /// always a clean list's.
    function test_dirtyNamesAreRefused() public {
        StackManager.Candidate[] memory names = flatList;
        bytes memory clean = abi.encodeCall(StackManager.buyStackAmong, (flatTask, 1_000, PRICE, 1 days, names));
        // The first name's node id word: selector, five head words, the length, then the names.
        uint256 at = 4 + 6 * 32;
        bytes memory dirty = bytes.concat(clean);
        dirty[at] = 0x01;
        vm.prank(user);
        (bool ok,) = address(stacks).call(dirty);
        assertTrue(!ok, "a dirty node id is refused at the purchase");
        dirty = bytes.concat(clean);
        dirty[at + 32] = 0x01;
        vm.prank(user);
        (ok,) = address(stacks).call(dirty);
        assertTrue(!ok, "a dirty price is refused at the purchase");

        vm.prank(user);
        uint256 stackId = stacks.buyStackAmong(flatTask, 1_000, PRICE, 1 days, names);
        vm.roll(block.number + 1);
        bytes memory draw = abi.encodeCall(StackManager.drawListed, (stackId, names, new uint256[](0)));
        // drawListed's head is three words; the list's length, then the names.
        draw[4 + 4 * 32 + 32 * 5] = 0x01;
        (ok,) = address(stacks).call(draw);
        assertTrue(!ok, "a dirty word in the list is refused at the draw");
        assertEq(uint8(stacks.getStack(stackId).status), uint8(IStackManager.StackStatus.Pending), "still pending");
        stacks.drawListed(stackId, names, new uint256[](0));
        uint8 status = uint8(stacks.getStack(stackId).status);
        assertEq(status, uint8(IStackManager.StackStatus.Active), "the clean list draws");
    }

    /// A draw replayed after the stack is bound is refused, and releases nothing more.
    function test_aReplayedDrawIsRefused() public {
        uint256 stackId = _buy();
        vm.roll(block.number + 1);
        stacks.drawListed(stackId, list, new uint256[](0));
        uint256 balance = vault.balanceOf(user);
        uint256 escrow = vault.escrowOf(stacks.escrowKey(stackId));
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawListed(stackId, list, new uint256[](0));
        assertEq(vault.balanceOf(user), balance, "nothing more released");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), escrow, "escrow kept");
    }
}
