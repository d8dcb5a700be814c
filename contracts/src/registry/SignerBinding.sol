// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @notice What a node's signing key signs to let one operator register it (`signerBinding` in @atoma/core):
/// the 32-byte hash of the tag, the chain, the registry and the operator, signed as an EIP-191 personal message.
/// Binding the operator stops a copied proof from registering the key for anyone else; binding the chain and the
/// registry stops one from being replayed on another deployment.
library SignerBinding {
    bytes32 internal constant TAG = keccak256("AtomaSigner");

    function hash(uint256 chainId, address registry, address operator) internal pure returns (bytes32) {
        return keccak256(abi.encode(TAG, chainId, registry, operator));
    }

    function digest(uint256 chainId, address registry, address operator) internal pure returns (bytes32) {
        return MessageHashUtils.toEthSignedMessageHash(hash(chainId, registry, operator));
    }
}
