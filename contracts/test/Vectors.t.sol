// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {ConsensusCommitment} from "../src/common/ConsensusCommitment.sol";
import {ResultUnits} from "../src/common/ResultUnits.sol";
import {StackTree} from "../src/common/StackTree.sol";
import {Units} from "../src/common/Units.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {IAtomaVault} from "../src/interfaces/IAtomaVault.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {SignerBinding} from "../src/registry/SignerBinding.sol";
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

    function _leafAt(string memory key) internal view returns (AtomaTypedData.Leaf memory) {
        return AtomaTypedData.Leaf({
            leafIndex: vm.parseJsonUint(json, string.concat(key, ".leafIndex")),
            nonce: vm.parseJsonUint(json, string.concat(key, ".nonce")),
            reqHash: vm.parseJsonBytes32(json, string.concat(key, ".reqHash")),
            respHash: vm.parseJsonBytes32(json, string.concat(key, ".respHash")),
            units: uint64(vm.parseJsonUint(json, string.concat(key, ".units"))),
            cumulativeUnits: uint64(vm.parseJsonUint(json, string.concat(key, ".cumulativeUnits")))
        });
    }

    function test_leafVectors() public view {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".leaf", i, "")); ++i) {
            AtomaTypedData.Leaf memory l = _leafAt(_key(".leaf", i, ""));
            assertEq(AtomaTypedData.leafHash(l), vm.parseJsonBytes32(json, _key(".leaf", i, ".leaf")), "leaf");
            ++count;
        }
        assertEq(count, 3, "leaf vector count");
    }

    function test_stackTreeVectors() public view {
        uint256 trees;
        for (uint256 t = 0; vm.keyExistsJson(json, _key(".stackTree", t, "")); ++t) {
            bytes32 root = vm.parseJsonBytes32(json, _key(".stackTree", t, ".root"));
            uint256 count = vm.parseJsonUint(json, _key(".stackTree", t, ".count"));
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, _key(".stackTree", t, ".leaves"));
            assertEq(leaves.length, count, "leaf count");
            for (uint256 k = 0; k < leaves.length; ++k) {
                bytes32[] memory proof = vm.parseJsonBytes32Array(
                    json, string.concat(_key(".stackTree", t, ".proofs"), "[", vm.toString(k), "]")
                );
                assertTrue(StackTree.verify(proof, root, leaves[k], k, count), "proof verifies at its index");
                assertTrue(!StackTree.verify(proof, root, keccak256(abi.encode(leaves[k])), k, count), "wrong leaf");
                if (count > 1) assertTrue(!StackTree.verify(proof, root, leaves[k], k ^ 1, count), "wrong index");
                assertTrue(!StackTree.verify(proof, root, leaves[k], k, count * 2 + 1), "wrong width");
            }
            ++trees;
        }
        assertEq(trees, 5, "stack tree vector count");
    }

    function test_attestationVectors() public view {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".attestation", i, "")); ++i) {
            uint256 nodeId = vm.parseJsonUint(json, _key(".attestation", i, ".nodeId"));
            bytes32[] memory resps = vm.parseJsonBytes32Array(json, _key(".attestation", i, ".respHashes"));
            uint256[] memory raw = vm.parseJsonUintArray(json, _key(".attestation", i, ".units"));
            uint64[] memory units = new uint64[](raw.length);
            for (uint256 k = 0; k < raw.length; ++k) units[k] = uint64(raw[k]);
            bytes32 salt = vm.parseJsonBytes32(json, _key(".attestation", i, ".salt"));
            assertEq(
                keccak256(abi.encode(nodeId, keccak256(abi.encode(resps, units)), salt)),
                vm.parseJsonBytes32(json, _key(".attestation", i, ".commitment")),
                "commitment (as SettlementManager opens it)"
            );
            assertTrue(
                vm.parseJsonBytes32(json, _key(".attestation", i, ".commitment"))
                    != vm.parseJsonBytes32(json, _key(".attestation", i, ".unsaltedCommitment")),
                "the salted commitment is not the unsalted one anyone could compute"
            );
            assertEq(
                keccak256(abi.encode(resps, units)),
                vm.parseJsonBytes32(json, _key(".attestation", i, ".result")),
                "result (as SettlementManager reveals it)"
            );
            ++count;
        }
        assertEq(count, 2, "attestation vector count");
    }

    function test_resultUnitsVectors() public view {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".responseHash", i, "")); ++i) {
            bytes memory result = vm.parseJsonBytes(json, _key(".responseHash", i, ".resultBytes"));
            assertEq(keccak256(result), vm.parseJsonBytes32(json, _key(".responseHash", i, ".respHash")), "hash");
            assertEq(ResultUnits.unitsOf(result), vm.parseJsonUint(json, _key(".responseHash", i, ".units")), "units");
            ++count;
        }
        assertEq(count, 4, "result vector count");
        assertEq(ResultUnits.unitsOf('{"object":"atoma.invalid_request"}'), 0, "invalid request");
    }

    function _root(bytes32[] memory layer) internal pure returns (bytes32) {
        uint256 width = 1;
        while (width < layer.length) width *= 2;
        bytes32[] memory padded = new bytes32[](width);
        for (uint256 i = 0; i < layer.length; ++i) padded[i] = layer[i];
        while (padded.length > 1) {
            bytes32[] memory next = new bytes32[](padded.length / 2);
            for (uint256 i = 0; i < next.length; ++i) next[i] = keccak256(abi.encodePacked(padded[2 * i], padded[2 * i + 1]));
            padded = next;
        }
        return padded[0];
    }

    /// The transcript vector's leaves, rebuilt in Solidity, give its root.
    function test_transcriptVectorRebuildsItsRoot() public view {
        bytes32[] memory hashes = new bytes32[](3);
        for (uint256 i = 0; i < 3; ++i) {
            AtomaTypedData.Leaf memory l = _leafAt(_key(".transcript.leaves", i, ""));
            assertEq(l.nonce, i, "nonce k at leaf k");
            hashes[i] = AtomaTypedData.leafHash(l);
            assertEq(hashes[i], vm.parseJsonBytes32(json, _key(".transcript.leaves", i, ".leaf")), "leaf");
        }
        assertEq(_root(hashes), vm.parseJsonBytes32(json, ".transcript.root"), "root");
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

    /// The signed request of the vectors (`.eip712.request.fields`).
    function _requestVector() internal view returns (AtomaTypedData.Request memory) {
        string memory p = ".eip712.request.fields";
        return AtomaTypedData.Request({
            stackId: vm.parseJsonUint(json, string.concat(p, ".stackId")),
            reqHash: vm.parseJsonBytes32(json, string.concat(p, ".reqHash")),
            nonce: vm.parseJsonUint(json, string.concat(p, ".nonce")),
            deadline: uint64(vm.parseJsonUint(json, string.concat(p, ".deadline"))),
            maxUnits: uint64(vm.parseJsonUint(json, string.concat(p, ".maxUnits")))
        });
    }

    /// The signed response of the vectors (`.eip712.response.fields`).
    function _responseVector() internal view returns (AtomaTypedData.Response memory) {
        string memory p = ".eip712.response.fields";
        return AtomaTypedData.Response({
            stackId: vm.parseJsonUint(json, string.concat(p, ".stackId")),
            leafIndex: vm.parseJsonUint(json, string.concat(p, ".leafIndex")),
            nonce: vm.parseJsonUint(json, string.concat(p, ".nonce")),
            reqHash: vm.parseJsonBytes32(json, string.concat(p, ".reqHash")),
            respHash: vm.parseJsonBytes32(json, string.concat(p, ".respHash")),
            units: uint64(vm.parseJsonUint(json, string.concat(p, ".units"))),
            cumulativeUnits: uint64(vm.parseJsonUint(json, string.concat(p, ".cumulativeUnits"))),
            seed: uint64(vm.parseJsonUint(json, string.concat(p, ".seed")))
        });
    }

    function test_requestDigestAndSigner() public view {
        AtomaTypedData.Request memory r = _requestVector();
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), AtomaTypedData.hashRequest(r));
        assertEq(digest, vm.parseJsonBytes32(json, ".eip712.request.digest"), "request digest");
        bytes memory signature = vm.parseJsonBytes(json, ".eip712.request.signature");
        assertEq(ECDSA.recover(digest, signature), vm.parseJsonAddress(json, ".eip712.owner"), "request signer");
    }

    function test_responseDigestAndSigner() public view {
        AtomaTypedData.Response memory r = _responseVector();
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), AtomaTypedData.hashResponse(r));
        assertEq(digest, vm.parseJsonBytes32(json, ".eip712.response.digest"), "response digest");
        bytes memory signature = vm.parseJsonBytes(json, ".eip712.response.signature");
        assertEq(ECDSA.recover(digest, signature), vm.parseJsonAddress(json, ".eip712.node"), "response signer");
    }

    /// The node's signed leaf denial (`.eip712.leafDenial`), as `ReceiptFraud.proveDeniedLeaf` checks it.
    function test_leafDenialDigestAndSigner() public view {
        string memory p = ".eip712.leafDenial.fields";
        AtomaTypedData.LeafDenial memory d = AtomaTypedData.LeafDenial({
            stackId: vm.parseJsonUint(json, string.concat(p, ".stackId")),
            nonce: vm.parseJsonUint(json, string.concat(p, ".nonce")),
            reqHash: vm.parseJsonBytes32(json, string.concat(p, ".reqHash"))
        });
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), AtomaTypedData.hashLeafDenial(d));
        assertEq(digest, vm.parseJsonBytes32(json, ".eip712.leafDenial.digest"), "leaf denial digest");
        bytes memory signature = vm.parseJsonBytes(json, ".eip712.leafDenial.signature");
        assertEq(ECDSA.recover(digest, signature), vm.parseJsonAddress(json, ".eip712.node"), "leaf denial signer");
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
            uint64 units = uint64(vm.parseJsonUint(json, _key(".consensus", i, ".units")));
            uint256 n = vm.parseJsonUint(json, _key(".consensus", i, ".n"));
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, _key(".consensus", i, ".leaves"));
            assertEq(leaves.length, n, "leaf count");
            for (uint256 k = 0; k < n; ++k) {
                assertEq(ConsensusCommitment.leaf(output, units, k + 1), leaves[k], "consensus leaf");
            }
            bytes32 root = vm.parseJsonBytes32(json, _key(".consensus", i, ".root"));
            assertEq(ConsensusCommitment.root(output, units, n), root, "consensus root");
            assertEq(ConsensusCommitment.rootOfLeaves(leaves), root, "root of leaves");
            _checkConsensusSeal(i, root, leaves[n - 1]);
            ++count;
        }
        assertEq(count, 4, "consensus vector count");
    }

    function _checkConsensusSeal(uint256 i, bytes32 root, bytes32 leaf) internal view {
        bytes32 seal = ConsensusCommitment.seal(
            vm.parseJsonUint(json, _key(".consensus", i, ".seal.requestId")),
            vm.parseJsonUint(json, _key(".consensus", i, ".seal.index")),
            root,
            leaf,
            vm.parseJsonBytes32(json, _key(".consensus", i, ".seal.salt"))
        );
        assertEq(seal, vm.parseJsonBytes32(json, _key(".consensus", i, ".seal.seal")), "consensus seal");
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
        AtomaTypedData.Request memory request = _requestVector();
        assertEq(stacks.requestDigest(request), vm.parseJsonBytes32(json, ".eip712.request.digest"), "request");
        assertEq(
            stacks.recoverRequestSigner(request, vm.parseJsonBytes(json, ".eip712.request.signature")),
            vm.parseJsonAddress(json, ".eip712.owner"),
            "request signer"
        );
        AtomaTypedData.Response memory response = _responseVector();
        assertEq(stacks.responseDigest(response), vm.parseJsonBytes32(json, ".eip712.response.digest"), "response");
        assertEq(
            stacks.recoverResponseSigner(response, vm.parseJsonBytes(json, ".eip712.response.signature")),
            vm.parseJsonAddress(json, ".eip712.node"),
            "response signer"
        );
        assertEq(stacks.recoverResponseSigner(response, hex"00"), address(0), "a malformed signature recovers nobody");
    }

    /// A committee member's vote: its claim and work from the outputs, and the commitment the deployed
    /// DisputeManager checks at the reveal.
    function test_disputeVoteVector() public {
        DisputeManager manager = new DisputeManager(
            address(this),
            INodeRegistry(address(1)),
            ITaskRegistry(address(2)),
            IStackManager(address(3)),
            ISettlementManager(address(4)),
            DisputeManager.Params({
                committeeSize: 3,
                minCommittee: 3,
                drawRounds: 1,
                commitWindow: 60,
                revealWindow: 60,
                evidenceWindow: 60,
                redrawDelay: 60,
                maxEvidenceBytes: 4_096
            })
        );
        string memory v = ".disputeVote";
        uint256 nodeId = vm.parseJsonUint(json, string.concat(v, ".nodeId"));
        uint256 disputeId = vm.parseJsonUint(json, string.concat(v, ".disputeId"));
        bytes32 salt = vm.parseJsonBytes32(json, string.concat(v, ".salt"));
        bytes32[] memory respHashes = vm.parseJsonBytes32Array(json, string.concat(v, ".respHashes"));
        bytes32[] memory parts = vm.parseJsonBytes32Array(json, string.concat(v, ".parts"));
        uint256[] memory unitsRead = vm.parseJsonUintArray(json, string.concat(v, ".units"));
        uint64[] memory units = new uint64[](unitsRead.length);
        for (uint256 i = 0; i < respHashes.length; ++i) {
            bytes memory output = vm.parseJsonBytes(json, _key(string.concat(v, ".outputs"), i, ""));
            assertEq(keccak256(output), respHashes[i], "output hashes to its response hash");
            assertEq(ResultUnits.unitsOf(output), unitsRead[i], "the units the output carries");
            units[i] = uint64(unitsRead[i]);
            assertEq(keccak256(abi.encodePacked(nodeId, output)), parts[i], "work part");
        }
        bytes32 claim = vm.parseJsonBytes32(json, string.concat(v, ".claim"));
        bytes32 work = vm.parseJsonBytes32(json, string.concat(v, ".work"));
        assertEq(keccak256(abi.encode(respHashes, units)), claim, "claim");
        assertEq(keccak256(abi.encodePacked(parts)), work, "work");
        assertEq(
            manager.voteCommitment(disputeId, nodeId, claim, work, salt),
            vm.parseJsonBytes32(json, string.concat(v, ".commitment")),
            "commitment"
        );
        bytes32 unavailable = vm.parseJsonBytes32(json, string.concat(v, ".unavailable"));
        assertEq(manager.UNAVAILABLE(), unavailable, "unavailable claim");
        assertEq(
            manager.voteCommitment(disputeId, nodeId, unavailable, keccak256(""), salt),
            vm.parseJsonBytes32(json, string.concat(v, ".unavailableCommitment")),
            "unavailable commitment"
        );
    }

    /// What a member of a consensus dispute shows: the output followed by its units, whose root is its claim.
    function test_consensusDisputeShownVector() public view {
        string memory c = ".disputeVote.consensus";
        bytes memory consensusOutput = vm.parseJsonBytes(json, string.concat(c, ".output"));
        uint64 units = uint64(vm.parseJsonUint(json, string.concat(c, ".units")));
        bytes memory shown = vm.parseJsonBytes(json, string.concat(c, ".shown"));
        assertEq(keccak256(shown), keccak256(abi.encodePacked(consensusOutput, units)), "shown: output, then units");
        assertEq(
            ConsensusCommitment.root(consensusOutput, units, vm.parseJsonUint(json, string.concat(c, ".n"))),
            vm.parseJsonBytes32(json, string.concat(c, ".root")),
            "consensus claim"
        );
    }

    /// The node registry's signer binding: hash, EIP-191 digest, and the node key's signature over it.
    function test_signerBindingVector() public view {
        uint256 chainId = vm.parseJsonUint(json, ".signerBinding.chainId");
        address registry = vm.parseJsonAddress(json, ".signerBinding.registry");
        address operator = vm.parseJsonAddress(json, ".signerBinding.operator");
        assertEq(SignerBinding.hash(chainId, registry, operator), vm.parseJsonBytes32(json, ".signerBinding.hash"), "hash");
        bytes32 digest = SignerBinding.digest(chainId, registry, operator);
        assertEq(digest, vm.parseJsonBytes32(json, ".signerBinding.digest"), "digest");
        assertEq(
            ECDSA.recover(digest, vm.parseJsonBytes(json, ".signerBinding.signature")),
            vm.parseJsonAddress(json, ".signerBinding.signer"),
            "signer"
        );
    }
}
