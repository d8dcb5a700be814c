// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Prices are per 1,000,000 compute units; costs round up (`costOfUnits` in @atoma/core).
library Units {
    uint256 internal constant PER_PRICE = 1_000_000;

    function cost(uint256 units, uint256 pricePerMillion) internal pure returns (uint256) {
        return (units * pricePerMillion + PER_PRICE - 1) / PER_PRICE;
    }
}
