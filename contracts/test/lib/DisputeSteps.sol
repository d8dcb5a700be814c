// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsensusCommitment} from "../../src/common/ConsensusCommitment.sol";
import {AtomaTypedData} from "../../src/common/AtomaTypedData.sol";
import {ResultUnits} from "../../src/common/ResultUnits.sol";
import {DisputeManager} from "../../src/disputes/DisputeManager.sol";
import {IDisputeManager} from "../../src/interfaces/IDisputeManager.sol";
import {AtomaFixture} from "./AtomaFixture.sol";

/// @notice The steps of a dispute as nodes take them: drawing the committee, the server's evidence, and members'
/// ballots (what each computed, sealed, revealed and shown).
abstract contract DisputeSteps is AtomaFixture {
    /// What one member computed and how it votes. With no outputs it declares the data unavailable.
    struct Ballot {
        bytes[] outputs;
        bytes32[] respHashes;
        uint64[] units;
        bytes32[] works;
        bytes32 claim;
        bytes32 work;
        bytes32 salt;
    }

    /// The bytes whose hash is response k of `serve(stackId, count, salt)`.
    function outputOf(uint256 stackId, uint256 k, bytes32 salt) internal view returns (bytes memory) {
        return responseBody(stackId, k, salt, servedLeafUnits[stackId][k]);
    }

    /// The outputs of the settlement's sampled requests, as a node running with `salt` computes them.
    function sampledOutputs(uint256 stackId, bytes32 salt) internal view returns (bytes[] memory outputs) {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        outputs = new bytes[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            outputs[i] = outputOf(stackId, idx[i], salt);
        }
    }

    /// A settlement-dispute ballot: claim H(abi.encode(respHashes, units)) with each output's units read from
    /// its usage, work H(H(nodeId ‖ out_1) ‖ …).
    function ballot(uint256 member, bytes[] memory outputs) internal pure returns (Ballot memory b) {
        b.outputs = outputs;
        b.respHashes = new bytes32[](outputs.length);
        b.units = new uint64[](outputs.length);
        b.works = new bytes32[](outputs.length);
        for (uint256 i = 0; i < outputs.length; ++i) {
            b.respHashes[i] = keccak256(outputs[i]);
            b.units[i] = uint64(ResultUnits.unitsOf(outputs[i]));
            b.works[i] = keccak256(abi.encodePacked(member, outputs[i]));
        }
        b.claim = keccak256(abi.encode(b.respHashes, b.units));
        b.work = keccak256(abi.encodePacked(b.works));
        b.salt = keccak256(abi.encode("salt", member));
    }

    /// The bytes a consensus-dispute member shows: the output followed by its uint64 units, so that the leaf
    /// H(output ‖ units ‖ i) is H(shown ‖ i).
    function consensusShown(bytes memory output, uint64 units) internal pure returns (bytes memory) {
        return abi.encodePacked(output, units);
    }

    /// A consensus-dispute ballot: claim the root of the output and units over n nodes, work H(H(nodeId ‖ shown)).
    function consensusBallot(uint256 member, bytes memory output, uint64 units, uint256 n)
        internal
        pure
        returns (Ballot memory b)
    {
        b.outputs = new bytes[](1);
        b.outputs[0] = consensusShown(output, units);
        b.works = new bytes32[](1);
        b.works[0] = keccak256(abi.encodePacked(member, b.outputs[0]));
        b.claim = ConsensusCommitment.root(output, units, n);
        b.work = keccak256(abi.encodePacked(b.works));
        b.salt = keccak256(abi.encode("salt", member));
    }

    function unavailableBallot(uint256 member) internal view returns (Ballot memory b) {
        b.claim = disputes.UNAVAILABLE();
        b.salt = keccak256(abi.encode("salt", member));
    }

    function disputeParams(DisputeManager manager) internal view returns (DisputeManager.Params memory p) {
        (
            p.committeeSize,
            p.minCommittee,
            p.drawRounds,
            p.commitWindow,
            p.revealWindow,
            p.evidenceWindow,
            p.redrawDelay,
            p.maxEvidenceBytes
        ) = manager.params();
    }

    /// Mines past the block that seeds the draw and draws (a second call when the first only armed it).
    function draw(uint256 disputeId) internal {
        vm.roll(block.number + 2);
        disputes.drawCommittee(disputeId);
        if (!disputes.getDispute(disputeId).drawn && disputes.getDispute(disputeId).drawBlock != 0) {
            vm.roll(block.number + 2);
            disputes.drawCommittee(disputeId);
        }
    }

    function committeeIds(uint256 disputeId) internal view returns (uint256[] memory ids) {
        DisputeManager.Member[] memory members = disputes.committeeOf(disputeId);
        ids = new uint256[](members.length);
        for (uint256 i = 0; i < members.length; ++i) {
            ids[i] = members[i].nodeId;
        }
    }

    /// The owner-signed requests of the settlement's sample (request k carries nonce k in these tests).
    function evidenceOf(uint256 stackId) internal view returns (IDisputeManager.EvidenceRequest[] memory reqs) {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        reqs = new IDisputeManager.EvidenceRequest[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            bytes memory body = requestBody(stackId, idx[i]);
            AtomaTypedData.Request memory r = AtomaTypedData.Request({
                stackId: stackId, reqHash: keccak256(body), nonce: idx[i], deadline: 2e9, maxUnits: 1e9
            });
            (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(USER_KEY, stacks.requestDigest(r));
            reqs[i] = IDisputeManager.EvidenceRequest({
                body: body, nonce: idx[i], deadline: 2e9, maxUnits: 1e9, signature: abi.encodePacked(rr, ss, v)
            });
        }
    }

    /// The request hashes of the revealed leaves of `claimed` (what it settled), in sampled order.
    function revealedReqHashes(uint256 stackId, Served memory claimed) internal view returns (bytes32[] memory reqs) {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        reqs = new bytes32[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            reqs[i] = claimed.leaves[idx[i]].reqHash;
        }
    }

    /// The server posts every sampled request of `claimed` (what it settled) in one transaction.
    function postEvidence(uint256 disputeId, uint256 stackId, uint256 server, Served memory claimed) internal {
        bytes32[] memory reqs = revealedReqHashes(stackId, claimed);
        vm.prank(vm.addr(signerKey[server]));
        disputes.postEvidence(disputeId, 0, evidenceOf(stackId), reqs);
    }

    function shownOf(Ballot memory b) internal pure returns (DisputeManager.Shown memory) {
        return DisputeManager.Shown({
            from: 0, outputs: b.outputs, respHashes: b.respHashes, units: b.units, works: b.works
        });
    }

    function commitBallot(uint256 disputeId, uint256 member, Ballot memory b) internal {
        bytes32 c = disputes.voteCommitment(disputeId, member, b.claim, b.work, b.salt);
        vm.prank(vm.addr(signerKey[member]));
        disputes.commitVote(disputeId, member, c);
    }

    function revealBallot(uint256 disputeId, uint256 member, Ballot memory b) internal {
        vm.prank(vm.addr(signerKey[member]));
        disputes.revealVote(disputeId, member, b.claim, b.work, b.salt);
    }

    function showBallot(uint256 disputeId, uint256 member, Ballot memory b) internal {
        if (b.outputs.length == 0) return;
        vm.prank(vm.addr(signerKey[member]));
        disputes.substantiate(disputeId, member, shownOf(b));
    }

    /// Every member commits, then reveals, then shows its ballot.
    function cast(uint256 disputeId, uint256[] memory members, Ballot[] memory ballots) internal {
        for (uint256 i = 0; i < members.length; ++i) {
            commitBallot(disputeId, members[i], ballots[i]);
        }
        for (uint256 i = 0; i < members.length; ++i) {
            revealBallot(disputeId, members[i], ballots[i]);
        }
        for (uint256 i = 0; i < members.length; ++i) {
            showBallot(disputeId, members[i], ballots[i]);
        }
    }

    /// Every member computes with `salt` (honest members the honest salt) and votes for what it got.
    function castHonest(uint256 disputeId, uint256 stackId, uint256[] memory members, bytes32 salt) internal {
        Ballot[] memory ballots = new Ballot[](members.length);
        for (uint256 i = 0; i < members.length; ++i) {
            ballots[i] = ballot(members[i], sampledOutputs(stackId, salt));
        }
        cast(disputeId, members, ballots);
    }
}
