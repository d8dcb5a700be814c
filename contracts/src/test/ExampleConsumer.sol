// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ConsensusRequests} from "../consensus/ConsensusRequests.sol";
import {IAtomaConsumer} from "../interfaces/IAtomaConsumer.sol";

interface IWithdrawable {
    function withdraw(address account) external returns (uint256);
}

/// @title ExampleConsumer: a contract that asks the Atoma network a question and keeps the agreed answer.
/// @notice Fund it with TOMA, call `ask`; the answer arrives in `onAtomaResult` once n nodes agree. Refunds of
/// unused escrow collect in the vault and `collectRefund` pulls them back here.
contract ExampleConsumer is IAtomaConsumer {
    using SafeERC20 for IERC20;

    ConsensusRequests public immutable atoma;
    IERC20 public immutable token;
    address public immutable vault;

    mapping(uint256 requestId => bytes) public answers;
    mapping(uint256 requestId => bool) public answered;
    uint256 public lastRequestId;

    event Asked(uint256 indexed requestId, bytes prompt);
    event Answered(uint256 indexed requestId, bytes output);

    error OnlyAtoma(address caller);

    constructor(ConsensusRequests atoma_, IERC20 token_, address vault_) {
        atoma = atoma_;
        token = token_;
        vault = vault_;
    }

    function ask(
        uint256 taskId,
        bytes calldata prompt,
        uint8 n,
        uint64 maxUnits,
        uint128 maxPricePerMillion,
        uint32 echelon,
        uint32 callbackGas
    ) external returns (uint256 requestId) {
        token.forceApprove(vault, type(uint256).max);
        requestId = atoma.submitRequest(taskId, prompt, n, maxUnits, maxPricePerMillion, echelon, callbackGas);
        lastRequestId = requestId;
        emit Asked(requestId, prompt);
    }

    function onAtomaResult(uint256 requestId, bytes calldata output) external {
        if (msg.sender != address(atoma)) revert OnlyAtoma(msg.sender);
        answers[requestId] = output;
        answered[requestId] = true;
        emit Answered(requestId, output);
    }

    function collectRefund() external returns (uint256) {
        return IWithdrawable(vault).withdraw(address(this));
    }
}
