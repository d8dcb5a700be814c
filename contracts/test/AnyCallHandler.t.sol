// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AnyCallHandler} from "./lib/AnyCallHandler.sol";
import {TestBase} from "./lib/TestBase.sol";

/// A target whose functions take every shape of argument the contracts use; the handler must build calldata that
/// decodes for each, or the adversary would only ever reach the ABI decoder.
contract ShapesTarget {
    struct Leaf {
        uint64 units;
        bytes32[] proof;
    }

    struct Pair {
        uint256 id;
        address who;
    }

    mapping(bytes4 selector => uint256) public decoded;

    function statics(uint256, uint64, address, bool, bytes32, bytes4, int256) external {
        ++decoded[msg.sig];
    }

    function dynamics(bytes calldata, string calldata, uint256[] calldata, bytes32[3] calldata) external {
        ++decoded[msg.sig];
    }

    function tuples(Leaf[] calldata, Leaf calldata, Pair calldata, Pair[2] calldata) external {
        ++decoded[msg.sig];
    }

    function nothing() external {
        ++decoded[msg.sig];
    }
}

contract AnyCallHandlerTest is TestBase {
    function test_everyArgumentShapeDecodes() public {
        ShapesTarget target = new ShapesTarget();
        address[] memory targets = new address[](1);
        targets[0] = address(target);
        string[] memory artifacts = new string[](1);
        artifacts[0] = "out/AnyCallHandler.t.sol/ShapesTarget.json";
        address[] memory callers = new address[](1);
        callers[0] = address(0xBAD);
        AnyCallHandler handler = new AnyCallHandler(targets, artifacts, callers, callers);
        uint256 count = handler.functionCount();
        assertEq(count, 5, "every external function of the target is listed (decoded() included)");
        for (uint256 seed = 0; seed < 40; ++seed) handler.callAny(seed, 0, seed);
        assertEq(handler.calls(), 40, "calls");
        assertEq(handler.succeeded(), 40, "every call decoded");
        assertGe(target.decoded(ShapesTarget.tuples.selector), 1, "tuples reached");
        assertGe(target.decoded(ShapesTarget.dynamics.selector), 1, "dynamic arguments reached");
        assertGe(target.decoded(ShapesTarget.statics.selector), 1, "static arguments reached");
    }
}
