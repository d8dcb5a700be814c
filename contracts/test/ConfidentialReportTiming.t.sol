// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// A statement for evidence the node has not posted is a lie only once the node can no longer post it: after the
/// statement's epoch. Reporting (or refunding) earlier is refused with `EpochNotOver`.
contract ConfidentialReportTimingTest is ConfidentialSteps {
    uint256 internal honest;
    address internal griefer = address(0x6121EF);

    function setUp() public {
        deployConfidential();
        honest = addNode(0);
    }

    function statement(uint256 nodeId, uint64 epoch, bytes32 evidenceHash) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(signerKey[nodeId], attestations.servedEvidenceDigest(nodeId, epoch, evidenceHash));
        return abi.encodePacked(r, s, v);
    }

    /// Griefer: takes an honest node's statement for the current epoch's evidence as soon as it is served (signed
    /// before its post landed, or the post is still in the mempool) and reports it before the node posts. Refused;
    /// the node posts within its epoch and the statement is true for good.
    function test_aStatementForTheCurrentEpochCannotBeReportedBeforeItEnds() public {
        uint64 epoch = currentEpoch();
        bytes32 evidence = keccak256("the quote this epoch");
        bytes memory signed = statement(honest, epoch, evidence);
        vm.prank(griefer);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EpochNotOver.selector, epoch, uint256(epoch)));
        attestations.reportUnposted(honest, epoch, evidence, signed);
        // The node posts that very evidence later in the same epoch.
        vm.warp(block.timestamp + nodes.EPOCH_LENGTH() - 2);
        assertEq(currentEpoch(), epoch, "same epoch");
        vm.prank(operatorOf[honest]);
        attestations.post(
            honest, AttestationRegistry.Kind.Tdx, epoch, evidence, bytes32("k"), GOOD, uint64(block.timestamp + 1 hours),
            false
        );
        vm.warp(block.timestamp + 3 * nodes.EPOCH_LENGTH());
        vm.prank(griefer);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidencePosted.selector, honest, evidence));
        attestations.reportUnposted(honest, epoch, evidence, signed);
        assertEq(uint8(nodes.getNode(honest).status), uint8(INodeRegistry.NodeStatus.Active), "untouched");
    }

    /// Griefer: a statement naming a future epoch (the node cannot have posted for it yet) is refused as well.
    function test_aStatementForAFutureEpochIsRefused() public {
        uint64 epoch = currentEpoch();
        bytes32 evidence = keccak256("next epoch's quote");
        bytes memory signed = statement(honest, epoch + 1, evidence);
        vm.prank(griefer);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EpochNotOver.selector, epoch + 1, uint256(epoch)));
        attestations.reportUnposted(honest, epoch + 1, evidence, signed);
    }

    /// A refund of the current epoch waits as well: the lie is not proven yet.
    function test_aRefundForTheCurrentEpochWaits() public {
        uint64 epoch = currentEpoch();
        bytes32 evidence = keccak256("unposted yet");
        bytes memory signed = statement(honest, epoch, evidence);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EpochNotOver.selector, epoch, uint256(epoch)));
        attestations.refundUnposted(honest, epoch, evidence, signed, 1);
    }

    /// Once the epoch is over, an unposted hash is a lie: the node is revoked and slashed.
    function test_afterTheEpochAnUnpostedHashIsSlashed() public {
        uint64 epoch = currentEpoch();
        attest(honest);
        bytes32 evidence = keccak256("served, never posted");
        bytes memory signed = statement(honest, epoch, evidence);
        vm.warp(block.timestamp + nodes.EPOCH_LENGTH());
        vm.prank(griefer);
        assertTrue(attestations.reportUnposted(honest, epoch, evidence, signed) > 0, "slashed");
    }

    /// Fuzz: at any time within the statement's epoch or before it, an unposted hash cannot be reported; from the
    /// next epoch's first second it can.
    function testFuzz_reportWaitsForTheEpochsEnd(uint256 into, uint8 ahead, bytes32 evidence) public {
        uint64 epoch = currentEpoch() + uint64(ahead % 3);
        uint256 length = nodes.EPOCH_LENGTH();
        uint256 start = nodes.GENESIS() + uint256(epoch) * length;
        into = bound(into, 0, length - 1);
        if (start + into > block.timestamp) vm.warp(start + into);
        bytes memory signed = statement(honest, epoch, evidence);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EpochNotOver.selector, epoch, uint256(epoch)));
        attestations.reportUnposted(honest, epoch, evidence, signed);
        vm.warp(start + length);
        assertTrue(attestations.reportUnposted(honest, epoch, evidence, signed) > 0, "slashed once over");
    }
}
