// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IStackManager} from "./IStackManager.sol";

/// @notice What the attestation registry reads of a stack to refund its buyer: the stack, its purchase's
/// duration (the stack is served from `expiresAt - duration` to `expiresAt`), and the settlement manager that
/// knows what the stack paid its node. `Purchase` mirrors the stack
/// manager's own struct field for field, so the ABI decodes alike.
interface IStackServing {
    struct Purchase {
        uint64 boughtAt;
        uint64 armedAt;
        uint48 duration;
        uint16 minChargeBps;
        uint16 surchargeBps;
        uint48 boughtTime;
        bytes32 candidatesHash;
    }

    function getStack(uint256 stackId) external view returns (IStackManager.Stack memory);
    function getPurchase(uint256 stackId) external view returns (Purchase memory);
    /// The settlement manager (`ISettlementManager`) the stack manager was wired to.
    function settlement() external view returns (address);
}
