// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EcVrf} from "../vrf/EcVrf.sol";

/// @notice Exposes EcVrf for tests and for `npm run bench -- vrf`, which reads the verification gas from it.
contract VrfHarness {
    function verify(bytes calldata publicKey, bytes calldata alpha, bytes calldata proof, EcVrf.Hints calldata hints)
        external
        view
        returns (bytes32)
    {
        (uint256 x, uint256 y) = EcVrf.decodePoint(publicKey);
        return EcVrf.verify([x, y], alpha, proof, hints);
    }

    /// The output and the gas of EcVrf.verify alone, for a key already decoded (as a registry stores it).
    function measureVerify(
        uint256[2] calldata publicKey,
        bytes calldata alpha,
        bytes calldata proof,
        EcVrf.Hints calldata hints
    ) external view returns (bytes32 beta, uint256 gasUsed) {
        uint256 before = gasleft();
        beta = EcVrf.verify(publicKey, alpha, proof, hints);
        gasUsed = before - gasleft();
    }

    function proofToHash(bytes calldata proof) external view returns (bytes32) {
        return EcVrf.proofToHash(proof);
    }

    function decodePoint(bytes calldata encoded) external view returns (uint256 x, uint256 y) {
        return EcVrf.decodePoint(encoded);
    }
}
