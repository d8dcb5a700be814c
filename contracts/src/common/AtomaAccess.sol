// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @notice Roles shared by every Atoma contract. GOVERNOR_ROLE sets bounded parameters; PROTOCOL_ROLE is held
/// only by the other Atoma contracts, for the calls they make to each other; DEFAULT_ADMIN_ROLE grants roles.
abstract contract AtomaAccess is AccessControl {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 public constant PROTOCOL_ROLE = keccak256("PROTOCOL_ROLE");

    /// A parameter is outside the bounds governance may set.
    error ParameterOutOfBounds(string name, uint256 value);
    /// The contract's links to the other Atoma contracts were already set.
    error AlreadyWired();
    /// The contract is used before its links to the other Atoma contracts are set.
    error NotWired();
    error ZeroAddress();

    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
    }

    function _check(bool ok, string memory name, uint256 value) internal pure {
        if (!ok) revert ParameterOutOfBounds(name, value);
    }
}
