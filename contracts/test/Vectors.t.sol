// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ConsensusCommitment} from "../src/common/ConsensusCommitment.sol";
import {Units} from "../src/common/Units.sol";
import {IAtomaVault} from "../src/interfaces/IAtomaVault.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {TestBase} from "./lib/TestBase.sol";

/// @notice Checks the shared vectors of @atoma/core (packages/core/vectors/encodings.json) in Solidity, so the
/// TypeScript encodings and the contracts cannot drift apart.
contract VectorsTest is TestBase {
    string internal json;

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/encodings.json"));
    }

    function _key(string memory prefix, uint256 index, string memory suffix) internal pure returns (string memory) {
        return string.concat(prefix, "[", vm.toString(index), "]", suffix);
    }

    function test_leafVector() public view {
        bytes32 reqHash = vm.parseJsonBytes32(json, ".leaf.reqHash");
        bytes32 respHash = vm.parseJsonBytes32(json, ".leaf.respHash");
        assertEq(AtomaTypedData.leaf(reqHash, respHash), vm.parseJsonBytes32(json, ".leaf.leaf"), "leaf");
    }

    function test_merkleVectors() public view {
        uint256 trees;
        for (uint256 t = 0; vm.keyExistsJson(json, _key(".merkle", t, "")); ++t) {
            bytes32 root = vm.parseJsonBytes32(json, _key(".merkle", t, ".root"));
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, _key(".merkle", t, ".leaves"));
            for (uint256 k = 0; k < leaves.length; ++k) {
                bytes32[] memory proof =
                    vm.parseJsonBytes32Array(json, string.concat(_key(".merkle", t, ".proofs"), "[", vm.toString(k), "]"));
                assertTrue(MerkleProof.verify(proof, root, leaves[k]), "proof verifies");
                assertTrue(!MerkleProof.verify(proof, root, keccak256(abi.encode(leaves[k]))), "wrong leaf fails");
            }
            ++trees;
        }
        assertEq(trees, 5, "merkle vector count");
    }

    function _domainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(vm.parseJsonString(json, ".eip712.domain.name"))),
                keccak256(bytes(vm.parseJsonString(json, ".eip712.domain.version"))),
                vm.parseJsonUint(json, ".eip712.domain.chainId"),
                vm.parseJsonAddress(json, ".eip712.domain.verifyingContract")
            )
        );
    }

    function test_requestDigestAndSigner() public view {
        string memory p = ".eip712.request.fields";
        AtomaTypedData.Request memory r = AtomaTypedData.Request({
            stackId: vm.parseJsonUint(json, string.concat(p, ".stackId")),
            reqHash: vm.parseJsonBytes32(json, string.concat(p, ".reqHash")),
            nonce: vm.parseJsonUint(json, string.concat(p, ".nonce")),
            deadline: uint64(vm.parseJsonUint(json, string.concat(p, ".deadline")))
        });
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), AtomaTypedData.hashRequest(r));
        assertEq(digest, vm.parseJsonBytes32(json, ".eip712.request.digest"), "request digest");
        bytes memory signature = vm.parseJsonBytes(json, ".eip712.request.signature");
        assertEq(ECDSA.recover(digest, signature), vm.parseJsonAddress(json, ".eip712.owner"), "request signer");
    }

    function test_responseDigestAndSigner() public view {
        string memory p = ".eip712.response.fields";
        AtomaTypedData.Response memory r = AtomaTypedData.Response({
            stackId: vm.parseJsonUint(json, string.concat(p, ".stackId")),
            leafIndex: vm.parseJsonUint(json, string.concat(p, ".leafIndex")),
            reqHash: vm.parseJsonBytes32(json, string.concat(p, ".reqHash")),
            respHash: vm.parseJsonBytes32(json, string.concat(p, ".respHash")),
            units: uint64(vm.parseJsonUint(json, string.concat(p, ".units"))),
            cumulativeUnits: uint64(vm.parseJsonUint(json, string.concat(p, ".cumulativeUnits"))),
            seed: uint64(vm.parseJsonUint(json, string.concat(p, ".seed")))
        });
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), AtomaTypedData.hashResponse(r));
        assertEq(digest, vm.parseJsonBytes32(json, ".eip712.response.digest"), "response digest");
        bytes memory signature = vm.parseJsonBytes(json, ".eip712.response.signature");
        assertEq(ECDSA.recover(digest, signature), vm.parseJsonAddress(json, ".eip712.node"), "response signer");
    }

    function test_costVectors() public view {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".cost", i, "")); ++i) {
            uint256 units = vm.parseJsonUint(json, _key(".cost", i, ".units"));
            uint256 price = vm.parseJsonUint(json, _key(".cost", i, ".pricePerMillion"));
            assertEq(Units.cost(units, price), vm.parseJsonUint(json, _key(".cost", i, ".cost")), "cost");
            ++count;
        }
        assertEq(count, 5, "cost vector count");
    }

    function test_consensusVectors() public view {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".consensus", i, "")); ++i) {
            bytes memory output = vm.parseJsonBytes(json, _key(".consensus", i, ".output"));
            uint256 n = vm.parseJsonUint(json, _key(".consensus", i, ".n"));
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, _key(".consensus", i, ".leaves"));
            assertEq(leaves.length, n, "leaf count");
            for (uint256 k = 0; k < n; ++k) {
                assertEq(ConsensusCommitment.leaf(output, k + 1), leaves[k], "consensus leaf");
            }
            bytes32 root = vm.parseJsonBytes32(json, _key(".consensus", i, ".root"));
            assertEq(ConsensusCommitment.root(output, n), root, "consensus root");
            assertEq(ConsensusCommitment.rootOfLeaves(leaves), root, "root of leaves");
            ++count;
        }
        assertEq(count, 3, "consensus vector count");
    }

    /// The deployed StackManager's own EIP-712 code, run at the vectors' verifying contract, gives their digests.
    function test_stackManagerDigestsMatchTheVectors() public {
        StackManager deployed = new StackManager(
            address(this),
            ITaskRegistry(address(1)),
            INodeRegistry(address(2)),
            IModelRegistry(address(3)),
            IAtomaVault(address(4)),
            StackManager.Params({
                minDuration: 60,
                maxDuration: 1 days,
                settleWindow: 60,
                maxUnits: 1e9,
                surchargeBps: 0,
                minChargeBps: 0,
                minCommittee: 1
            })
        );
        address verifying = vm.parseJsonAddress(json, ".eip712.domain.verifyingContract");
        vm.etch(verifying, address(deployed).code);
        vm.chainId(vm.parseJsonUint(json, ".eip712.domain.chainId"));
        StackManager stacks = StackManager(verifying);
        assertEq(stacks.domainSeparator(), _domainSeparator(), "domain separator");
        string memory q = ".eip712.request.fields";
        AtomaTypedData.Request memory request = AtomaTypedData.Request({
            stackId: vm.parseJsonUint(json, string.concat(q, ".stackId")),
            reqHash: vm.parseJsonBytes32(json, string.concat(q, ".reqHash")),
            nonce: vm.parseJsonUint(json, string.concat(q, ".nonce")),
            deadline: uint64(vm.parseJsonUint(json, string.concat(q, ".deadline")))
        });
        assertEq(stacks.requestDigest(request), vm.parseJsonBytes32(json, ".eip712.request.digest"), "request");
        assertEq(
            stacks.recoverRequestSigner(request, vm.parseJsonBytes(json, ".eip712.request.signature")),
            vm.parseJsonAddress(json, ".eip712.owner"),
            "request signer"
        );
        string memory p = ".eip712.response.fields";
        AtomaTypedData.Response memory response = AtomaTypedData.Response({
            stackId: vm.parseJsonUint(json, string.concat(p, ".stackId")),
            leafIndex: vm.parseJsonUint(json, string.concat(p, ".leafIndex")),
            reqHash: vm.parseJsonBytes32(json, string.concat(p, ".reqHash")),
            respHash: vm.parseJsonBytes32(json, string.concat(p, ".respHash")),
            units: uint64(vm.parseJsonUint(json, string.concat(p, ".units"))),
            cumulativeUnits: uint64(vm.parseJsonUint(json, string.concat(p, ".cumulativeUnits"))),
            seed: uint64(vm.parseJsonUint(json, string.concat(p, ".seed")))
        });
        assertEq(stacks.responseDigest(response), vm.parseJsonBytes32(json, ".eip712.response.digest"), "response");
        assertEq(
            stacks.recoverResponseSigner(response, vm.parseJsonBytes(json, ".eip712.response.signature")),
            vm.parseJsonAddress(json, ".eip712.node"),
            "response signer"
        );
        assertEq(stacks.recoverResponseSigner(response, hex"00"), address(0), "a malformed signature recovers nobody");
    }
}
