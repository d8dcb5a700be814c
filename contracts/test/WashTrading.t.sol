// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {EmissionSchedule} from "../src/token/EmissionSchedule.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice Issue 10, item 3: emission farmed by dealing with oneself. A self-dealer creates a task on a model it
/// owns (no fee to anyone), is its only subscriber, buys stacks from itself and settles them: its fees come back
/// to it, less the burn. It is compared, over one epoch, with an honest staker of the same capital whose node
/// serves real users. The rule (docs/soundness.md, "wash trading"): every fee burns `feeBurnBps`; a node's
/// emission is at most `maxEmissionPerBurnBps` of what its fees burned (never above 1×, a bound governance cannot
/// pass) and `maxStakeYieldBps` of its stake (the lowest collateral it held in the epoch). A self-paid fee thus
/// never brings back more than it burned: the self-dealer never gains in absolute terms.
abstract contract WashTradingBase is AtomaFixture {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant CAPITAL = 20_000 ether;
    uint128 internal constant UNIT_PRICE = 1 ether; // per million units
    bytes32 internal constant WASH_MODEL = keccak256("wash-model");
    uint256 internal constant DEALER_KEY = 0xDEA1;
    uint256 internal constant HONEST_KEY = 0x40E57;
    address internal dealer = address(0xDEA1E5);
    address internal honestOperator = address(0x40E575);

    struct Outcome {
        int256 dealerGain;
        uint256 dealerEmission;
        uint256 dealerBurned;
        int256 honestGain;
        uint256 honestEmission;
        uint256 pool;
    }

    function setUpWash(uint16 burnBps) internal {
        deployAtoma();
        vm.prank(admin);
        vault.setFeeBurnBps(burnBps);
        // The self-dealer owns its model, at no fee: nothing leaks to anyone else. The model's collateral is
        // given to it on top of its capital, and left out of both sides of the comparison.
        fund(dealer, CAPITAL + 1_000 ether);
        vm.startPrank(dealer);
        token.approve(address(models), type(uint256).max);
        token.approve(address(nodes), type(uint256).max);
        token.approve(address(vault), type(uint256).max);
        models.registerModel(WASH_MODEL, keccak256("w"), 0, 1_000 ether, "");
        vm.stopPrank();
        fund(honestOperator, CAPITAL);
        vm.prank(honestOperator);
        token.approve(address(nodes), type(uint256).max);
    }

    function _register(address operator, uint256 key, uint256 stake, bytes32 model) internal returns (uint256 id, uint256 task) {
        vm.prank(operator);
        id = nodes.register(vm.addr(key), "http://n", 1, stake, signerProof(key, operator));
        task = tasks.createTask(model, 0, ITaskRegistry.SecurityLevel.None, 0, 0, 0, 0);
        vm.prank(operator);
        tasks.subscribe(task, id, UNIT_PRICE, 1e12, uint128(stake));
    }

    /// Buys `fees` worth of units on `task` as `buyer` in stacks within `perStack`, and settles each in full.
    function _trade(address buyer, uint256 task, address operator, uint256 fees, uint256 perStack) internal {
        while (fees > 0) {
            uint256 value = fees < perStack ? fees : perStack;
            fees -= value;
            (uint256 stackId,) = buyAs(buyer, task, uint64(value * 1e6 / UNIT_PRICE), UNIT_PRICE);
            vm.prank(operator);
            settlement.settle(stackId, keccak256("root"), uint64(value * 1e6 / UNIT_PRICE), 1, 0);
            vm.warp(block.timestamp + 1 hours + 1);
            settlement.finalize(stackId);
        }
    }

    function _holdings(address operator, uint256 id) internal view returns (uint256) {
        return token.balanceOf(operator) + nodes.getNode(id).collateral + vault.balanceOf(operator);
    }

    /// One epoch: the honest node stakes all of CAPITAL and earns `demand` of real users' fees; the self-dealer
    /// stakes CAPITAL − `washFees` and cycles `washFees` through stacks it buys from itself. Each side's gain is
    /// what it holds at the end (tokens, collateral, claimed fees and emission) less what it started with.
    function playEpoch(uint256 washFees, uint256 demand) internal returns (Outcome memory o) {
        (uint256 dealerNode, uint256 washTask) = _register(dealer, DEALER_KEY, CAPITAL - washFees, WASH_MODEL);
        (uint256 honestNode, uint256 honestTask) = _register(honestOperator, HONEST_KEY, CAPITAL, MODEL);
        uint256 dealerStart = _holdings(dealer, dealerNode);
        uint256 honestStart = _holdings(honestOperator, honestNode);
        nextEpoch();
        uint256 epoch = nodes.currentEpoch();
        _trade(user, honestTask, honestOperator, demand, CAPITAL / 2);
        _trade(dealer, washTask, dealer, washFees, CAPITAL - washFees);
        nextEpoch();

        uint256[] memory epochs = new uint256[](1);
        epochs[0] = epoch;
        vault.claimNodeFees(dealerNode, epochs);
        vault.claimNodeFees(honestNode, epochs);
        o.dealerEmission = emission.claimNodeEmission(dealerNode, epoch);
        o.honestEmission = emission.claimNodeEmission(honestNode, epoch);
        o.dealerBurned = vault.nodeBurned(dealerNode, epoch);
        o.pool = emission.emissionFor(epoch) * emission.nodeShareBps() / BPS;
        o.dealerGain = int256(_holdings(dealer, dealerNode)) - int256(dealerStart);
        o.honestGain = int256(_holdings(honestOperator, honestNode)) - int256(honestStart);
    }

    /// The self-dealer's best case under the rule: its emission (both caps) less what its fees burned.
    function dealerBound(uint256 washFees) internal view returns (int256) {
        uint256 burned = washFees * vault.feeBurnBps() / BPS;
        uint256 byBurn = burned * emission.maxEmissionPerBurnBps() / BPS;
        uint256 byStake = (CAPITAL - washFees) * emission.maxStakeYieldBps() / BPS;
        return int256(byBurn < byStake ? byBurn : byStake) - int256(burned);
    }

    /// The most the same capital earns in emission staked honestly (its stake cap).
    function honestCap() internal view returns (uint256) {
        return CAPITAL * emission.maxStakeYieldBps() / BPS;
    }

    function checkSelfDealingLoses(uint256 washFees, uint256 demand) internal {
        washFees = washFees / 1e12 * 1e12; // whole units at 1 TOMA per million
        Outcome memory o = playEpoch(washFees, demand);
        assertEq(uint256(o.dealerGain + int256(o.dealerBurned)), o.dealerEmission, "the dealer's fees come back less the burn");
        assertTrue(o.dealerGain == dealerBound(washFees), "the dealer gets exactly the capped emission less the burn");
        assertEq(o.honestEmission, honestCap(), "the honest node's real fees carry it to its stake cap");
        assertTrue(o.dealerGain <= 0, "the self-dealer never gets back more than its fees burned");
        assertTrue(o.dealerGain < int256(o.honestEmission), "the self-dealer earns less than the honest staker's emission alone");
        assertTrue(o.dealerGain < o.honestGain, "and less than the honest staker's fees and emission");
        assertTrue(o.dealerEmission * 10 < o.pool, "far from the epoch's node emission it used to take");
    }
}

