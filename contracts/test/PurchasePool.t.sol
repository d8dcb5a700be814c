// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice A purchase reads its pool in one pass (`TaskRegistry.offers`) instead of a draw, a second node-state
/// read and one subscription call per subscriber; the node registry keeps what eligibility reads in two slots; a
/// bound stack clears its frozen candidates. The pool must be the one the draw's rules give (checked here against
/// the previous computation, built from `TaskRegistry.draw`), and the attacks on a drawn purchase must still fail:
/// steering the draw after the purchase, leaving or filling capacity between purchase and draw, and refunds exact.
contract PurchasePoolTest is AtomaFixture {
    address internal constant SYBIL_OPERATOR = address(0x5B11);
    uint256 internal plainTask;
    uint256 internal verifiedTask;

    function setUp() public {
        deployAtoma();
        // Six nodes in echelon 1 (enough checkers: 1 attester + 3 committee), three in echelon 2 (too few).
        for (uint256 i = 0; i < 9; ++i) addNode(i < 6 ? 1 : 2);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 1, 1);
        fund(user, 1_000_000 ether);
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
    }

    // ---------------------------------------------------------------- the previous computation

    /// The candidates as the stack manager computed them before `offers`: the draw's pool for new work at any
    /// price and capacity, then each subscription read again for price and room, and each node's echelon peers
    /// counted in the pool.
    function _reference(uint256 taskId, uint64 units, uint128 cap)
        internal
        view
        returns (StackManager.Candidate[] memory out, bool priced)
    {
        ITaskRegistry.Task memory task = tasks.getTask(taskId);
        uint256[] memory pool = tasks.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: type(uint32).max,
                count: type(uint256).max,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: new uint256[](0),
                seed: 0,
                checking: false
            })
        );
        INodeRegistry.NodeState[] memory states = nodes.nodeStates(pool);
        bool verified = task.securityLevel == ITaskRegistry.SecurityLevel.CrossValidation;
        uint256 needed = uint256(task.attesters) + stacks.minCommittee();
        out = new StackManager.Candidate[](pool.length);
        uint256 found;
        for (uint256 i = 0; i < pool.length; ++i) {
            ITaskRegistry.Subscription memory sub = tasks.getSubscription(taskId, pool[i]);
            uint256 reserved = uint256(sub.reserved) + units;
            if (sub.pricePerMillion > cap || reserved > sub.capacity) continue;
            if ((reserved * sub.pricePerMillion + 1e6 - 1) / 1e6 > sub.collateral) continue;
            priced = true;
            uint256 peers;
            for (uint256 j = 0; j < states.length; ++j) {
                if (states[j].echelon == states[i].echelon) ++peers;
            }
            if (verified && peers - 1 < needed) continue;
            out[found++] = StackManager.Candidate({nodeId: uint64(pool[i]), pricePerMillion: sub.pricePerMillion});
        }
        assembly ("memory-safe") {
            mstore(out, found)
        }
    }

    function _indexOf(StackManager.Candidate[] memory list, uint256 nodeId) internal pure returns (uint256) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i].nodeId == nodeId) return i;
        }
        return type(uint256).max;
    }

    /// `candidatesFor` equals the reference as a set (same nodes at the same prices), or both find none with the
    /// same error.
    function _assertSamePool(uint256 taskId, uint64 units, uint128 cap) internal view {
        (StackManager.Candidate[] memory expected, bool priced) = _reference(taskId, units, cap);
        try stacks.candidatesFor(taskId, units, cap) returns (StackManager.Candidate[] memory got) {
            assertEq(got.length, expected.length, "as many candidates as the draw's rules give");
            for (uint256 i = 0; i < got.length; ++i) {
                uint256 at = _indexOf(expected, got[i].nodeId);
                assertTrue(at != type(uint256).max, "every candidate is one the draw's rules give");
                assertEq(got[i].pricePerMillion, expected[at].pricePerMillion, "at its price");
            }
        } catch (bytes memory reason) {
            assertEq(expected.length, 0, "refused only when the draw's rules give no candidate");
            bytes4 selector = bytes4(reason);
            if (priced) assertTrue(selector == StackManager.TooFewVerifiers.selector, "too few verifiers");
            else assertTrue(selector == StackManager.NoEligibleNode.selector, "no eligible node");
        }
    }

    // ---------------------------------------------------------------- the pool is the draw's pool

    /// Any mix of prices, full capacity, leaving nodes, non-subscribers, a node too new to be eligible and an
    /// echelon too small to check its members: the one-pass pool gives exactly the candidates the draw's rules gave.
    function testFuzz_theOnePassPoolIsTheDrawsPool(uint256 seed, uint64 units, uint128 cap) public {
        units = uint64(bound(units, 1, 2_000_000));
        cap = uint128(bound(cap, PRICE / 2, 4 * PRICE));
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            uint256 bits = uint256(keccak256(abi.encode(seed, i)));
            if (bits % 5 == 0) continue; // not subscribed
            uint128 price = bits % 3 == 0 ? 3 * PRICE : PRICE;
            uint64 capacity = (bits >> 8) % 4 == 0 ? 1_000_000 : 1e12;
            for (uint256 t = 0; t < 2; ++t) {
                vm.prank(operatorOf[nodeIds[i]]);
                tasks.subscribe(t == 0 ? plainTask : verifiedTask, nodeIds[i], price, capacity, SUB_COLLATERAL);
            }
            if ((bits >> 16) % 6 == 0) {
                vm.startPrank(operatorOf[nodeIds[i]]);
                tasks.unsubscribe(plainTask, nodeIds[i]);
                tasks.unsubscribe(verifiedTask, nodeIds[i]);
                vm.stopPrank();
            }
        }
        nextEpoch();
        // A node registered now is not eligible before the next epoch, subscribed or not.
        uint256 fresh = addNode(1);
        subscribe(plainTask, fresh, PRICE);
        subscribe(verifiedTask, fresh, PRICE);
        _assertSamePool(plainTask, units, cap);
        _assertSamePool(verifiedTask, units, cap);
    }

    /// The pool leaves out a node below its bonds (a timeout slash) exactly as the draw does: what the node
    /// registry now keeps in one slot (collateral and bonds) is read as before.
    function test_aNodeBelowItsBondsLeavesThePool() public {
        for (uint256 i = 0; i < 6; ++i) subscribe(plainTask, nodeIds[i], PRICE);
        uint256 victim = nodeIds[0];
        vm.prank(operatorOf[victim]);
        tasks.subscribe(verifiedTask, victim, PRICE, 1e12, SUB_COLLATERAL);
        nextEpoch();
        assertEq(nodes.bonded(victim), 2 * SUB_COLLATERAL, "bonded twice");
        // Timeout slashes until its collateral is below what it bonded.
        vm.startPrank(address(settlement));
        while (nodes.getNode(victim).collateral >= 2 * SUB_COLLATERAL) nodes.slashTimeout(victim, address(0));
        vm.stopPrank();
        assertTrue(!nodes.isEligible(victim), "below its bonds: not eligible");
        assertEq(_indexOf(stacks.candidatesFor(plainTask, 1_000, PRICE), victim), type(uint256).max, "not offered");
        _assertSamePool(plainTask, 1_000, PRICE);
    }

    // ---------------------------------------------------------------- attacks on a drawn purchase

    function _subscribeAll(uint256 taskId, uint256 count) internal {
        for (uint256 i = 0; i < count; ++i) subscribe(taskId, nodeIds[i], PRICE);
    }

    /// Sybils subscribing after the purchase at a lower price, once the seed is known, are never drawn, and a
    /// caller cannot pass them in as candidates.
    function test_sybilsSubscribingAfterThePurchaseCannotBeDrawn() public {
        _subscribeAll(plainTask, 6);
        nextEpoch();
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory frozen) =
            stacks.buyStack(plainTask, 1_000, type(uint128).max, 1 days);
        vm.roll(block.number + 1);
        // They register and subscribe in the draw's block (within the draw limit: a later draw is cancelled).
        StackManager.Candidate[] memory padded = new StackManager.Candidate[](frozen.length + 3);
        for (uint256 i = 0; i < frozen.length; ++i) padded[i] = frozen[i];
        for (uint256 i = 0; i < 3; ++i) {
            uint256 sybil = addNode(1);
            subscribe(plainTask, sybil, PRICE / 10);
            padded[frozen.length + i] = StackManager.Candidate({nodeId: uint64(sybil), pricePerMillion: PRICE / 10});
        }
        vm.expectRevert(abi.encodeWithSelector(StackManager.WrongCandidates.selector, stackId));
        stacks.drawNode(stackId, padded);
        uint256 drawn = stacks.drawNode(stackId, frozen);
        assertTrue(_indexOf(frozen, drawn) != type(uint256).max, "drawn among the frozen candidates");
        assertEq(stacks.getStack(stackId).pricePerMillion, PRICE, "at the price frozen with it");
    }

    /// Every candidate leaves between the purchase and the draw: the drawn one cannot serve, so the purchase is
    /// cancelled and refunded in full, to the wei, and no other candidate takes it.
    function test_aDrawnNodeThatLeftIsRefundedInFullNotReplaced() public {
        _subscribeAll(plainTask, 6);
        nextEpoch();
        uint256 before = token.balanceOf(user) + vault.balanceOf(user);
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory frozen) =
            stacks.buyStack(plainTask, 1_000, type(uint128).max, 1 days);
        uint256 locked = stacks.getStack(stackId).escrow;
        assertTrue(locked > 0, "escrow locked");
        for (uint256 i = 0; i < frozen.length; ++i) {
            vm.prank(operatorOf[frozen[i].nodeId]);
            tasks.unsubscribe(plainTask, frozen[i].nodeId);
        }
        vm.roll(block.number + 1);
        assertEq(stacks.drawNode(stackId, frozen), 0, "no node bound");
        assertTrue(stacks.getStack(stackId).status == IStackManager.StackStatus.Closed, "cancelled");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), 0, "nothing left in escrow");
        assertEq(token.balanceOf(user) + vault.balanceOf(user), before, "refunded to the wei");
        for (uint256 i = 0; i < frozen.length; ++i) {
            assertEq(tasks.getSubscription(plainTask, frozen[i].nodeId).reserved, 0, "nothing reserved");
            assertEq(nodes.getNode(frozen[i].nodeId).obligations, 0, "no obligation");
        }
    }

    /// A squatter fills every candidate's capacity after the purchase: the drawn node has no room, so the
    /// purchase is cancelled and refunded in full rather than passed to a node the squatter left room on.
    function test_capacityFilledAfterThePurchaseCancelsTheDraw() public {
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(operatorOf[nodeIds[i]]);
            tasks.subscribe(plainTask, nodeIds[i], PRICE, 1_000_000, SUB_COLLATERAL);
        }
        nextEpoch();
        uint256 before = token.balanceOf(user) + vault.balanceOf(user);
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory frozen) =
            stacks.buyStack(plainTask, 1_000_000, type(uint128).max, 1 days);
        address squatter = address(0x5A7);
        fund(squatter, 100 ether);
        vm.startPrank(squatter);
        token.approve(address(vault), type(uint256).max);
        for (uint256 i = 0; i < 3; ++i) stacks.buyStackFromNode(plainTask, nodeIds[i], 1, PRICE, 1 hours);
        vm.stopPrank();
        vm.roll(block.number + 1);
        assertEq(stacks.drawNode(stackId, frozen), 0, "no node bound");
        assertEq(token.balanceOf(user) + vault.balanceOf(user), before, "refunded to the wei");
    }

    /// Candidates at different prices: the escrow is locked at the highest and the excess over the drawn node's
    /// price (with the surcharge) goes back at once, exactly; the bound stack keeps no frozen candidates, and the
    /// draw cannot run twice.
    function test_theExcessIsReturnedExactlyAndTheBoundStackForgetsItsCandidates() public {
        for (uint256 i = 0; i < 6; ++i) subscribe(verifiedTask, nodeIds[i], PRICE + uint128(i) * 0.1 ether);
        nextEpoch();
        uint256 before = token.balanceOf(user) + vault.balanceOf(user);
        vm.prank(user);
        (uint256 stackId, StackManager.Candidate[] memory frozen) =
            stacks.buyStack(verifiedTask, 1_000_000, type(uint128).max, 1 days);
        assertTrue(stacks.getPurchase(stackId).candidatesHash != bytes32(0), "frozen while pending");
        // The surcharge the purchase locked, read while pending (a bound stack's purchase keeps only its duration
        // and minimum charge: issue 15's packing).
        uint256 surchargeBps = stacks.getPurchase(stackId).surchargeBps;
        assertEq(surchargeBps, 1_000, "the surcharge in force");
        vm.roll(block.number + 1);
        uint256 drawn = stacks.drawNode(stackId, frozen);
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        uint256 cost = uint256(stack.pricePerMillion); // 1,000,000 units: the price per million
        uint256 escrow = cost + cost * surchargeBps / 10_000;
        assertEq(stack.escrow, escrow, "escrow at the drawn node's price and the surcharge");
        assertEq(stack.pricePerMillion, frozen[_indexOf(frozen, drawn)].pricePerMillion, "its frozen price");
        assertEq(vault.escrowOf(stacks.escrowKey(stackId)), escrow, "the vault holds exactly that");
        assertEq(token.balanceOf(user) + vault.balanceOf(user), before - escrow, "the excess returned exactly");
        assertEq(stacks.getPurchase(stackId).candidatesHash, bytes32(0), "the frozen candidates are cleared");
        vm.expectRevert(abi.encodeWithSelector(StackManager.StackNotPending.selector, stackId));
        stacks.drawNode(stackId, frozen);
    }

    /// A verified purchase only offers nodes whose echelon holds the attesters and a committee: the three nodes
    /// of echelon 2 are never candidates, however cheap, and cannot be chosen by name.
    function test_aTooSmallEchelonIsNeverOffered() public {
        for (uint256 i = 0; i < 6; ++i) subscribe(verifiedTask, nodeIds[i], PRICE);
        for (uint256 i = 6; i < 9; ++i) subscribe(verifiedTask, nodeIds[i], PRICE / 10);
        nextEpoch();
        StackManager.Candidate[] memory offered = stacks.candidatesFor(verifiedTask, 1_000, type(uint128).max);
        assertEq(offered.length, 6, "the six of echelon 1");
        for (uint256 i = 6; i < 9; ++i) {
            assertEq(_indexOf(offered, nodeIds[i]), type(uint256).max, "echelon 2 is not offered");
            vm.expectRevert(abi.encodeWithSelector(StackManager.NodeNotOffered.selector, verifiedTask, nodeIds[i]));
            vm.prank(user);
            stacks.buyStackFromNode(verifiedTask, nodeIds[i], 1_000, type(uint128).max, 1 days);
        }
        // Cheaper still, only echelon 2 is under the cap: too few verifiers.
        vm.expectRevert(abi.encodeWithSelector(StackManager.TooFewVerifiers.selector, verifiedTask, 4));
        stacks.candidatesFor(verifiedTask, 1_000, PRICE / 10);
    }
}
