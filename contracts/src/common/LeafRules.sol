// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What every leaf (and every node-signed response) of an honest stack satisfies: its nonce is its index,
/// and the running totals add up from zero (cum(0) = units(0), cum(k) = cum(k-1) + units(k)). A leaf or response
/// that breaks a rule is proof that the node billed what it did not serve.
library LeafRules {
    /// True when one leaf alone cannot be honest: nonce ≠ index, a total below its own units, or leaf 0 whose
    /// total is not its units.
    function brokenAlone(uint256 leafIndex, uint256 nonce, uint64 units, uint64 cumulativeUnits)
        internal
        pure
        returns (bool)
    {
        return nonce != leafIndex || cumulativeUnits < units || (leafIndex == 0 && cumulativeUnits != units);
    }

    /// True when two leaves of one stack (`a` before `b`) cannot both be honest: neighbours whose totals do not
    /// add up, or a later total below the earlier one plus the later leaf's units.
    function brokenPair(uint256 aIndex, uint64 aCumulative, uint256 bIndex, uint64 bUnits, uint64 bCumulative)
        internal
        pure
        returns (bool)
    {
        if (bIndex <= aIndex) return false;
        uint256 least = uint256(aCumulative) + bUnits;
        return bIndex == aIndex + 1 ? bCumulative != least : bCumulative < least;
    }
}
