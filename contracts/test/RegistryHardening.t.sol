// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {NodeRegistry} from "../src/registry/NodeRegistry.sol";
import {SignerBinding} from "../src/registry/SignerBinding.sol";
import {TaskRegistry} from "../src/registry/TaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaToken} from "../src/token/AtomaToken.sol";
import {EmissionSchedule, IMintable} from "../src/token/EmissionSchedule.sol";
import {IAtomaVault} from "../src/interfaces/IAtomaVault.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice The registry's defences, each played as the attack it stops: signer squatting (issue 10, item 9),
/// echelons outside the approved ones, one stake behind unlimited subscriptions, minting outside the emission
/// schedule (item 10), reputation reset by re-registering (item 20), and timeout shares without a user.
contract RegistryHardeningTest is AtomaFixture {
    uint256 internal constant HONEST_KEY = 0xC0FFEE;
    address internal honestOperator = address(0x4011E57);
    address internal squatter = address(0x5C0A7);

    function setUp() public {
        deployAtoma();
        fund(honestOperator, COLLATERAL * 2);
        fund(squatter, COLLATERAL * 2);
        vm.prank(honestOperator);
        token.approve(address(nodes), type(uint256).max);
        vm.prank(squatter);
        token.approve(address(nodes), type(uint256).max);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    // ---------------------------------------------------------------- item 9: signer squatting

    function test_squatterCannotRegisterASignerItDoesNotControl() public {
        address signer = vm.addr(HONEST_KEY);
        bytes memory bad = abi.encodeWithSelector(NodeRegistry.InvalidSignerProof.selector, signer);
        vm.startPrank(squatter);
        // No proof, the squatter's own signature, and a proof of the same key binding another chain or registry.
        vm.expectRevert(bad);
        nodes.register(signer, "http://squat", 1, COLLATERAL, "");
        vm.expectRevert(bad);
        nodes.register(signer, "http://squat", 1, COLLATERAL, signerProof(0x5C0A7, squatter));
        vm.expectRevert(bad);
        nodes.register(signer, "http://squat", 1, COLLATERAL, _sign(HONEST_KEY, SignerBinding.digest(1, address(nodes), squatter)));
        vm.expectRevert(bad);
        nodes.register(signer, "http://squat", 1, COLLATERAL, _sign(HONEST_KEY, SignerBinding.digest(block.chainid, address(tasks), squatter)));
        // The honest registration's proof, copied from the mempool: it binds the honest operator, not the squatter.
        bytes memory honestProof = signerProof(HONEST_KEY, honestOperator);
        vm.expectRevert(bad);
        nodes.register(signer, "http://squat", 1, COLLATERAL, honestProof);
        vm.stopPrank();
        assertEq(nodes.nodeIdOfSigner(signer), 0, "the key is still free");
        assertEq(token.balanceOf(squatter), COLLATERAL * 2, "the squatter's failed attempts cost it no collateral");

        vm.prank(honestOperator);
        uint256 id = nodes.register(signer, "http://honest", 1, COLLATERAL, honestProof);
        assertEq(nodes.nodeIdOfSigner(signer), id, "the key holder's operator registered it");
        assertEq(nodes.signerOf(id), signer, "signer");
        assertEq(nodes.operatorOf(id), honestOperator, "operator");
    }

    // ---------------------------------------------------------------- item 10: echelons fail closed

    function test_unapprovedEchelonsAdmitNobodyAndRevokingOneStopsItsNodes() public {
        uint256 key = 0xEC4E;
        vm.prank(squatter);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.EchelonNotApproved.selector, 7));
        nodes.register(vm.addr(key), "http://x", 7, COLLATERAL, signerProof(key, squatter));

        vm.startPrank(admin);
        vm.expectRevert(NodeRegistry.InvalidFingerprint.selector);
        nodes.approveEchelon(7, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidEchelon.selector, type(uint32).max));
        nodes.approveEchelon(type(uint32).max, keccak256("any"));
        vm.stopPrank();
        vm.prank(squatter);
        vm.expectRevert();
        nodes.approveEchelon(7, keccak256("mine"));

        uint256 a = addNode(2);
        uint256 b = addNode(2);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t, a, PRICE);
        nextEpoch();
        assertTrue(nodes.isEligible(a), "eligible in an approved echelon");
        vm.prank(admin);
        nodes.revokeEchelon(2);
        assertEq(nodes.echelonFingerprint(2), bytes32(0), "revoked");
        assertTrue(!nodes.isEligible(a), "a revoked echelon's nodes are not eligible");
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, t));
        stacks.buyStack(t, 1_000, PRICE, 1 days);
        vm.prank(operatorOf[b]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.EchelonNotApproved.selector, 2));
        tasks.subscribe(t, b, PRICE, 1e12, SUB_COLLATERAL);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.EchelonNotApproved.selector, 2));
        nodes.revokeEchelon(2);
    }

    // ---------------------------------------------------------------- item 12: a fingerprint per echelon

    function test_eachEchelonRecordsItsFingerprintAndNodesMoveOnlyWhenIdle() public {
        uint256 a = addNode(1);
        assertEq(nodes.fingerprintOf(a), echelonFingerprint(1), "the node's echelon's fingerprint");
        bytes32 upgraded = keccak256("llama.cpp b9999, avx512");
        vm.prank(admin);
        nodes.approveEchelon(9, upgraded);
        assertEq(nodes.echelonFingerprint(9), upgraded, "recorded");

        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t, a, PRICE);
        nextEpoch();
        buy(t, 1_000);
        vm.startPrank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.ObligationsPending.selector, a, 1));
        nodes.setEchelon(a, 9);
        vm.stopPrank();

        uint256 b = addNode(1);
        vm.startPrank(operatorOf[b]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.EchelonNotApproved.selector, 5));
        nodes.setEchelon(b, 5);
        nodes.setEchelon(b, 9);
        vm.stopPrank();
        assertEq(nodes.echelonOf(b), 9, "moved");
        assertEq(nodes.fingerprintOf(b), upgraded, "and answers to the new fingerprint");
        // Moving takes a node out of its echelon's checking pool, as leaving does: not while it is subscribed.
        uint256 c = addNode(1);
        subscribe(t, c, PRICE);
        vm.prank(operatorOf[c]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.SubscriptionsLeft.selector, c, SUB_COLLATERAL));
        nodes.setEchelon(c, 9);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotNodeOperator.selector, b, address(this)));
        nodes.setEchelon(b, 1);
    }

    // ---------------------------------------------------------------- item 10: per-subscription collateral

    /// A fraud slash costs the same however many tasks the node serves (a call that slashes many nodes must fit a
    /// block): draws skip the barred node at once, and anyone removes its subscriptions later, never an active
    /// node's.
    function test_aFraudSlashIsConstantCostAndItsSubscriptionsAreRemovedByAnyone() public {
        uint256 few = addNode(1);
        uint256 many = addNode(1);
        uint256 peer = addNode(1);
        uint256[] memory ts = new uint256[](3);
        for (uint256 i = 0; i < ts.length; ++i) {
            ts[i] = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
            vm.prank(operatorOf[many]);
            tasks.subscribe(ts[i], many, PRICE, 1e12, 1_000 ether);
            subscribe(ts[i], peer, PRICE * 2);
        }
        vm.prank(operatorOf[few]);
        tasks.subscribe(ts[0], few, PRICE, 1e12, 1_000 ether);
        nextEpoch();
        vm.startPrank(address(disputes));
        uint256 before = gasleft();
        nodes.slashFraud(few, user, new uint256[](0));
        uint256 one = before - gasleft();
        before = gasleft();
        nodes.slashFraud(many, user, new uint256[](0));
        uint256 three = before - gasleft();
        vm.stopPrank();
        assertLe(three, one + 5_000, "no cost per subscription");
        ITaskRegistry.Draw memory d = ITaskRegistry.Draw({
            taskId: ts[1],
            echelon: type(uint32).max,
            count: type(uint256).max,
            maxPrice: type(uint256).max,
            units: 0,
            exclude: new uint256[](0),
            seed: 0,
            checking: true
        });
        uint256[] memory drawn = tasks.draw(d);
        assertEq(drawn.length, 1, "the barred node is skipped at once");
        assertEq(drawn[0], peer, "only the peer");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NotBarred.selector, peer));
        tasks.removeBarred(ts[1], peer);
        for (uint256 i = 0; i < ts.length; ++i) tasks.removeBarred(ts[i], many);
        assertEq(tasks.tasksOf(many).length, 0, "removed by a stranger");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NotSubscribed.selector, ts[0], many));
        tasks.removeBarred(ts[0], many);
    }

    function test_oneStakeCannotBackUnlimitedSubscriptions() public {
        uint256 id = addNode(1);
        uint256[] memory ts = new uint256[](5);
        for (uint256 i = 0; i < 5; ++i) ts[i] = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        vm.startPrank(operatorOf[id]);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.SubscriptionCollateralTooLow.selector, 99 ether, 100 ether));
        tasks.subscribe(ts[0], id, PRICE, 1e12, 99 ether);
        for (uint256 i = 0; i < 4; ++i) tasks.subscribe(ts[i], id, PRICE, 1e12, SUB_COLLATERAL);
        assertEq(nodes.bonded(id), COLLATERAL, "the whole stake is bonded");
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.CollateralNotFree.selector, id, 100 ether, 0));
        tasks.subscribe(ts[4], id, PRICE, 1e12, 100 ether);
        tasks.unsubscribe(ts[0], id);
        // A leaving subscription keeps its bond for the exit notice.
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.CollateralNotFree.selector, id, 100 ether, 0));
        tasks.subscribe(ts[4], id, PRICE, 1e12, 100 ether);
        vm.warp(block.timestamp + EXIT_NOTICE);
        tasks.completeExit(ts[0], id);
        tasks.subscribe(ts[4], id, PRICE, 1e12, 100 ether);
        tasks.setSubscriptionCollateral(ts[4], id, SUB_COLLATERAL);
        assertEq(tasks.getSubscription(ts[4], id).collateral, SUB_COLLATERAL, "raised");
        vm.stopPrank();
        assertEq(nodes.bonded(id), COLLATERAL, "bonded again in full");

        // A timeout slash leaves the stake short of its bonds: no new work until the node tops up.
        nextEpoch();
        assertTrue(nodes.isEligible(id), "eligible");
        vm.prank(address(settlement));
        nodes.slashTimeout(id, user);
        assertTrue(!nodes.isEligible(id), "its bonds are no longer backed");
        // Short of its bonds, every subscription is on exit notice (it checks until the notice ends).
        uint256[] memory left = tasks.tasksOf(id);
        for (uint256 i = 0; i < left.length; ++i) assertTrue(!tasks.getSubscription(left[i], id).active, "on notice");
        vm.prank(operatorOf[id]);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NodeUnderfunded.selector, id));
        tasks.subscribe(left[0], id, PRICE, 1e12, SUB_COLLATERAL);
        vm.prank(operatorOf[id]);
        nodes.topUp(id, COLLATERAL / 10);
        assertTrue(nodes.isEligible(id), "backed again");
        vm.prank(operatorOf[id]);
        tasks.subscribe(left[0], id, PRICE, 1e12, SUB_COLLATERAL);
        assertTrue(tasks.getSubscription(left[0], id).active, "topped up, it cancels the notice");

        // Leaving every task releases every bond once the notices end; then the node may deregister.
        vm.startPrank(operatorOf[id]);
        tasks.unsubscribe(left[0], id);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.SubscriptionsLeft.selector, id, COLLATERAL));
        nodes.deregister(id);
        vm.warp(block.timestamp + EXIT_NOTICE);
        for (uint256 i = 0; i < left.length; ++i) tasks.completeExit(left[i], id);
        assertEq(nodes.bonded(id), 0, "nothing bonded once every exit is complete");
        nodes.deregister(id);
        vm.stopPrank();
    }

    function test_aStackIsAssignedOnlyWithinItsSubscriptionsCollateral() public {
        uint256 id = addNode(1);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        vm.prank(operatorOf[id]);
        tasks.subscribe(t, id, 1 ether, 1e12, 100 ether); // 100 TOMA backs 100M units at 1 TOMA per million
        nextEpoch();
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, t));
        stacks.buyStack(t, 100_000_001, 1 ether, 1 days);
        (uint256 stackId,) = buyAs(user, t, 60_000_000, 1 ether);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, t));
        stacks.buyStack(t, 60_000_000, 1 ether, 1 days);
        assertEq(stacks.getStack(stackId).escrow, 60 ether, "the first stack");
        vm.prank(operatorOf[id]);
        tasks.setSubscriptionCollateral(t, id, 200 ether);
        buyAs(user, t, 60_000_000, 1 ether);
        assertEq(tasks.getSubscription(t, id).reserved, 120_000_000, "both stacks within the raised bond");
    }

    // ---------------------------------------------------------------- item 10: no mint outside the schedule

    function test_theAdminCannotMintAndTheScheduleCannotBeRewired() public {
        assertEq(token.totalSupply(), GENESIS_SUPPLY, "only the genesis supply, minted once at deployment");
        assertEq(token.minter(), address(emission), "the emission schedule is the only minter");
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaToken.NotMinter.selector, admin));
        token.mint(admin, 1);
        (bool granted,) = address(token).call(
            abi.encodeWithSignature("grantRole(bytes32,address)", keccak256("MINTER_ROLE"), admin)
        );
        assertTrue(!granted, "the token has no roles to grant");
        vm.prank(admin);
        vm.expectRevert(AtomaAccess.AlreadyWired.selector);
        emission.wire(IMintable(address(token)), IAtomaVault(address(vault)), INodeRegistry(address(nodes)));
        assertEq(token.totalSupply(), GENESIS_SUPPLY, "unchanged");

        // A schedule that is not the token's minter cannot be wired to it.
        vm.startPrank(admin);
        EmissionSchedule other = new EmissionSchedule(admin, emissionSchedule());
        vm.expectRevert(EmissionSchedule.WiringMismatch.selector);
        other.wire(IMintable(address(token)), IAtomaVault(address(vault)), INodeRegistry(address(nodes)));
        vm.stopPrank();
    }

    function test_scheduleBoundsAreEnforced() public {
        EmissionSchedule.Schedule memory s = emissionSchedule();
        s.maxEmissionPerBurnBps = 10_001;
        vm.expectRevert(abi.encodeWithSelector(EmissionSchedule.EmissionPerBurnAboveOne.selector, 10_001, 10_000));
        new EmissionSchedule(admin, s);
        s = emissionSchedule();
        s.maxStakeYieldBps = 1_001;
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "maxStakeYieldBps", 1_001));
        new EmissionSchedule(admin, s);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "feeBurnBps", 5_001));
        vault.setFeeBurnBps(5_001);
    }

    // ---------------------------------------------------------------- item 20: reputation

    /// Settles one honest stack of `taskId` (the buyer picks the node by the draw) and returns its node.
    function _honestStack(uint256 taskId) internal returns (uint256 server) {
        uint256 stackId;
        (stackId, server) = buy(taskId, 1_000);
        vm.prank(operatorOf[server]);
        settlement.settle(stackId, keccak256("root"), 1_000, 1, 0);
        vm.warp(block.timestamp + 1 hours + 1);
        settlement.finalize(stackId);
    }

    function test_aSlashedNodeThatReRegistersIsNotPreferredOverHonestOnes() public {
        uint256 honest = addNode(1);
        uint256 cheater = addNode(1);
        assertEq(nodes.getNode(honest).reputation, 0, "new nodes start at zero");
        uint256 open = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(open, honest, PRICE);
        nextEpoch();
        for (uint256 i = 0; i < 8; ++i) _honestStack(open);
        assertEq(nodes.getNode(honest).reputation, 8, "the honest node ramped up with honest settlements");

        // The cheater is caught and barred; its operator comes back with a fresh key and a fresh node.
        vm.prank(address(disputes));
        nodes.slashFraud(cheater, user, new uint256[](0));
        address operator = operatorOf[cheater];
        uint256 freshKey = 0xFE5E;
        fund(operator, COLLATERAL);
        vm.prank(operator);
        uint256 reborn = nodes.register(vm.addr(freshKey), "http://again", 1, COLLATERAL, signerProof(freshKey, operator));
        nodeIds.push(reborn);
        operatorOf[reborn] = operator;
        signerKey[reborn] = freshKey;
        assertEq(nodes.getNode(reborn).reputation, 0, "re-registering gives no reputation");

        // A task that asks for a track record: the newcomer cannot even subscribe, and every stack goes to the
        // honest node, none to the newcomer.
        uint256 careful = tasks.createTask(MODEL, 0, ITaskRegistry.SecurityLevel.None, 1, 0, 0, 0);
        subscribe(careful, honest, PRICE);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.ReputationTooLow.selector, reborn, 0, 1));
        subscribe(careful, reborn, PRICE / 2);
        nextEpoch();
        for (uint256 i = 0; i < 6; ++i) {
            vm.roll(block.number + 1);
            vm.prevrandao(keccak256(abi.encode("draw", i)));
            (, uint256 server) = buy(careful, 1_000);
            assertEq(server, honest, "the honest node, never the re-registered cheater");
        }
    }

    function test_reputationRampsUpAndTimeoutsTakeItBack() public {
        uint256 id = addNode(1);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t, id, PRICE);
        nextEpoch();
        for (uint256 i = 0; i < 12; ++i) _honestStack(t);
        assertEq(nodes.getNode(id).reputation, 12, "one point per honest settlement");
        vm.prank(address(settlement));
        nodes.slashTimeout(id, user);
        assertEq(nodes.getNode(id).reputation, 2, "a timeout takes ten");
    }

    // ---------------------------------------------------------------- timeout shares without a user

    function test_aSlashWithoutAUserPaysTheUsersShareToTheTreasury() public {
        uint256 id = addNode(1);
        uint256 supply = token.totalSupply();
        vm.prank(address(settlement));
        uint256 taken = nodes.slashTimeout(id, address(0));
        assertEq(taken, COLLATERAL * 500 / 10_000, "5 % of the collateral");
        assertEq(vault.balanceOf(treasury), taken * 7_500 / 10_000, "the user's half and the treasury's quarter");
        assertEq(vault.balanceOf(address(0)), 0, "nothing owed to the zero address");
        assertEq(supply - token.totalSupply(), taken - taken * 7_500 / 10_000, "the rest burned");

        uint256 left = nodes.getNode(id).collateral;
        vm.prank(address(disputes));
        nodes.slashFraud(id, address(0), new uint256[](0));
        uint256 fraudTreasury = left * (3_000 + 2_000) / 10_000;
        assertEq(vault.balanceOf(treasury), taken * 7_500 / 10_000 + fraudTreasury, "fraud: user's share to the treasury");
        assertEq(token.balanceOf(address(vault)), uint256(vault.totalEscrowed()) + vault.totalOwed(), "solvent");
    }

    // ---------------------------------------------------------------- the stake that counts

    function test_theStakeOfAnEpochIsTheLowestCollateralHeldDuringIt() public {
        uint256 id = addNode(1);
        uint256 registered = nodes.currentEpoch();
        assertEq(nodes.stakeAt(id, registered), 0, "nothing in the epoch it registered");
        nextEpoch();
        assertEq(nodes.stakeAt(id, registered + 1), COLLATERAL, "the collateral it held all epoch");
        vm.prank(operatorOf[id]);
        nodes.topUp(id, 5_000 ether);
        assertEq(nodes.stakeAt(id, registered + 1), COLLATERAL, "a late top-up does not count for this epoch");
        nextEpoch();
        assertEq(nodes.stakeAt(id, registered + 2), COLLATERAL + 5_000 ether, "it counts from the next");
        vm.prank(address(settlement));
        uint256 taken = nodes.slashTimeout(id, user);
        vm.prank(operatorOf[id]);
        nodes.topUp(id, taken);
        assertEq(nodes.stakeAt(id, registered + 2), COLLATERAL + 5_000 ether - taken, "the low point of the epoch");
        assertEq(nodes.stakeAt(id, registered + 40), COLLATERAL + 5_000 ether, "later epochs: the last value");
    }
}
