// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {LeafRules} from "../common/LeafRules.sol";
import {StackTree} from "../common/StackTree.sol";

/// @title RevealVerifier: checks a server's reveal of its sampled leaves against its settled root.
/// @notice Stateless, deployed by the SettlementManager (kept apart for the EIP-170 size limit). Each sampled leaf,
/// and the stack's last leaf, must sit at its index under the root (positional proof), carry its index as nonce,
/// and have running totals that add up with each other and end at the settled units.
contract RevealVerifier {
    error WrongLength(uint256 given, uint256 expected);
    error LeafIndexMismatch(uint256 position, uint256 leafIndex);
    error NonceNotLeafIndex(uint256 leafIndex, uint256 nonce);
    error RunningTotalMismatch(uint256 leafIndex);
    error InvalidProof(uint256 position);

    /// What the server settled: the root, its request count and its units.
    struct Settled {
        bytes32 root;
        uint256 requestCount;
        uint64 units;
    }

    /// What the settlement manager compares with the attesters' commitments and the posted requests.
    struct Revealed {
        /// H(abi.encode(bytes32[] respHashes, uint64[] units)) of the sampled leaves, in order.
        bytes32 result;
        /// H(reqHash_k ‖ … for the sampled k), to compare with requests posted on-chain.
        bytes32 reqHashesDigest;
        /// The sampled leaves' units, in order: each within the `maxUnits` of its posted request.
        uint64[] units;
    }

    /// The reveal as the server sends it: the sampled leaves in the order of the sampled indices with their
    /// proofs, and the stack's last leaf with its proof.
    struct Reveal {
        AtomaTypedData.Leaf[] sampled;
        bytes32[][] proofs;
        AtomaTypedData.Leaf last;
        bytes32[] lastProof;
    }

    /// Checks `revealed` (an ABI-encoded `Reveal`, forwarded undecoded by `SettlementManager.reveal`): the sampled
    /// leaves at `indices` and the last leaf at `requestCount - 1` under the settled root. Reverts with the rule
    /// broken.
    function verify(Settled calldata settled, uint256[] calldata indices, bytes calldata revealed)
        external
        pure
        returns (Revealed memory r)
    {
        Reveal memory v = abi.decode(revealed, (Reveal));
        uint256 n = indices.length;
        if (v.sampled.length != n || v.proofs.length != n) revert WrongLength(v.sampled.length, n);
        bytes32[] memory respHashes = new bytes32[](n);
        uint64[] memory units = new uint64[](n);
        bytes32[] memory reqHashes = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            _check(settled, v.sampled[i], indices[i], v.proofs[i], i);
            respHashes[i] = v.sampled[i].respHash;
            units[i] = v.sampled[i].units;
            reqHashes[i] = v.sampled[i].reqHash;
        }
        _check(settled, v.last, settled.requestCount - 1, v.lastProof, n);
        if (v.last.cumulativeUnits != settled.units) revert RunningTotalMismatch(v.last.leafIndex);
        _checkPairs(v.sampled, v.last);
        r.result = keccak256(abi.encode(respHashes, units));
        r.reqHashesDigest = keccak256(abi.encodePacked(reqHashes));
        r.units = units;
    }

    function _check(
        Settled calldata settled,
        AtomaTypedData.Leaf memory leaf,
        uint256 index,
        bytes32[] memory proof,
        uint256 position
    ) internal pure {
        if (leaf.leafIndex != index) revert LeafIndexMismatch(position, leaf.leafIndex);
        if (leaf.nonce != leaf.leafIndex) revert NonceNotLeafIndex(leaf.leafIndex, leaf.nonce);
        if (
            LeafRules.brokenAlone(leaf.leafIndex, leaf.nonce, leaf.units, leaf.cumulativeUnits)
                || leaf.cumulativeUnits > settled.units
        ) revert RunningTotalMismatch(leaf.leafIndex);
        if (!StackTree.verify(proof, settled.root, AtomaTypedData.leafHash(leaf), index, settled.requestCount)) {
            revert InvalidProof(position);
        }
    }

    /// Every two revealed leaves must agree with each other (a handful of leaves: quadratic is fine).
    function _checkPairs(AtomaTypedData.Leaf[] memory sampled, AtomaTypedData.Leaf memory last) internal pure {
        uint256 n = sampled.length;
        for (uint256 i = 0; i <= n; ++i) {
            AtomaTypedData.Leaf memory a = i == n ? last : sampled[i];
            for (uint256 j = 0; j <= n; ++j) {
                AtomaTypedData.Leaf memory b = j == n ? last : sampled[j];
                if (LeafRules.brokenPair(a.leafIndex, a.cumulativeUnits, b.leafIndex, b.units, b.cumulativeUnits)) {
                    revert RunningTotalMismatch(b.leafIndex);
                }
            }
        }
    }
}
