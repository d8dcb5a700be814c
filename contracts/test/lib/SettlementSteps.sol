// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../../src/common/AtomaTypedData.sol";
import {ISettlementManager} from "../../src/interfaces/ISettlementManager.sol";
import {SettlementEvidence} from "../../src/settlement/SettlementEvidence.sol";
import {DisputeSteps} from "./DisputeSteps.sol";

/// @notice The steps of a sampled settlement and its dispute, as the parties take them, for attack tests.
abstract contract SettlementSteps is DisputeSteps {
    /// The server settles the stack on the root of `s`, billing `units` for its leaves.
    function settleServedAs(uint256 stackId, uint256 server, Served memory s, uint64 units) internal {
        settleAs(stackId, server, s.root, units, uint64(s.leaves.length));
    }

    function phaseOf(uint256 stackId) internal view returns (ISettlementManager.Phase) {
        return settlement.getSettlement(stackId).phase;
    }

    function attestersOf(uint256 stackId) internal view returns (uint256[] memory) {
        return settlement.attesterIdsOf(stackId);
    }

    /// The attester commits to the leaves of `s` at the sampled indices (their response hashes and units).
    function commitAs(uint256 stackId, uint256 attester, Served memory s) internal {
        commitResultAs(stackId, attester, resultOf(settlement.sampledIndices(stackId), s));
    }

    /// The attester commits to `result` = H(abi.encode(respHashes, units)) of what it recomputed, with its salt.
    function commitResultAs(uint256 stackId, uint256 attester, bytes32 result) internal {
        commitResult(stackId, attester, result);
    }

    /// The server reveals the sampled leaves of `s` and its last leaf, with their positional proofs, and every
    /// attester opens its commitment.
    function revealAs(uint256 stackId, uint256 server, Served memory s) internal {
        revealOnlyAs(stackId, server, s);
        openAttestations(stackId);
    }

    /// The server reveals; nobody opens yet.
    function revealOnlyAs(uint256 stackId, uint256 server, Served memory s) internal {
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), s);
        vm.prank(vm.addr(signerKey[server]));
        settlement.reveal(stackId, revealed);
    }

    function claimableOf(uint256 nodeId) internal view returns (uint256 claimable) {
        (claimable,) = vault.nodeLedger(nodeId, nodes.currentEpoch());
    }

    /// Request `k` of the stack (nonce k: the owner's k-th request), signed by the owner, as the server posts it.
    function signedRequest(uint256 stackId, uint256 k, bytes memory body)
        internal
        view
        returns (SettlementEvidence.SignedRequest memory)
    {
        return signedRequest(stackId, k, body, 1e9);
    }

    /// The same, the owner bounding the request to `maxUnits`.
    function signedRequest(uint256 stackId, uint256 k, bytes memory body, uint64 maxUnits)
        internal
        view
        returns (SettlementEvidence.SignedRequest memory)
    {
        AtomaTypedData.Request memory r = AtomaTypedData.Request({
            stackId: stackId, reqHash: keccak256(body), nonce: k, deadline: 2e9, maxUnits: maxUnits
        });
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(USER_KEY, stacks.requestDigest(r));
        return SettlementEvidence.SignedRequest({
            body: body, nonce: k, deadline: 2e9, maxUnits: maxUnits, signature: abi.encodePacked(rr, ss, v)
        });
    }

    /// Every sampled request of the stack, in sampled order, signed by the owner with the bound `maxUnits`.
    function signedSampledRequests(uint256 stackId, uint64 maxUnits)
        internal
        view
        returns (SettlementEvidence.SignedRequest[] memory reqs)
    {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        reqs = new SettlementEvidence.SignedRequest[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            reqs[i] = signedRequest(stackId, idx[i], requestBody(stackId, idx[i]), maxUnits);
        }
    }

    /// The attester says it could not fetch the transcript: the server must post the sampled requests on-chain.
    function declareUnavailableAs(uint256 stackId, uint256 attester) internal {
        vm.prank(vm.addr(signerKey[attester]));
        settlement.declareTranscriptUnavailable(stackId, attester);
    }

    /// The server posts `reqs` at their sampled positions, each in its own call.
    function postRequestsAs(uint256 stackId, uint256 server, SettlementEvidence.SignedRequest[] memory reqs)
        internal
    {
        for (uint256 i = 0; i < reqs.length; ++i) {
            vm.prank(vm.addr(signerKey[server]));
            evidence.postSampledRequest(stackId, i, reqs[i]);
        }
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
