// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice What the other Atoma contracts need of the model registry.
interface IModelRegistry {
    enum ModelStatus {
        None,
        Pending,
        Active,
        Disabled,
        Retired
    }

    struct Model {
        address owner;
        uint16 feeBps;
        ModelStatus status;
        uint32 mismatchReports;
        uint32 registeredEpoch;
        uint32 retiredEpoch;
        bytes32 weightsRoot;
        uint256 collateral;
        string uri;
    }

    function getModel(bytes32 modelId) external view returns (Model memory);
    function isActive(bytes32 modelId) external view returns (bool);
    function feeTerms(bytes32 modelId) external view returns (address owner, uint16 feeBps);
}
