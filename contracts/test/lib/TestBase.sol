// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice A small base for forge tests: the cheatcode handle, assertions that revert with both values, and
/// `bound` for fuzz inputs. Invariant targets are declared with `targetContract`.
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    address[] private _targetContracts;

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    function fail(string memory message) internal pure {
        revert(message);
    }

    function assertTrue(bool condition, string memory message) internal pure {
        if (!condition) revert(message);
    }

    function assertEq(uint256 left, uint256 right, string memory message) internal pure {
        if (left != right) revert(string.concat(message, ": ", vm.toString(left), " != ", vm.toString(right)));
    }

    function assertEq(bytes32 left, bytes32 right, string memory message) internal pure {
        if (left != right) revert(string.concat(message, ": ", vm.toString(left), " != ", vm.toString(right)));
    }

    function assertEq(address left, address right, string memory message) internal pure {
        if (left != right) revert(string.concat(message, ": ", vm.toString(left), " != ", vm.toString(right)));
    }

    function assertGe(uint256 left, uint256 right, string memory message) internal pure {
        if (left < right) revert(string.concat(message, ": ", vm.toString(left), " < ", vm.toString(right)));
    }

    function assertLe(uint256 left, uint256 right, string memory message) internal pure {
        if (left > right) revert(string.concat(message, ": ", vm.toString(left), " > ", vm.toString(right)));
    }

    /// Maps any fuzzed `x` into [min, max] (inclusive) without discarding runs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        return min + (x % (max - min + 1));
    }
}
