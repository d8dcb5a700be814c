// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../../src/common/AtomaTypedData.sol";
import {ITaskRegistry} from "../../src/interfaces/ITaskRegistry.sol";
import {AtomaFixture} from "./AtomaFixture.sol";

/// A level-0 stack bought by `user` and its settled leaves, built leaf by leaf, with the owner's request signatures
/// and the node's index-challenge answers: what the index-challenge suites share.
abstract contract IndexChallengeFixture is AtomaFixture {
    uint256 internal task;
    uint256 internal stackId;
    uint256 internal server;
    bytes32[] internal hashes;
    AtomaTypedData.Leaf[] internal leaves;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 3; ++i) {
            addNode(1);
        }
        task = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(task, nodeIds[i], PRICE);
        }
        nextEpoch();
        (stackId, server) = buy(task, 1_000_000);
    }

    /// The owner really made `count` requests of 100 units (leaves 0..count-1).
    function _serveReal(uint256 count) internal {
        Served memory real = serve(stackId, count, "honest");
        for (uint256 k = 0; k < count; ++k) {
            hashes.push(real.hashes[k]);
            leaves.push(real.leaves[k]);
        }
    }

    function _append(AtomaTypedData.Leaf memory leaf) internal {
        hashes.push(AtomaTypedData.leafHash(leaf));
        leaves.push(leaf);
    }

    /// Leaf `k` (nonce k) of request `reqHash` and answer `respHash`, billing `units` with the running total
    /// `cumulative`.
    function _appendLeaf(uint256 k, bytes32 reqHash, bytes32 respHash, uint64 units, uint64 cumulative) internal {
        _append(
            AtomaTypedData.Leaf({
                leafIndex: k,
                nonce: k,
                reqHash: reqHash,
                respHash: respHash,
                units: units,
                cumulativeUnits: cumulative
            })
        );
    }

    /// Leaf `k` billing `units` (running total `cumulative`) for a request whose receipt the node never gave.
    function _appendWithheld(uint256 k, uint64 units, uint64 cumulative) internal {
        bytes32 reqHash = keccak256(abi.encode("withheld request", k));
        _appendLeaf(k, reqHash, keccak256(abi.encode("its answer", k)), units, cumulative);
    }

    function _settle(uint64 units) internal {
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, stackRoot(hashes), units, uint64(hashes.length), 0);
    }

    /// Two real requests, then leaf 2: a request the owner never signed, billed at the rest of the stack.
    function _settlePadded() internal {
        _serveReal(2);
        _appendLeaf(2, keccak256("never signed"), keccak256("junk"), 999_800, 1_000_000);
        _settle(1_000_000);
    }

    function _ownerSig(uint256 nonce, bytes32 reqHash, uint256 key) internal view returns (bytes memory) {
        return _ownerSigUpTo(nonce, reqHash, key, 1e9);
    }

    function _ownerSigUpTo(uint256 nonce, bytes32 reqHash, uint256 key, uint64 maxUnits)
        internal
        view
        returns (bytes memory)
    {
        AtomaTypedData.Request memory r = AtomaTypedData.Request({
            stackId: stackId, reqHash: reqHash, nonce: nonce, deadline: 2e9, maxUnits: maxUnits
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(key, stacks.requestDigest(r));
        return abi.encodePacked(rr, ss, v);
    }

    function _challengeIndex(uint256 k) internal returns (uint256) {
        vm.prank(user);
        return challenges.challengeIndex(stackId, k);
    }

    function _answer(uint256 challengeId, uint256 k, bytes memory sig) internal {
        _answerUpTo(challengeId, k, 1e9, sig);
    }

    function _answerUpTo(uint256 challengeId, uint256 k, uint64 maxUnits, bytes memory sig) internal {
        _answerWith(challengeId, leaves[k], k, maxUnits, sig);
    }

    /// Answers with `leaf` proven at index `k`, the leaf before it and its proof (none at index 0).
    function _answerWith(uint256 challengeId, AtomaTypedData.Leaf memory leaf, uint256 k, uint64 maxUnits, bytes memory sig)
        internal
    {
        bytes32[] memory h = hashes;
        (AtomaTypedData.Leaf memory previous, bytes32[] memory previousProof) = _previous(k);
        vm.prank(vm.addr(signerKey[server]));
        challenges.answerIndexChallenge(
            challengeId, leaf, 2e9, maxUnits, sig, stackProof(h, k), previous, previousProof
        );
    }

    function _previous(uint256 k)
        internal
        view
        returns (AtomaTypedData.Leaf memory previous, bytes32[] memory previousProof)
    {
        if (k == 0) return (previous, previousProof);
        bytes32[] memory h = hashes;
        return (leaves[k - 1], stackProof(h, k - 1));
    }

    /// The node's signed response for leaf `k` (what the owner holds as its receipt).
    function _response(uint256 k) internal view returns (AtomaTypedData.Response memory) {
        AtomaTypedData.Leaf memory l = leaves[k];
        return AtomaTypedData.Response({
            stackId: stackId,
            leafIndex: k,
            nonce: k,
            reqHash: l.reqHash,
            respHash: l.respHash,
            units: l.units,
            cumulativeUnits: l.cumulativeUnits,
            seed: 7
        });
    }

    function _responseSig(uint256 k) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(signerKey[server], stacks.responseDigest(_response(k)));
        return abi.encodePacked(rr, ss, v);
    }

    function _receiptChallenge(uint256 k) internal returns (uint256) {
        AtomaTypedData.Response memory r = _response(k);
        bytes memory sig = _responseSig(k);
        vm.prank(user);
        return challenges.challenge(stackId, r, sig);
    }
}
