// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../../src/common/AtomaTypedData.sol";
import {DisputeManager} from "../../src/disputes/DisputeManager.sol";
import {ISettlementManager} from "../../src/interfaces/ISettlementManager.sol";
import {SettlementEvidence} from "../../src/settlement/SettlementEvidence.sol";
import {SettlementManager} from "../../src/settlement/SettlementManager.sol";
import {AtomaFixture} from "./AtomaFixture.sol";

/// @notice The steps of a sampled settlement and its dispute, as the parties take them, for attack tests.
abstract contract SettlementSteps is AtomaFixture {
    function phaseOf(uint256 stackId) internal view returns (ISettlementManager.Phase) {
        return settlement.getSettlement(stackId).phase;
    }

    function attestersOf(uint256 stackId) internal view returns (uint256[] memory) {
        return settlement.attesterIdsOf(stackId);
    }

    /// The response hashes of `s` at the sampled indices, in sampled order.
    function sampledResps(uint256 stackId, Served memory s) internal view returns (bytes32[] memory resps) {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        resps = new bytes32[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) resps[i] = s.respHashes[idx[i]];
    }

    function commitAs(uint256 stackId, uint256 attester, bytes32[] memory resps) internal {
        vm.prank(vm.addr(signerKey[attester]));
        settlement.commitAttestation(stackId, attester, keccak256(abi.encodePacked(attester, resps)));
    }

    function revealAs(uint256 stackId, uint256 server, Served memory s) internal {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        bytes32[] memory reqs = new bytes32[](idx.length);
        bytes32[] memory resps = new bytes32[](idx.length);
        bytes32[][] memory proofs = new bytes32[][](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            reqs[i] = s.reqHashes[idx[i]];
            resps[i] = s.respHashes[idx[i]];
            proofs[i] = merkleProof(s.leaves, idx[i]);
        }
        vm.prank(vm.addr(signerKey[server]));
        settlement.reveal(stackId, reqs, resps, proofs);
    }

    /// Every committee member of `disputeId` commits and reveals `result`.
    function committeeVotes(uint256 disputeId, bytes32 result) internal {
        DisputeManager.Member[] memory members = disputes.committeeOf(disputeId);
        for (uint256 i = 0; i < members.length; ++i) {
            uint256 member = members[i].nodeId;
            bytes32 salt = keccak256(abi.encode("salt", member));
            bytes32 commitment = disputes.voteCommitment(disputeId, member, result, salt);
            vm.prank(vm.addr(signerKey[member]));
            disputes.commitVote(disputeId, member, commitment);
        }
        for (uint256 i = 0; i < members.length; ++i) {
            uint256 member = members[i].nodeId;
            vm.prank(vm.addr(signerKey[member]));
            disputes.revealVote(disputeId, member, result, keccak256(abi.encode("salt", member)));
        }
    }

    function claimableOf(uint256 nodeId) internal view returns (uint256 claimable) {
        (claimable,) = vault.nodeLedger(nodeId, nodes.currentEpoch());
    }

    /// Request `k` of the stack, signed by the owner, as the server posts it.
    function signedRequest(uint256 stackId, uint256 k, bytes memory body)
        internal
        view
        returns (SettlementEvidence.SignedRequest memory)
    {
        AtomaTypedData.Request memory r =
            AtomaTypedData.Request({stackId: stackId, reqHash: keccak256(body), nonce: k, deadline: 2e9});
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(USER_KEY, stacks.requestDigest(r));
        return SettlementEvidence.SignedRequest({body: body, nonce: k, deadline: 2e9, signature: abi.encodePacked(rr, ss, v)});
    }

    /// The server posts every sampled request, each in its own call.
    function postSampled(uint256 stackId, uint256 server) internal {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        for (uint256 i = 0; i < idx.length; ++i) {
            SettlementEvidence.SignedRequest memory r = signedRequest(stackId, idx[i], requestBody(stackId, idx[i]));
            vm.prank(vm.addr(signerKey[server]));
            evidence.postSampledRequest(stackId, i, r);
        }
    }
}
