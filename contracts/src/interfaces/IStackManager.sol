// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../common/AtomaTypedData.sol";

/// @notice What the other Atoma contracts need of the stack manager.
interface IStackManager {
    enum StackStatus {
        None,
        Active,
        Settling,
        Closed,
        /// Bought, its serving node not drawn yet (the draw is a later call: `StackManager.drawNode`).
        Pending,
        /// Bought from a set of nodes, the set drawn: the owner binds the stack to one member
        /// (`StackManager.chooseFromSet`) before it serves.
        Choosing
    }

    struct Stack {
        address owner;
        uint64 taskId;
        StackStatus status;
        uint8 securityLevel;
        uint64 nodeId;
        uint64 units;
        uint64 expiresAt;
        uint64 closedAt;
        uint128 pricePerMillion;
        uint128 escrow;
    }

    function getStack(uint256 stackId) external view returns (Stack memory);
    function settleDeadline(uint256 stackId) external view returns (uint256);
    /// What the owner pays however little of the stack it uses (to the treasury, never to the node).
    function minCharge(uint256 stackId) external view returns (uint256);
    function markSettling(uint256 stackId, address caller, uint64 units) external returns (Stack memory);
    function markClosed(uint256 stackId, bool honest) external;
    function checkExitNotice(uint256 span) external view;
    function domainSeparator() external view returns (bytes32);
    function recoverRequestSigner(AtomaTypedData.Request calldata request, bytes calldata signature)
        external
        view
        returns (address);
    function recoverResponseSigner(AtomaTypedData.Response calldata response, bytes calldata signature)
        external
        view
        returns (address);
}
