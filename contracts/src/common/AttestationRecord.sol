// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice How an attestation record's measurement and evidence hash are computed (`measurementHash` and
/// `evidenceHash` of the core package, checked against the same vectors). The registry stores the hashes only; this
/// library lets governance tooling and tests compute the allow-list entry from the registers on-chain.
library AttestationRecord {
    bytes32 internal constant MEASUREMENT_TAG = keccak256("AtomaMeasurement");
    bytes32 internal constant EVIDENCE_TAG = keccak256("AtomaEvidence");
    uint256 internal constant REGISTER_BYTES = 48;

    /// A TDX register is not 48 bytes long.
    error InvalidRegister(uint256 length);

    /// keccak256(MEASUREMENT_TAG ‖ kind ‖ MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3), each register 48 bytes.
    function measurementHash(uint8 kind, bytes[5] memory registers) internal pure returns (bytes32) {
        for (uint256 i = 0; i < 5; ++i) {
            if (registers[i].length != REGISTER_BYTES) revert InvalidRegister(registers[i].length);
        }
        return keccak256(
            abi.encodePacked(
                MEASUREMENT_TAG, kind, registers[0], registers[1], registers[2], registers[3], registers[4]
            )
        );
    }

    /// keccak256(EVIDENCE_TAG ‖ kind ‖ quote).
    function evidenceHash(uint8 kind, bytes memory quote) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(EVIDENCE_TAG, kind, quote));
    }
}
