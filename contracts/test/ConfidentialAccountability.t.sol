// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";

/// A node's record is a commitment to the evidence it serves: the node signs `ServedEvidence(nodeId, epoch, hash)`
/// beside it, and a statement naming evidence it never posted is a provable lie (`reportUnposted`).
contract ConfidentialAccountabilityTest is ConfidentialSteps {
    uint256 internal cheat;
    uint256 internal honest;
    address internal buyer = address(0xB0B);

    function setUp() public {
        deployConfidential();
        cheat = addNode(0);
        honest = addNode(0);
    }

    function statement(uint256 nodeId, uint64 epoch, bytes32 evidenceHash) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(signerKey[nodeId], attestations.servedEvidenceDigest(nodeId, epoch, evidenceHash));
        return abi.encodePacked(r, s, v);
    }

    /// Attacker: a node with no TEE posts kind Tdx, the public allowed measurement and a made-up evidence hash, and
    /// serves clients other (unverifiable) evidence. Its signed statement beside the served evidence convicts it:
    /// the record is revoked (its draws end), it is slashed to the reporter, and it cannot re-post this epoch.
    function test_servingEvidenceNeverPostedIsRevokedAndSlashed() public {
        uint64 epoch = currentEpoch();
        attest(cheat);
        subscribe(confidential, cheat, PRICE);
        assertTrue(attestations.isCurrent(cheat), "current before");
        bytes32 served = keccak256("the quote it actually serves");
        bytes memory signed = statement(cheat, epoch, served);
        uint256 collateralBefore = nodes.getNode(cheat).collateral;
        nextEpoch(); // the hash convicts once its epoch is over: till then the node could still post it
        assertTrue(attestations.isCurrent(cheat), "still current until reported");
        vm.prank(buyer);
        uint256 slashed = attestations.reportUnposted(cheat, epoch, served, signed);
        assertTrue(slashed > 0, "slashed");
        assertEq(nodes.getNode(cheat).collateral, collateralBefore - slashed, "collateral taken");
        assertTrue(!attestations.isCurrent(cheat), "record revoked");
        assertTrue(!attestations.accepts(confidential, bytes32(0), cheat), "no level-3 draw takes it");
        // It cannot simply post again in this epoch or the next: a fresh record waits for the epoch after.
        uint256 until = nodes.currentEpoch() + 2;
        bytes32 fresh = nextEvidence();
        uint64 now_ = currentEpoch();
        vm.startPrank(operatorOf[cheat]);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.PostingBanned.selector, cheat, until));
        attestations.post(
            cheat, AttestationRegistry.Kind.Tdx, now_, fresh, bytes32("k"), GOOD, uint64(block.timestamp + 1 hours),
            false
        );
        vm.stopPrank();
        // The same lie is reported once.
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.StatementReported.selector, cheat, epoch, served));
        attestations.reportUnposted(cheat, epoch, served, signed);
    }

    /// Griefer: keeps an honest node's genuine statement of an old epoch and reports it epochs later, when the
    /// node holds a newer record. The statement is true for the epoch it names, so nothing happens.
    function test_anOldEpochStatementCannotReportAnHonestNode() public {
        uint64 first = currentEpoch();
        bytes32 old = attest(honest);
        bytes memory genuineOld = statement(honest, first, old);
        vm.warp(block.timestamp + nodes.EPOCH_LENGTH());
        bytes32 rotatedLater = attest(honest);
        bytes memory genuineLater = statement(honest, currentEpoch(), rotatedLater);
        vm.warp(block.timestamp + 3 * nodes.EPOCH_LENGTH());
        attest(honest);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidencePosted.selector, honest, old));
        attestations.reportUnposted(honest, first, old, genuineOld);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidencePosted.selector, honest, rotatedLater));
        attestations.reportUnposted(honest, first + 1, rotatedLater, genuineLater);
        vm.stopPrank();
        assertTrue(attestations.isCurrent(honest), "still current");
        assertEq(uint8(nodes.getNode(honest).status), uint8(INodeRegistry.NodeStatus.Active), "untouched");
    }

    /// Attacker: a node posts once, then keeps serving that old evidence as each later epoch's, signing the later
    /// epoch (it saves the posts, or no longer has the TEE that produced it). A hash posted in another epoch than
    /// the statement names is not its record for that epoch: reported and slashed.
    function test_oldEvidenceVouchedForALaterEpochIsSlashed() public {
        uint64 postedIn = currentEpoch();
        bytes32 old = attest(cheat);
        vm.warp(block.timestamp + nodes.EPOCH_LENGTH());
        uint64 later = currentEpoch();
        assertTrue(later > postedIn, "a later epoch");
        bytes memory lie = statement(cheat, later, old);
        uint256 collateralBefore = nodes.getNode(cheat).collateral;
        vm.prank(buyer);
        uint256 slashed = attestations.reportUnposted(cheat, later, old, lie);
        assertTrue(slashed > 0, "slashed");
        assertEq(nodes.getNode(cheat).collateral, collateralBefore - slashed, "collateral taken");
        assertTrue(!attestations.isCurrent(cheat), "record revoked");
    }

    /// Attacker: a node that posted this epoch (and rotated its key) serves yet another, unposted evidence for the
    /// current epoch. Its posts in the same epoch do not cover the unposted hash: slashed once the epoch is over.
    function test_unpostedEvidenceIsSlashedBesidePostsOnceTheEpochIsOver() public {
        uint64 epoch = currentEpoch();
        attest(cheat);
        attest(cheat);
        bytes32 unposted = keccak256("served but never posted");
        bytes memory lie = statement(cheat, epoch, unposted);
        nextEpoch();
        vm.prank(buyer);
        assertTrue(attestations.reportUnposted(cheat, epoch, unposted, lie) > 0, "slashed");
        assertTrue(!attestations.isCurrent(cheat), "record revoked");
    }

    /// Griefer: tries to get an honest node slashed with its genuine statements (evidence it did post, also an
    /// older one before a key rotation), or with a statement it signed itself.
    function test_anHonestNodeCannotBeReported() public {
        uint64 epoch = currentEpoch();
        bytes32 first = attest(honest);
        bytes32 rotated = attest(honest); // a key rotation within the epoch: a second record
        // Statements computed first: expectRevert applies to the next external call.
        bytes memory genuineFirst = statement(honest, epoch, first);
        bytes memory genuineRotated = statement(honest, epoch, rotated);
        bytes32 invented = keccak256("never served");
        // Signed by another node's key over the honest node's statement.
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(signerKey[cheat], attestations.servedEvidenceDigest(honest, epoch, invented));
        bytes memory forged = abi.encodePacked(r, s, v);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidencePosted.selector, honest, first));
        attestations.reportUnposted(honest, epoch, first, genuineFirst);
        vm.expectRevert(abi.encodeWithSelector(AttestationRegistry.EvidencePosted.selector, honest, rotated));
        attestations.reportUnposted(honest, epoch, rotated, genuineRotated);
        vm.expectRevert(
            abi.encodeWithSelector(
                AttestationRegistry.StatementSignatureInvalid.selector, honest, vm.addr(signerKey[cheat])
            )
        );
        attestations.reportUnposted(honest, epoch, invented, forged);
        vm.stopPrank();
        assertTrue(attestations.isCurrent(honest), "still current");
        assertEq(uint8(nodes.getNode(honest).status), uint8(INodeRegistry.NodeStatus.Active), "untouched");
    }
}
