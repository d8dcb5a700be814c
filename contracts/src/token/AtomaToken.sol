// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/// @title TOMA, the token nodes stake and users pay in.
/// @notice The genesis supply is minted once, at deployment, to one recipient. After that only `minter` (the
/// emission schedule, fixed at deployment and bound by its per-epoch schedule) can mint: no key, the admin's
/// included, can create TOMA outside the schedule.
contract AtomaToken is ERC20, ERC20Burnable {
    address public immutable minter;

    error NotMinter(address caller);
    error ZeroAddress();

    constructor(address minter_, address genesisRecipient, uint256 genesisSupply) ERC20("Atoma", "TOMA") {
        if (minter_ == address(0) || (genesisSupply > 0 && genesisRecipient == address(0))) revert ZeroAddress();
        minter = minter_;
        if (genesisSupply > 0) _mint(genesisRecipient, genesisSupply);
    }

    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }
}