/// At the default parameters: 5 % of every fee burned, emission at most 1× the burn and 1 % of stake per epoch.
/// The honest node's users pay 5,000 TOMA: its fees (95 %) burn 237.5 TOMA, past its 200 TOMA stake cap.
contract WashTradingTest is WashTradingBase {
    uint256 internal constant DEMAND = 5_000 ether;

    function setUp() public {
        setUpWash(500);
    }

    /// The attack as the issue played it, at the self-dealer's best split of its capital (wash fees where the
    /// two caps meet: 1 × 5 % × F = 1 % × (C − F)): its emission is exactly what it burned, so it gains nothing.
    function test_selfDealingAtItsBestSplitEarnsLessThanStakingHonestly() public {
        uint256 best = CAPITAL * 100 / (500 + 100) / 1e12 * 1e12;
        Outcome memory o = playEpoch(best, DEMAND);
        assertTrue(o.dealerEmission > 0, "it is paid emission");
        assertTrue(o.dealerGain <= 0, "but never more than its fees burned: no absolute gain");
        assertEq(o.honestEmission, honestCap(), "the honest node at its cap");
        assertTrue(o.dealerGain < int256(o.honestEmission), "less than the honest staker's emission");
        assertTrue(o.dealerGain < o.honestGain, "and less than the honest staker's fees and emission");
    }

    function testFuzz_selfDealingEarnsLessThanStakingHonestly(uint256 washFees) public {
        checkSelfDealingLoses(bound(washFees, 1 ether, CAPITAL / 2), DEMAND);
    }

    /// Governance cannot raise the emission per burn above 1×: the schedule refuses it with a named error.
    function test_emissionPerBurnAboveOneIsRefused() public {
        EmissionSchedule.Schedule memory s = emissionSchedule();
        assertEq(s.maxEmissionPerBurnBps, 10_000, "the default is 1x");
        assertEq(emission.MAX_EMISSION_PER_BURN_BPS(), 10_000, "the hard bound is 1x");
        s.maxEmissionPerBurnBps = 20_000;
        vm.expectRevert(abi.encodeWithSelector(EmissionSchedule.EmissionPerBurnAboveOne.selector, 20_000, 10_000));
        new EmissionSchedule(admin, s);
        s.maxEmissionPerBurnBps = 10_001;
        vm.expectRevert(abi.encodeWithSelector(EmissionSchedule.EmissionPerBurnAboveOne.selector, 10_001, 10_000));
        new EmissionSchedule(admin, s);
    }

    /// Without burning there is no emission to farm: a fee that burned nothing earns nothing.
    function test_noBurnNoEmission() public {
        vm.prank(admin);
        vault.setFeeBurnBps(0);
        Outcome memory o = playEpoch(5_000 ether, 4_000 ether);
        assertEq(o.dealerEmission, 0, "nothing for the dealer");
        assertEq(o.honestEmission, 0, "nor for anyone");
        assertTrue(o.dealerGain == 0, "the dealer only got its own fees back");
    }

    /// Burning keeps the vault solvent: what a settlement pays out is owed or burned, to the token.
    function testFuzz_feeBurnConserves(uint16 burnBps, uint64 used) public {
        burnBps = uint16(bound(burnBps, 0, 5_000));
        vm.prank(admin);
        vault.setFeeBurnBps(burnBps);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1, 1, 1);
        // A verified task sells only nodes whose echelon holds enough others to check them (1 attester + 3).
        for (uint256 i = 0; i < 5; ++i) subscribe(t, addNode(1), PRICE);
        nextEpoch();
        (uint256 stackId, uint256 id) = buy(t, 1_000_000_000);
        used = uint64(bound(used, 0, 1_000_000_000));
        uint256 escrow = vault.escrowOf(bytes32(stackId));
        uint256 supply = token.totalSupply();
        uint256 owed = vault.totalOwed();
        settleAs(stackId, id, keccak256("root"), used, used == 0 ? 0 : 1);
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
        uint256 burned = supply - token.totalSupply();
        uint256 epoch = nodes.currentEpoch();
        assertEq(burned, vault.nodeBurned(id, epoch) + vault.ownerBurned(modelOwner, epoch), "burned as recorded");
        assertEq(vault.totalOwed() - owed + burned, escrow, "every token of the escrow owed or burned");
        assertEq(token.balanceOf(address(vault)), uint256(vault.totalEscrowed()) + vault.totalOwed(), "solvent");
    }
}

