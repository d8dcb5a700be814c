// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {EcVrf} from "../src/vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../src/vrf/VrfKeyRegistry.sol";
import {AtomaFixture} from "./lib/AtomaFixture.sol";

/// @notice Registering VRF keys and proving selection, against key thieves, key grinders and unselected nodes.
contract VrfKeyRegistryTest is AtomaFixture {
    string internal json;
    VrfKeyRegistry internal vrfKeys;
    uint256 internal first;
    uint256 internal second;

    struct Case {
        bytes publicKey;
        bytes alpha;
        bytes proof;
        EcVrf.Hints hints;
    }

    function setUp() public {
        deployAtoma();
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrf.json"));
        vrfKeys = deployVectorVrfKeys();
        first = addNode(1);
        second = addNode(1);
        assertEq(first, vm.parseJsonUint(json, ".possession[0].nodeId"), "fixture node id");
        assertEq(second, vm.parseJsonUint(json, ".possession[1].nodeId"), "fixture node id");
    }

    function _pair(string memory key) internal view returns (uint256[2] memory point) {
        uint256[] memory values = vm.parseJsonUintArray(json, key);
        point = [values[0], values[1]];
    }

    function _case(string memory key) internal view returns (Case memory c) {
        c.publicKey = vm.parseJsonBytes(json, string.concat(key, ".publicKey"));
        c.alpha = vm.parseJsonBytes(json, string.concat(key, ".alpha"));
        c.proof = vm.parseJsonBytes(json, string.concat(key, ".proof"));
        c.hints = EcVrf.Hints({
            u: _pair(string.concat(key, ".u")),
            sH: _pair(string.concat(key, ".sH")),
            cGamma: _pair(string.concat(key, ".cGamma"))
        });
    }

    function _register(uint256 nodeId, string memory key) internal {
        Case memory c = _case(key);
        vm.prank(operatorOf[nodeId]);
        vrfKeys.registerVrfKey(nodeId, c.publicKey, c.proof, c.hints);
    }

    /// L3: a possession proof names its chain and registry; one made for the vectors' registry does not register
    /// a key in another deployment (a squatter cannot replay it there).
    function test_aPossessionProofForAnotherRegistryIsRefused() public {
        VrfKeyRegistry other = new VrfKeyRegistry(INodeRegistry(address(nodes)));
        Case memory c = _case(".possession[0]");
        vm.prank(operatorOf[first]);
        vm.expectRevert();
        other.registerVrfKey(first, c.publicKey, c.proof, c.hints);
        _register(first, ".possession[0]");
    }

    /// H1: a key counts for a draw only when it was registered in a block before the draw's freeze.
    function test_aKeyCountsOnlyForDrawsFrozenAfterItsBlock() public {
        _register(first, ".possession[0]");
        uint256 registered = block.number;
        assertEq(vrfKeys.registeredAt(first), registered, "registered at");
        assertTrue(!vrfKeys.keyUsableAt(first, registered), "not for a draw frozen in its own block");
        assertTrue(!vrfKeys.keyUsableAt(first, registered - 1), "nor an earlier one");
        assertTrue(vrfKeys.keyUsableAt(first, registered + 1), "for a later one");
        assertTrue(!vrfKeys.keyUsableAt(second, registered + 1), "no key, never");
    }

    function test_possessionInputMatchesTypeScript() public view {
        assertEq(
            keccak256(vrfKeys.possessionInput(first)),
            keccak256(vm.parseJsonBytes(json, ".possession[0].alpha")),
            "possession input"
        );
    }

    function test_operatorRegistersOnceAndProvesSelection() public {
        _register(first, ".possession[0]");
        // proofs[2] is node-0's key on the attest seed of the vector settlement.
        Case memory c = _case(".proofs[2]");
        bytes32 seed = vm.parseJsonBytes32(json, ".seeds[0].seed");
        bytes32 beta = vrfKeys.proveSelection(first, seed, c.proof, c.hints, 1, 1);
        assertEq(beta, vm.parseJsonBytes32(json, ".proofs[2].beta"), "beta");
    }

    function test_theNodesSignerMayRegisterItsKey() public {
        Case memory c = _case(".possession[0]");
        vm.prank(vm.addr(signerKey[first]));
        vrfKeys.registerVrfKey(first, c.publicKey, c.proof, c.hints);
        assertEq(vrfKeys.vrfKeyOf(first)[0], _pair(".possession[0].publicKeyPoint")[0], "registered by the signer");
    }

    function test_strangerCannotRegisterAKeyForANode() public {
        Case memory c = _case(".possession[0]");
        vm.prank(user);
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NotNodeOperator.selector, first, user));
        vrfKeys.registerVrfKey(first, c.publicKey, c.proof, c.hints);
    }

    function test_keyCannotBeReplacedToGrindForASeat() public {
        _register(first, ".possession[0]");
        Case memory c = _case(".possession[1]");
        vm.prank(operatorOf[first]);
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.VrfKeyAlreadySet.selector, first));
        vrfKeys.registerVrfKey(first, c.publicKey, c.proof, c.hints);
    }

    function test_copiedKeyIsRefused() public {
        _register(first, ".possession[0]");
        // The second node replays the first node's registration: the key is taken.
        Case memory c = _case(".possession[0]");
        vm.prank(operatorOf[second]);
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.VrfKeyTaken.selector, first));
        vrfKeys.registerVrfKey(second, c.publicKey, c.proof, c.hints);
    }

    function test_frontRunWithAnotherNodesKeyFailsPossession() public {
        // The second node sees the first node's pending registration and tries to claim its key first.
        Case memory c = _case(".possession[0]");
        vm.prank(operatorOf[second]);
        // The proof is over the first node's id: s·H for the second node's id is another point.
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfHintMismatch.selector, 1));
        vrfKeys.registerVrfKey(second, c.publicKey, c.proof, c.hints);
        _register(first, ".possession[0]");
    }

    function test_unselectedNodeCannotClaimASeat() public {
        _register(first, ".possession[0]");
        Case memory c = _case(".proofs[2]");
        bytes32 seed = vm.parseJsonBytes32(json, ".seeds[0].seed");
        bytes32 beta = vm.parseJsonBytes32(json, ".proofs[2].beta");
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NotSelected.selector, first, beta));
        vrfKeys.proveSelection(first, seed, c.proof, c.hints, 1, type(uint128).max);
    }

    function test_nodeCannotUseAnotherNodesProof() public {
        _register(first, ".possession[0]");
        _register(second, ".possession[1]");
        Case memory c = _case(".proofs[2]");
        bytes32 seed = vm.parseJsonBytes32(json, ".seeds[0].seed");
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfHintMismatch.selector, 0));
        vrfKeys.proveSelection(second, seed, c.proof, c.hints, 1, 1);
    }

    function test_nodeWithoutKeyCannotProve() public {
        Case memory c = _case(".proofs[2]");
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NoVrfKey.selector, first));
        vrfKeys.proveSelection(first, bytes32(0), c.proof, c.hints, 1, 1);
    }
}
