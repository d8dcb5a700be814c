// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {TaskRegistry} from "../src/registry/TaskRegistry.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// @notice Tasks that require GPU evidence: only nodes whose record declares it subscribe, are drawn or are bought
/// from; requiring it later lets anyone drop the others' subscriptions; only governance sets it.
contract ConfidentialGpuTest is ConfidentialSteps {
    uint256 internal a;
    uint256 internal b;

    function setUp() public {
        deployConfidential();
        a = addNode(0);
        b = addNode(0);
    }

    function test_aGpuTaskSubscribesOnlyNodesDeclaringGpuEvidence() public {
        vm.prank(admin);
        attestations.setGpuRequired(confidential, true);
        attest(a, AttestationRegistry.Kind.Tdx, GOOD, VALIDITY, false);
        vm.prank(operatorOf[a]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.GpuEvidenceRequired.selector, confidential, a));
        tasks.subscribe(confidential, a, PRICE, 1e12, SUB_COLLATERAL);
        assertEq(uint256(attestations.standing(confidential, MODEL, a)), uint256(AttestationRegistry.Standing.Gpu), "standing Gpu");
        // Re-attested with GPU evidence, it subscribes.
        attest(a, AttestationRegistry.Kind.Tdx, GOOD, VALIDITY, true);
        subscribe(confidential, a, PRICE);
        assertTrue(attestations.attestationOf(a).gpu, "declared");
        // A confidential task that does not require GPUs takes a CPU-only record as before.
        uint256 cpu = createTask(ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0);
        vm.prank(admin);
        attestations.setTaskMeasurement(cpu, GOOD, true);
        attest(b, AttestationRegistry.Kind.Tdx, GOOD, VALIDITY, false);
        subscribe(cpu, b, PRICE);
    }

    function test_requiringGpusLaterStopsPurchasesAndLetsAnyoneDropTheOthers() public {
        attest(a, AttestationRegistry.Kind.Tdx, GOOD, VALIDITY, false);
        attest(b, AttestationRegistry.Kind.Tdx, GOOD, VALIDITY, true);
        subscribe(confidential, a, PRICE);
        subscribe(confidential, b, PRICE);
        nextEpoch();
        vm.prank(admin);
        attestations.setGpuRequired(confidential, true);
        // No stack from the CPU-only node, named or drawn: every draw lands on the node with GPU evidence.
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.GpuEvidenceRequired.selector, confidential, a));
        stacks.buyStackFromNode(confidential, a, 1_000, type(uint128).max, 1 days);
        for (uint256 i = 0; i < 4; ++i) {
            (, uint256 nodeId) = buy(confidential, 1_000);
            assertEq(nodeId, b, "drawn among GPU-attested nodes only");
        }
        // The CPU-only node's subscription can be dropped by anyone; the other's cannot.
        address keeper = address(0x4EE9);
        vm.startPrank(keeper);
        vm.expectRevert(abi.encodeWithSelector(TaskRegistry.AttestationCurrent.selector, confidential, b));
        tasks.dropUnattested(confidential, b);
        tasks.dropUnattested(confidential, a);
        vm.stopPrank();
        assertTrue(!tasks.getSubscription(confidential, a).active, "dropped");
        assertTrue(tasks.getSubscription(confidential, b).active, "kept");
    }

    function test_onlyGovernanceRequiresGpus() public {
        vm.prank(operatorOf[a]);
        vm.expectRevert();
        attestations.setGpuRequired(confidential, true);
        assertTrue(!attestations.gpuRequiredFor(confidential), "unchanged");
        vm.expectEmit(address(attestations));
        emit AttestationRegistry.GpuRequiredSet(confidential, true);
        vm.prank(admin);
        attestations.setGpuRequired(confidential, true);
        assertTrue(attestations.gpuRequiredFor(confidential), "required");
    }
}