/// At the worst parameters governance may set: emission up to 1× the burn and 10 % of stake per epoch, and
/// any burn up to its 50 % bound. A larger burn lets a fee earn more emission but costs the self-dealer as much.
contract WashTradingWorstTest is WashTradingBase {
    function emissionSchedule() internal pure override returns (EmissionSchedule.Schedule memory) {
        return EmissionSchedule.Schedule({
            initialEmission: 1_000_000 ether,
            tailEmission: 10_000 ether,
            decayBps: 9_900,
            nodeShareBps: 7_000,
            modelShareBps: 1_000,
            treasuryBps: 2_000,
            maxEmissionPerBurnBps: 10_000,
            maxStakeYieldBps: 1_000
        });
    }

    function setUp() public {
        setUpWash(5_000);
    }

    function test_selfDealingAtItsBestSplitEarnsLessThanStakingHonestly() public {
        // The caps meet where 1 × 50 % × F = 10 % × (C − F). The honest users pay 5,000 TOMA: 50 % of its 4,750
        // TOMA of fees burns past its 2,000 TOMA stake cap.
        uint256 best = CAPITAL * 1_000 / (5_000 + 1_000) / 1e12 * 1e12;
        Outcome memory o = playEpoch(best, 5_000 ether);
        assertEq(o.honestEmission, honestCap(), "the honest node at its cap");
        assertTrue(o.dealerGain <= 0, "the self-dealer gets back no more than it burned");
        assertTrue(o.dealerGain < int256(o.honestEmission), "less than the honest staker's emission");
        assertTrue(o.dealerGain < o.honestGain, "and less than its fees and emission");
    }

    function testFuzz_selfDealingEarnsLessThanStakingHonestlyAtAnyBurn(uint256 washFees, uint16 burnBps) public {
        burnBps = uint16(bound(burnBps, 500, 5_000));
        vm.prank(admin);
        vault.setFeeBurnBps(burnBps);
        // The honest node reaches its cap when 1 × burn × fees ≥ 10 % of its capital.
        uint256 demand = CAPITAL * 1_000 * BPS / uint256(burnBps) / BPS * 100 / 95 + 1 ether;
        checkSelfDealingLoses(bound(washFees, 1 ether, CAPITAL / 2), demand);
    }
}

