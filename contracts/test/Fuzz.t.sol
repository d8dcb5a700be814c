// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Units} from "../src/common/Units.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

contract FuzzTest is AtomaFixture {
    uint256 internal plainTask;
    uint256 internal verifiedTask;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 5; ++i) addNode(1);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1, 1, 1);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(plainTask, nodeIds[i], PRICE + uint128(i));
            subscribe(verifiedTask, nodeIds[i], PRICE + uint128(i));
        }
        nextEpoch();
    }

    function testFuzz_costRoundsUp(uint64 units, uint96 price) public pure {
        uint256 c = Units.cost(units, price);
        assertGe(c * 1_000_000, uint256(units) * price, "never below the exact cost");
        assertLe(c * 1_000_000, uint256(units) * price + 999_999, "less than one unit of rounding above");
    }

    /// Whatever the node settles, the payouts of a stack add up to exactly its escrow.
    function testFuzz_payoutsAddUpToTheEscrow(uint64 bought, uint64 used, bool verified) public {
        bought = uint64(bound(bought, 1, 1e9));
        used = uint64(bound(used, 0, bought));
        (uint256 stackId, uint256 server) = buy(verified ? verifiedTask : plainTask, bought);
        uint256 escrow = vault.escrowOf(bytes32(stackId));
        Served memory s = serve(stackId, 2, "honest");
        settleAs(stackId, server, s.root, used, used == 0 ? 0 : 2);
        vm.warp(block.timestamp + 1 hours + 1);
        uint256 owedBefore = vault.totalOwed();
        uint256 userBefore = vault.balanceOf(user);
        settlement.finalize(stackId);
        assertEq(vault.escrowOf(bytes32(stackId)), 0, "escrow emptied");
        assertEq(vault.totalOwed() - owedBefore, escrow, "every token of the escrow is owed to someone");
        (uint128 nodeFee,) = vault.nodeLedger(server, nodes.currentEpoch());
        (uint128 ownerFee,) = vault.ownerLedger(modelOwner, nodes.currentEpoch());
        uint256 price = stacks.getStack(stackId).pricePerMillion;
        assertEq(uint256(nodeFee) + ownerFee, Units.cost(used, price), "the node and model owner share the cost");
        uint256 charged = Units.cost(used, price);
        uint256 minCharge = Units.cost(bought, price) * 1_000 / 10_000;
        if (charged < minCharge) charged = minCharge;
        assertEq(vault.balanceOf(user) - userBefore, escrow - charged, "the rest, less the minimum charge, is refunded");
    }

    /// A slash is shared and burned without creating or losing a token.
    function testFuzz_slashSharesConserve(uint16 userBps, uint16 honestBps, uint8 honestCount) public {
        userBps = uint16(bound(userBps, 0, 10_000));
        honestBps = uint16(bound(honestBps, 0, 10_000 - userBps));
        honestCount = uint8(bound(honestCount, 0, 4));
        uint256 amount = 12_345 ether + userBps;
        uint256[] memory honest = new uint256[](honestCount);
        for (uint256 i = 0; i < honestCount; ++i) honest[i] = nodeIds[i];
        vm.prank(admin);
        token.transfer(address(vault), amount);
        uint256 supply = token.totalSupply();
        uint256 owedBefore = vault.totalOwed();
        uint256 userBefore = vault.balanceOf(user);
        vm.prank(address(nodes));
        vault.distributeSlashed(amount, user, userBps, honest, honestBps, 10_000 - userBps - honestBps);
        uint256 burned = supply - token.totalSupply();
        assertEq(vault.totalOwed() - owedBefore + burned, amount, "owed + burned = slashed");
        assertEq(token.balanceOf(address(vault)), uint256(vault.totalEscrowed()) + vault.totalOwed(), "solvent");
    }

    /// Draws are distinct, honour exclusions and never return more than asked.
    function testFuzz_drawsAreDistinctAndHonourExclusions(uint256 seed, uint8 count, uint8 excluded) public view {
        count = uint8(bound(count, 0, 8));
        uint256[] memory exclude = new uint256[](1);
        exclude[0] = nodeIds[excluded % nodeIds.length];
        uint256[] memory drawn = tasks.draw(
            ITaskRegistry.Draw({
                taskId: plainTask,
                echelon: 1,
                count: count,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: exclude,
                seed: seed,
                checking: false
            })
        );
        assertEq(drawn.length, count < 4 ? count : 4, "min(count, eligible)");
        for (uint256 i = 0; i < drawn.length; ++i) {
            assertTrue(drawn[i] != exclude[0], "excluded node drawn");
            for (uint256 j = i + 1; j < drawn.length; ++j) assertTrue(drawn[i] != drawn[j], "drawn twice");
        }
    }

    function testFuzz_emissionDecaysToTheTail(uint32 epoch) public view {
        uint256 e = emission.emissionFor(epoch);
        assertLe(emission.emissionFor(uint256(epoch) + 1), e, "never grows");
        assertGe(e, 10_000 ether, "never below the tail");
        assertLe(e, 1_000_000 ether, "never above the start");
    }

    /// A node is drawn only at or below the buyer's price cap.
    function testFuzz_priceCapIsHonoured(uint128 cap) public {
        cap = uint128(bound(cap, PRICE, PRICE + 4));
        (uint256 stackId,) = buyAs(user, plainTask, 1_000, cap);
        assertLe(stacks.getStack(stackId).pricePerMillion, cap, "over the cap");
    }
}
