// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// @notice Purchases on unverified and verified tasks, for `forge test --gas-report --match-path` on this file:
/// the confidential level must not make them dearer (the report in docs/confidential-chain.md); and the same on a
/// confidential task, for comparison.
contract BuyStackGasTest is ConfidentialSteps {
    uint256 internal open;
    uint256 internal verified;

    function setUp() public {
        deployConfidential();
        open = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verified = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 1, 1);
        for (uint256 i = 0; i < 6; ++i) {
            uint256 id = addNode(0);
            subscribe(open, id, PRICE);
            subscribe(verified, id, PRICE);
            attest(id);
            subscribe(confidential, id, PRICE);
        }
        nextEpoch();
    }

    function test_gas_buyStackOnUnverifiedTask() public {
        (uint256 stackId, uint256 nodeId) = buy(open, 1_000);
        assertTrue(stackId != 0 && nodeId != 0, "bought and drawn");
    }

    function test_gas_buyStackOnVerifiedTask() public {
        (uint256 stackId, uint256 nodeId) = buy(verified, 1_000);
        assertTrue(stackId != 0 && nodeId != 0, "bought and drawn");
    }

    function test_gas_buyStackOnConfidentialTask() public {
        (uint256 stackId, uint256 nodeId) = buy(confidential, 1_000);
        assertTrue(stackId != 0 && nodeId != 0, "bought and drawn");
    }

    function test_gas_dropUnattestedAll() public {
        vm.warp(block.timestamp + VALIDITY);
        tasks.dropUnattestedAll(nodeIds[0]);
        assertTrue(!tasks.getSubscription(confidential, nodeIds[0]).active, "dropped");
    }

    function test_gas_buyStackFromNodeOnUnverifiedTask() public {
        vm.prank(user);
        uint256 stackId = stacks.buyStackFromNode(open, nodeIds[0], 1_000, type(uint128).max, 1 days);
        assertEq(uint256(stacks.getStack(stackId).status), 1, "active");
    }
}
