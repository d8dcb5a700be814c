// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {ModelRegistry} from "../src/registry/ModelRegistry.sol";
import {NodeRegistry} from "../src/registry/NodeRegistry.sol";
import {TaskRegistry} from "../src/registry/TaskRegistry.sol";
import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {Units} from "../src/common/Units.sol";

contract RegistryTest is AtomaFixture {
    function setUp() public {
        deployAtoma();
    }

    function test_registerPullsCollateralAndIsEligibleFromNextEpoch() public {
        uint256 before = token.balanceOf(address(nodes));
        uint256 id = addNode(1);
        assertEq(token.balanceOf(address(nodes)) - before, COLLATERAL, "collateral pulled");
        INodeRegistry.Node memory node = nodes.getNode(id);
        assertEq(node.collateral, COLLATERAL, "recorded");
        assertEq(node.reputation, 0, "a new node starts with no reputation");
        assertEq(nodes.nodeIdOfSigner(node.signer), id, "signer index");
        assertTrue(!nodes.isEligible(id), "not eligible in its registration epoch");
        nextEpoch();
        assertTrue(nodes.isEligible(id), "eligible next epoch");
    }

    function test_registerRejectsLowCollateralBadUrlAndReusedSigner() public {
        address operator = address(0xBEEF);
        uint256 key = 0x5161;
        address signer = vm.addr(key);
        bytes memory proof = signerProof(key, operator);
        vm.prank(admin);
        token.transfer(operator, COLLATERAL * 3);
        vm.startPrank(operator);
        token.approve(address(nodes), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.CollateralTooLow.selector, COLLATERAL - 1, COLLATERAL));
        nodes.register(signer, "http://x", 1, COLLATERAL - 1, proof);
        vm.expectRevert(NodeRegistry.InvalidUrl.selector);
        nodes.register(signer, "", 1, COLLATERAL, proof);
        nodes.register(signer, "http://x", 1, COLLATERAL, proof);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.SignerInUse.selector, signer, 1));
        nodes.register(signer, "http://y", 1, COLLATERAL, proof);
        vm.stopPrank();
    }

    function _drawOne(uint256 taskId, bool checking) internal view returns (uint256) {
        return tasks.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: type(uint32).max,
                count: type(uint256).max,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: new uint256[](0),
                seed: 0,
                checking: checking
            })
        ).length;
    }

    /// Leaving a task takes the exit notice: no new work at once, still a checking candidate with its bond until
    /// the notice ends; subscribing again cancels it. Deregistering needs every exit complete, and the collateral
    /// waits the notice again.
    function test_leavingTakesTheExitNoticeAndCollateralWaitsItAgain() public {
        uint256 id = addNode(1);
        uint256 t1 = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        uint256 t2 = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t1, id, PRICE);
        subscribe(t2, id, PRICE);
        nextEpoch();
        assertEq(tasks.tasksOf(id).length, 2, "two subscriptions");
        vm.startPrank(operatorOf[id]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.SubscriptionsLeft.selector, id, 2 * SUB_COLLATERAL));
        nodes.deregister(id);
        tasks.unsubscribe(t1, id);
        uint64 exitAt = uint64(block.timestamp + EXIT_NOTICE);
        ITaskRegistry.Subscription memory sub = tasks.getSubscription(t1, id);
        assertTrue(!sub.active, "no new work");
        assertEq(sub.exitAt, exitAt, "leaving until the notice ends");
        assertEq(sub.collateral, SUB_COLLATERAL, "its bond in place");
        assertEq(_drawOne(t1, false), 0, "not drawn for new work");
        assertEq(_drawOne(t1, true), 1, "still a checking candidate");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.ExitNoticeRunning.selector, t1, id, exitAt));
        tasks.completeExit(t1, id);
        // Subscribing again cancels the exit.
        tasks.subscribe(t1, id, PRICE, 1e12, SUB_COLLATERAL);
        assertEq(tasks.getSubscription(t1, id).exitAt, 0, "cancelled");
        assertEq(_drawOne(t1, false), 1, "offered again");
        assertEq(nodes.bonded(id), 2 * SUB_COLLATERAL, "bonded once");
        tasks.unsubscribe(t1, id);
        tasks.unsubscribe(t2, id);
        vm.stopPrank();
        vm.warp(block.timestamp + EXIT_NOTICE - 1);
        assertEq(_drawOne(t1, true), 1, "a checking candidate to the last second");
        vm.warp(block.timestamp + 1);
        assertEq(_drawOne(t1, true), 0, "then not even that");
        // Anyone completes an exit whose notice is over.
        tasks.completeExit(t1, id);
        tasks.completeExit(t2, id);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NotLeaving.selector, t1, id));
        tasks.completeExit(t1, id);
        assertEq(tasks.tasksOf(id).length, 0, "unsubscribed from everything");
        assertEq(tasks.subscribersOf(t1).length, 0, "task lost its subscriber");
        assertEq(nodes.bonded(id), 0, "bonds released");
        vm.startPrank(operatorOf[id]);
        nodes.deregister(id);
        vm.expectRevert(
            abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, id, block.timestamp + EXIT_NOTICE)
        );
        nodes.withdrawCollateral(id);
        vm.warp(block.timestamp + EXIT_NOTICE - 1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, id, block.timestamp + 1));
        nodes.withdrawCollateral(id);
        vm.warp(block.timestamp + 1);
        uint256 before = token.balanceOf(operatorOf[id]);
        nodes.withdrawCollateral(id);
        assertEq(token.balanceOf(operatorOf[id]) - before, COLLATERAL, "collateral returned");
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NothingToWithdraw.selector, id));
        nodes.withdrawCollateral(id);
        vm.stopPrank();
    }

    /// A stack still open keeps the collateral, and the notice starts again when its obligation ends.
    function test_collateralStaysWhileAStackIsPending() public {
        uint256 id = addNode(1);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t, id, PRICE);
        nextEpoch();
        (uint256 stackId,) = buy(t, 1_000);
        vm.prank(operatorOf[id]);
        tasks.unsubscribe(t, id);
        vm.warp(block.timestamp + EXIT_NOTICE);
        tasks.completeExit(t, id);
        vm.prank(operatorOf[id]);
        nodes.deregister(id);
        vm.warp(block.timestamp + EXIT_NOTICE);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.ObligationsPending.selector, id, 1));
        vm.prank(operatorOf[id]);
        nodes.withdrawCollateral(id);
        settlement.timeoutSettlement(stackId);
        vm.expectRevert(
            abi.encodeWithSelector(NodeRegistry.WithdrawalTooEarly.selector, id, block.timestamp + EXIT_NOTICE)
        );
        vm.prank(operatorOf[id]);
        nodes.withdrawCollateral(id);
    }

    function test_topUpAndOnlyOperatorManages() public {
        uint256 id = addNode(1);
        vm.prank(operatorOf[id]);
        nodes.topUp(id, 5 ether);
        assertEq(nodes.getNode(id).collateral, COLLATERAL + 5 ether, "topped up");
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotNodeOperator.selector, id, address(this)));
        nodes.deregister(id);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotNodeOperator.selector, id, address(this)));
        nodes.setUrl(id, "http://evil");
    }

    function test_governanceBoundsAndRoles() public {
        NodeRegistry.Params memory p;
        (p.minCollateral, p.honestReward, p.timeoutPenalty, p.timeoutSlashBps,,,,,) = nodes.params();
        p.timeoutSlashBps = 6_000;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "timeoutSlashBps", 6_000));
        nodes.setParams(p);
        vm.expectRevert();
        nodes.setParams(p);
        vm.expectRevert();
        nodes.slashFraud(1, user, new uint256[](0));
    }

    function test_modelMismatchReportsDisableAfterThreshold() public {
        uint256 a = addNode(1);
        uint256 b = addNode(1);
        vm.prank(operatorOf[a]);
        models.reportWeightsMismatch(MODEL, a);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyReported.selector, MODEL, a));
        vm.prank(operatorOf[a]);
        models.reportWeightsMismatch(MODEL, a);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotNodeActor.selector, b, address(this)));
        models.reportWeightsMismatch(MODEL, b);
        assertTrue(models.isActive(MODEL), "one report is not enough");
        vm.prank(vm.addr(signerKey[b]));
        models.reportWeightsMismatch(MODEL, b);
        assertTrue(!models.isActive(MODEL), "disabled after K distinct reports");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.ModelNotActive.selector, MODEL));
        createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        vm.prank(admin);
        models.enableModel(MODEL);
        assertTrue(models.isActive(MODEL), "governance re-enables");
        vm.prank(operatorOf[a]);
        models.reportWeightsMismatch(MODEL, a);
        assertEq(models.getModel(MODEL).mismatchReports, 1, "a new round of reports");
    }

    function test_modelRegistrationRulesAndRetirement() public {
        vm.startPrank(modelOwner);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.ModelExists.selector, MODEL));
        models.registerModel(MODEL, keccak256("w"), 100, 1_000 ether, "");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.FeeTooHigh.selector, 3_000, 2_000));
        models.registerModel(keccak256("m2"), keccak256("w"), 3_000, 1_000 ether, "");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.CollateralTooLow.selector, 1, 1_000 ether));
        models.registerModel(keccak256("m2"), keccak256("w"), 100, 1, "");
        models.retireModel(MODEL);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.WrongModelStatus.selector, MODEL, IModelRegistry.ModelStatus.Retired));
        models.withdrawCollateral(MODEL);
        vm.warp(block.timestamp + EPOCH);
        uint256 before = token.balanceOf(modelOwner);
        models.withdrawCollateral(MODEL);
        assertEq(token.balanceOf(modelOwner) - before, 1_000 ether, "collateral back");
        vm.stopPrank();
    }

    function test_whitelistRequiredKeepsModelsPending() public {
        vm.prank(admin);
        models.setParams(ModelRegistry.Params({minCollateral: 0, maxFeeBps: 2_000, mismatchThreshold: 2, whitelistRequired: true}));
        bytes32 id = keccak256("pending-model");
        vm.prank(modelOwner);
        models.registerModel(id, keccak256("w"), 0, 0, "");
        assertTrue(!models.isActive(id), "pending");
        vm.prank(admin);
        models.whitelistModel(id);
        assertTrue(models.isActive(id), "whitelisted");
    }

    function test_tasksValidateSecurityParameters() public {
        // Confidential tasks take no sampling parameters: the attestation stands in for them.
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.InvalidVerification.selector, 8_000, 1, 4));
        createTask(ITaskRegistry.SecurityLevel.Confidential, 8_000, 1, 4);
        uint256 c = createTask(ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0);
        assertEq(uint256(tasks.getTask(c).securityLevel), 3, "level 3 recorded");
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.InvalidVerification.selector, 0, 1, 1));
        createTask(ITaskRegistry.SecurityLevel.CrossValidation, 0, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.InvalidVerification.selector, 5, 0, 0));
        createTask(ITaskRegistry.SecurityLevel.None, 5, 0, 0);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 8_000, 1, 4);
        assertEq(tasks.getTask(t).replicationPpm, 8_000, "p recorded");
    }

    function test_subscriptionsUpdateAndLeave() public {
        uint256 id = addNode(1);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t, id, PRICE);
        vm.startPrank(operatorOf[id]);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.AlreadySubscribed.selector, t, id));
        tasks.subscribe(t, id, PRICE, 10, SUB_COLLATERAL);
        tasks.updateSubscription(t, id, 3 ether, 99);
        assertEq(tasks.getSubscription(t, id).pricePerMillion, 3 ether, "new price");
        tasks.unsubscribe(t, id);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NotSubscribed.selector, t, id));
        tasks.unsubscribe(t, id);
        vm.stopPrank();
    }

    function test_governanceForfeitsADisabledModelsCollateral() public {
        vm.startPrank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.WrongModelStatus.selector, MODEL, IModelRegistry.ModelStatus.Active)
        );
        models.forfeitCollateral(MODEL, treasury);
        models.disableModel(MODEL);
        models.forfeitCollateral(MODEL, treasury);
        vm.stopPrank();
        assertEq(token.balanceOf(treasury), 1_000 ether, "collateral to the treasury");
    }

    function test_deactivatedTasksTakeNoNewStacksOrSubscriptions() public {
        uint256 id = addNode(1);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t, id, PRICE);
        nextEpoch();
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.NotTaskCreator.selector, t, address(0xBAD)));
        tasks.deactivateTask(t);
        tasks.deactivateTask(t);
        vm.prank(user);
        vm.expectRevert();
        stacks.buyStack(t, 1_000, PRICE, 1 days);
        vm.prank(operatorOf[id]);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.TaskInactive.selector, t));
        tasks.subscribe(t, id, PRICE, 1, SUB_COLLATERAL);
    }

    function test_stacksAreBoundedAndNeedAnEligibleNode() public {
        uint256 id = addNode(1);
        uint256 t = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        subscribe(t, id, PRICE);
        vm.startPrank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, t));
        stacks.buyStack(t, 1_000, PRICE, 1 days);
        nextEpoch();
        vm.expectRevert(abi.encodeWithSelector(StackManager.InvalidUnits.selector, 0, 1e12));
        stacks.buyStack(t, 0, PRICE, 1 days);
        vm.expectRevert(abi.encodeWithSelector(StackManager.InvalidDuration.selector, 10));
        stacks.buyStack(t, 1_000, PRICE, 10);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, t));
        stacks.buyStack(t, 1_000, PRICE - 1, 1 days);
        vm.stopPrank();
        vm.prank(operatorOf[id]);
        tasks.updateSubscription(t, id, PRICE, 1_500);
        (uint256 stackId, uint256 nodeId) = buyAs(user, t, 1_000, PRICE);
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(StackManager.NoEligibleNode.selector, t));
        stacks.buyStack(t, 1_000, PRICE, 1 days);
        assertEq(nodeId, id, "the eligible node");
        assertEq(tasks.getSubscription(t, id).reserved, 1_000, "capacity reserved: no room for a second stack");
        assertEq(stacks.getStack(stackId).escrow, Units.cost(1_000, PRICE), "escrow");
    }
}
