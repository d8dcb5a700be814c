// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Private self-selection by VRF, as packages/core/src/vrf/sortition.ts computes it: the VRF input of a
/// settlement and the threshold test on a VRF output. Each node selects itself with probability
/// numerator / denominator (docs/vrf.md: p·N/n for attesters, N/n for committees).
library VrfSortition {
    /// The VRF input for `settlementId` and the hash of a block mined after the settlement was submitted;
    /// `purpose` is "atoma.vrf.attest" or "atoma.vrf.dispute".
    function seed(string memory purpose, bytes32 settlementId, bytes32 laterBlockHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(purpose, settlementId, laterBlockHash));
    }

    /// Whether output `beta` is below 2^256·numerator/denominator: the high word of beta·denominator (a 512-bit
    /// product) is below numerator.
    function isSelected(bytes32 beta, uint256 numerator, uint256 denominator) internal pure returns (bool) {
        uint256 b = uint256(beta);
        uint256 lo;
        uint256 hi;
        assembly ("memory-safe") {
            let mm := mulmod(b, denominator, not(0))
            lo := mul(b, denominator)
            hi := sub(sub(mm, lo), lt(mm, lo))
        }
        return hi < numerator;
    }
}
