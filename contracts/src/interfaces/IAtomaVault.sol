// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the other Atoma contracts need of the vault that holds escrows and owed payouts.
interface IAtomaVault {
    /// How one escrow is paid out: everything not assigned goes back to `refundTo`.
    struct Payout {
        uint256 nodeId;
        uint256 nodeAmount;
        address modelOwner;
        uint256 modelAmount;
        uint256[] attesterIds;
        uint256 attesterAmountEach;
        address refundTo;
    }

    function treasury() external view returns (address);
    function nodeLedger(uint256 nodeId, uint256 epoch) external view returns (uint128 claimable, uint128 earned);
    function ownerLedger(address owner, uint256 epoch) external view returns (uint128 claimable, uint128 earned);
    function epochTotals(uint256 epoch) external view returns (uint128 nodeFees, uint128 modelFees);
    function nodeBurned(uint256 nodeId, uint256 epoch) external view returns (uint256);
    function ownerBurned(address owner, uint256 epoch) external view returns (uint256);

    function lock(bytes32 key, address payer, uint256 amount) external;
    function escrowOf(bytes32 key) external view returns (uint256);
    function payOut(bytes32 key, Payout calldata payout) external returns (uint256 refunded);
    function payNodes(
        bytes32 key,
        uint256[] calldata nodeIds,
        uint256[] calldata amounts,
        address modelOwner,
        uint256 modelAmount
    ) external;
    function refund(bytes32 key, address to) external returns (uint256 refunded);
    function release(bytes32 key, address to, uint256 amount) external;
    function distributeSlashed(
        uint256 amount,
        address user,
        uint256 userBps,
        uint256[] calldata honestNodeIds,
        uint256 honestBps,
        uint256 treasuryBps
    ) external;
}
