// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {EcVrf} from "./EcVrf.sol";
import {VrfSortition} from "./VrfSortition.sol";

/// @notice One VRF public key per node, and the check that a node's VRF output on a seed selects it (docs/vrf.md).
/// The node's operator or its signer (the key the node software runs with, which registers at start) sets it.
/// @dev A key is set once: one that could be replaced after a seed is known would let its owner grind for a seat.
/// For the same reason a key counts for a draw only when it was registered before the draw froze its candidates
/// (`keyUsableAt`): a key first registered once a seed is known could be ground just the same (docs/vrf.md, H1).
/// Registration carries a VRF proof on the node's id, this chain and this registry, so nobody can register a key
/// they do not hold (copying another node's key would let a lazy node replay that node's selection proofs as its
/// own), nor replay a possession proof made for another deployment.
contract VrfKeyRegistry {
    INodeRegistry public immutable nodes;

    /// Affine key per node; x = 0 marks "none" (no secp256k1 point has x = 0: 7 is not a square mod p).
    mapping(uint256 nodeId => uint256[2]) internal _keys;
    mapping(bytes32 keyHash => uint256 nodeId) public nodeOfKey;
    /// The block each node's key was registered in (0: none).
    mapping(uint256 nodeId => uint256 blockNumber) public registeredAt;

    event VrfKeyRegistered(uint256 indexed nodeId, uint256 x, uint256 y);

    /// `caller` is neither the node's operator nor its signer.
    error NotNodeOperator(uint256 nodeId, address caller);
    error VrfKeyAlreadySet(uint256 nodeId);
    error VrfKeyTaken(uint256 byNodeId);
    error NoVrfKey(uint256 nodeId);
    error NotSelected(uint256 nodeId, bytes32 beta);
    /// The node's key was registered in block `registeredAt`, not before `frozenAt` (the draw's freeze): it was
    /// chosen when the draw's seed may already have been known, so it does not count for that draw.
    error VrfKeyTooNew(uint256 nodeId, uint256 registeredAt, uint256 frozenAt);

    constructor(INodeRegistry nodes_) {
        nodes = nodes_;
    }

    /// The VRF input a node proves at registration: it binds the key to the node id, the chain and this registry.
    function possessionInput(uint256 nodeId) public view returns (bytes memory) {
        return abi.encode("atoma.vrf.key", block.chainid, address(this), nodeId);
    }

    function registerVrfKey(
        uint256 nodeId,
        bytes calldata publicKey,
        bytes calldata possessionProof,
        EcVrf.Hints calldata hints
    ) external {
        if (!nodes.isNodeActor(nodeId, msg.sender)) revert NotNodeOperator(nodeId, msg.sender);
        if (_keys[nodeId][0] != 0) revert VrfKeyAlreadySet(nodeId);
        (uint256 x, uint256 y) = EcVrf.decodePoint(publicKey);
        bytes32 keyHash = keccak256(abi.encode(x, y));
        if (nodeOfKey[keyHash] != 0) revert VrfKeyTaken(nodeOfKey[keyHash]);
        EcVrf.verify([x, y], possessionInput(nodeId), possessionProof, hints);
        _keys[nodeId] = [x, y];
        nodeOfKey[keyHash] = nodeId;
        registeredAt[nodeId] = block.number;
        emit VrfKeyRegistered(nodeId, x, y);
    }

    function vrfKeyOf(uint256 nodeId) public view returns (uint256[2] memory key) {
        key = _keys[nodeId];
        if (key[0] == 0) revert NoVrfKey(nodeId);
    }

    /// Whether node `nodeId`'s key may select it for a draw that froze its candidates in block `frozenAt`: the key
    /// was registered in an earlier block, so before anything about the draw's seed (a block after `frozenAt`)
    /// was known. Any draw that self-selects by VRF asks this with its own freeze block.
    function keyUsableAt(uint256 nodeId, uint256 frozenAt) public view returns (bool) {
        uint256 registered = registeredAt[nodeId];
        return registered != 0 && registered < frozenAt;
    }

    /// `proveSelection` for a draw frozen in block `frozenAt`: reverts `VrfKeyTooNew` (or `NoVrfKey`) first when
    /// the node's key does not predate the freeze.
    function proveSelectionAt(
        uint256 nodeId,
        uint256 frozenAt,
        bytes32 seed,
        bytes calldata proof,
        EcVrf.Hints calldata hints,
        uint256 numerator,
        uint256 denominator
    ) external view returns (bytes32 beta) {
        if (!keyUsableAt(nodeId, frozenAt)) {
            if (registeredAt[nodeId] == 0) revert NoVrfKey(nodeId);
            revert VrfKeyTooNew(nodeId, registeredAt[nodeId], frozenAt);
        }
        return proveSelection(nodeId, seed, proof, hints, numerator, denominator);
    }

    /// The VRF output when node `nodeId` proves that its output on `seed` falls under numerator/denominator;
    /// reverts with the verifier's error for a bad proof, or `NotSelected` for a valid one above the threshold.
    function proveSelection(
        uint256 nodeId,
        bytes32 seed,
        bytes calldata proof,
        EcVrf.Hints calldata hints,
        uint256 numerator,
        uint256 denominator
    ) public view returns (bytes32 beta) {
        beta = EcVrf.verify(vrfKeyOf(nodeId), abi.encodePacked(seed), proof, hints);
        if (!VrfSortition.isSelected(beta, numerator, denominator)) revert NotSelected(nodeId, beta);
    }
}
