// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the task registry needs of the attestation registry (security level 3, confidential compute).
interface IAttestationRegistry {
    /// Whether `nodeId` may serve confidential task `taskId` of model `modelId` now: a current record whose
    /// measurement governance allowed for the task or its model, of the TDX kind or of the dev kind where
    /// governance allowed it.
    function accepts(uint256 taskId, bytes32 modelId, uint256 nodeId) external view returns (bool);
    /// As `accepts`, but reverts with the reason (`NoAttestation`, `AttestationExpired`, `MeasurementNotAllowed`,
    /// `DevKindRefused`) instead of returning false.
    function check(uint256 taskId, bytes32 modelId, uint256 nodeId) external view;
}