/// Over every parameter governance may set: any emission per burn (up to its 1× bound), any stake yield (0.1 % to
/// 10 % per epoch) and any burn from 1 % to its 50 % bound. The self-dealer's gain is its emission less its burn,
/// min(m·b·F, y·(C − F)) − b·F ≤ (m − 1)·b·F ≤ 0.
contract WashTradingAnyParametersTest is WashTradingBase {
    EmissionSchedule.Schedule internal schedule;

    function emissionSchedule() internal view override returns (EmissionSchedule.Schedule memory) {
        return schedule;
    }

    function testFuzz_selfDealingEarnsLessThanStakingHonestlyAtAnyParameters(
        uint256 washFees,
        uint16 burnBps,
        uint32 perBurnBps,
        uint16 yieldBps
    ) public {
        schedule = super.emissionSchedule();
        schedule.maxEmissionPerBurnBps = uint32(bound(perBurnBps, 0, 10_000));
        schedule.maxStakeYieldBps = uint16(bound(yieldBps, 10, 1_000));
        burnBps = uint16(bound(burnBps, 100, 5_000));
        setUpWash(burnBps);
        // Demand that carries the honest node to its stake cap (its fees are 95 % of what users pay).
        uint256 m = schedule.maxEmissionPerBurnBps < 10_000 ? 10_000 : schedule.maxEmissionPerBurnBps;
        uint256 demand = CAPITAL * schedule.maxStakeYieldBps * BPS / (m * uint256(burnBps)) * 100 / 95 + 1 ether;
        washFees = bound(washFees, 1 ether, CAPITAL / 2) / 1e12 * 1e12;
        Outcome memory o = playEpoch(washFees, demand);
        assertTrue(o.dealerGain == dealerBound(washFees), "the dealer gets exactly the capped emission less the burn");
        assertTrue(o.dealerGain <= 0, "never more back than it burned");
        assertTrue(o.dealerGain < int256(honestCap()), "less than the honest staker's cap");
        if (schedule.maxEmissionPerBurnBps >= 10_000) {
            assertEq(o.honestEmission, honestCap(), "the honest node at its cap");
            assertTrue(o.dealerGain < o.honestGain, "less than the honest staker's fees and emission");
        }
    }
}

