// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../../src/confidential/AttestationRegistry.sol";
import {ITaskRegistry} from "../../src/interfaces/ITaskRegistry.sol";
import {AtomaFixture} from "./AtomaFixture.sol";

/// @notice Steps shared by the confidential (security level 3) tests: a level-3 task whose measurement governance
/// allowed, and nodes posting attestation records.
abstract contract ConfidentialSteps is AtomaFixture {
    /// The measurement governance allows on the confidential task (as `measurementHash` would give it).
    bytes32 internal constant GOOD = keccak256("allowed measurement");
    bytes32 internal constant OTHER = keccak256("unknown measurement");
    uint64 internal constant VALIDITY = 2 days;

    uint256 internal confidential;
    uint256 internal evidenceCount;

    function deployConfidential() internal {
        deployAtoma();
        confidential = createTask(ITaskRegistry.SecurityLevel.Confidential, 0, 0, 0);
        vm.prank(admin);
        attestations.setTaskMeasurement(confidential, GOOD, true);
    }

    function nextEvidence() internal returns (bytes32) {
        return keccak256(abi.encode("evidence", ++evidenceCount));
    }

    function currentEpoch() internal view returns (uint64) {
        return uint64(nodes.currentEpoch());
    }

    /// The node's operator posts a fresh TDX record of `measurement` valid for `validity` seconds.
    function attest(uint256 nodeId, AttestationRegistry.Kind kind, bytes32 measurement, uint64 validity)
        internal
        returns (bytes32 evidenceHash)
    {
        return attest(nodeId, kind, measurement, validity, false);
    }

    /// The same, declaring GPU evidence or not.
    function attest(uint256 nodeId, AttestationRegistry.Kind kind, bytes32 measurement, uint64 validity, bool gpu)
        internal
        returns (bytes32 evidenceHash)
    {
        evidenceHash = nextEvidence();
        uint64 epoch = currentEpoch();
        vm.prank(operatorOf[nodeId]);
        attestations.post(
            nodeId,
            kind,
            epoch,
            evidenceHash,
            keccak256(abi.encode("x25519", nodeId, evidenceHash)),
            measurement,
            uint64(block.timestamp) + validity,
            gpu
        );
    }

    function attest(uint256 nodeId) internal returns (bytes32) {
        return attest(nodeId, AttestationRegistry.Kind.Tdx, GOOD, VALIDITY);
    }

    /// A node registered, attested and subscribed to the confidential task, eligible from the next epoch.
    function confidentialNode() internal returns (uint256 nodeId) {
        nodeId = addNode(0);
        attest(nodeId);
        subscribe(confidential, nodeId, PRICE);
    }
}
