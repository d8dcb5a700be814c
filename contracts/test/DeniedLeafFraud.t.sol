// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {ReceiptFraud} from "../src/settlement/ReceiptFraud.sol";
import {SettlementSteps} from "./lib/SettlementSteps.sol";

/// @notice A node that told the owner's leaf read "no leaf for request H at nonce N, and none will be committed"
/// (a signed `AtomaLeafDenial`) and then settled a leaf for H at N is slashed as for fraud; the honest reuse of the
/// freed nonce by another request, a denial for another stack, and a denial signed by anyone else prove nothing.
contract DeniedLeafFraudTest is SettlementSteps {
    uint256 internal plainTask;

    function setUp() public {
        deployAtoma();
        for (uint256 i = 0; i < 3; ++i) {
            addNode(1);
        }
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(plainTask, nodeIds[i], PRICE);
        }
        nextEpoch();
    }

    function _denial(uint256 stackId, uint256 nonce, bytes32 reqHash)
        internal
        pure
        returns (AtomaTypedData.LeafDenial memory)
    {
        return AtomaTypedData.LeafDenial({stackId: stackId, nonce: nonce, reqHash: reqHash});
    }

    function _signDenial(uint256 key, AtomaTypedData.LeafDenial memory d) internal view returns (bytes memory) {
        bytes32 digest = MessageHashUtils.toTypedDataHash(stacks.domainSeparator(), AtomaTypedData.hashLeafDenial(d));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// A stack served and settled with 4 honest leaves; the node signed a denial of leaf `k`'s request at `k`.
    function _settledAfterDenial(uint256 k)
        internal
        returns (
            uint256 stackId,
            uint256 server,
            Served memory s,
            AtomaTypedData.LeafDenial memory d,
            bytes memory signature
        )
    {
        (stackId, server) = buy(plainTask, 1_000_000);
        s = serve(stackId, 4, "honest", 400);
        d = _denial(stackId, k, s.leaves[k].reqHash);
        signature = _signDenial(signerKey[server], d);
        settleServedAs(stackId, server, s, 400);
    }

    function test_aSettledLeafForTheDeniedRequestProvesFraud() public {
        (uint256 stackId, uint256 server, Served memory s, AtomaTypedData.LeafDenial memory d, bytes memory sig) =
            _settledAfterDenial(2);
        uint256 before = vault.balanceOf(user);
        assertEq(
            uint256(receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[2], stackProof(s.hashes, 2))),
            uint256(receiptFraud.KIND_DENIED_LEAF()),
            "KIND_DENIED_LEAF"
        );
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
        assertTrue(nodes.getNode(server).status == INodeRegistry.NodeStatus.Slashed, "barred");
        assertTrue(receiptFraud.proven(stackId), "recorded");
        assertTrue(settlement.fraudProven(stackId), "the settlement manager knows");
        assertGe(vault.balanceOf(user), before + COLLATERAL * 3_000 / 10_000, "owner refunded and given its share");
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.AlreadyProven.selector, stackId));
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[2], stackProof(s.hashes, 2));
    }

    /// The owner gave the freed nonce to another request H': its leaf there is the honest reuse, no fraud.
    function test_anotherRequestsLeafAtTheDeniedNonceIsNoFraud() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 400);
        bytes32 denied = keccak256("the cut request");
        AtomaTypedData.LeafDenial memory d = _denial(stackId, 1, denied);
        bytes memory sig = _signDenial(signerKey[server], d);
        settleServedAs(stackId, server, s, 400);
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.LeafForOtherRequest.selector, denied, s.leaves[1].reqHash));
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[1], stackProof(s.hashes, 1));
        assertTrue(nodes.getNode(server).collateral > 0, "not slashed");
    }

    /// The denied request's leaf at another nonce (the owner signed it afresh there) is no fraud either.
    function test_theDeniedRequestAtAnotherNonceIsNoFraud() public {
        (uint256 stackId,, Served memory s, AtomaTypedData.LeafDenial memory d, bytes memory sig) =
            _settledAfterDenial(1);
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.LeafNotAtDeniedNonce.selector, 1, 2));
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[2], stackProof(s.hashes, 2));
    }

    /// A denial signed for one stack replayed against another stack of the same node is refused.
    function test_aDenialReplayedForAnotherStackIsRefused() public {
        (uint256 stackId, uint256 server, Served memory s, AtomaTypedData.LeafDenial memory d, bytes memory sig) =
            _settledAfterDenial(2);
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.DenialForOtherStack.selector, stackId + 1, stackId));
        receiptFraud.proveDeniedLeaf(stackId + 1, d, sig, s.leaves[2], stackProof(s.hashes, 2));
        // Rewritten to name the other stack, the node's signature no longer recovers to it.
        AtomaTypedData.LeafDenial memory moved = _denial(stackId + 1, d.nonce, d.reqHash);
        vm.expectRevert(ReceiptFraud.InvalidDenialSignature.selector);
        receiptFraud.proveDeniedLeaf(stackId + 1, moved, sig, s.leaves[2], stackProof(s.hashes, 2));
        assertTrue(nodes.getNode(server).collateral > 0, "not slashed");
    }

    /// A denial not signed by the stack's node (the owner forging one, another node's key, garbage) proves nothing.
    function test_aDenialSignedByAnyoneElseIsRefused() public {
        (uint256 stackId, uint256 server, Served memory s, AtomaTypedData.LeafDenial memory d,) = _settledAfterDenial(2);
        uint256 other = nodeIds[0] == server ? nodeIds[1] : nodeIds[0];
        bytes32[] memory proof = stackProof(s.hashes, 2);
        bytes memory byOtherNode = _signDenial(signerKey[other], d);
        bytes memory byStranger = _signDenial(0xA11CE, d);
        vm.expectRevert(ReceiptFraud.InvalidDenialSignature.selector);
        receiptFraud.proveDeniedLeaf(stackId, d, byOtherNode, s.leaves[2], proof);
        vm.expectRevert(ReceiptFraud.InvalidDenialSignature.selector);
        receiptFraud.proveDeniedLeaf(stackId, d, byStranger, s.leaves[2], proof);
        vm.expectRevert(ReceiptFraud.InvalidDenialSignature.selector);
        receiptFraud.proveDeniedLeaf(stackId, d, hex"00", s.leaves[2], proof);
        assertTrue(nodes.getNode(server).collateral > 0, "not slashed");
    }

    /// The node's own denial with v - 27 (0/1) recovers to address 0 on-chain: no evidence. This is why the clients
    /// take no such signature as a denial, and why the chain package sends every signature with v 27/28.
    function test_aDenialWithVMinus27IsNoSignatureOnChain() public {
        (uint256 stackId, uint256 server, Served memory s, AtomaTypedData.LeafDenial memory d, bytes memory sig) =
            _settledAfterDenial(2);
        bytes32[] memory proof = stackProof(s.hashes, 2);
        bytes memory yParity = bytes.concat(sig);
        yParity[64] = bytes1(uint8(sig[64]) - 27);
        vm.expectRevert(ReceiptFraud.InvalidDenialSignature.selector);
        receiptFraud.proveDeniedLeaf(stackId, d, yParity, s.leaves[2], proof);
        assertTrue(nodes.getNode(server).collateral > 0, "not slashed by it");
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[2], proof);
        assertEq(nodes.getNode(server).collateral, 0, "the same signature with v 27/28 convicts");
    }

    /// A leaf for the denied request that is not under the settled root, or a stack not settled yet, proves nothing.
    function test_aLeafNotUnderTheSettledRootIsRefused() public {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 400);
        AtomaTypedData.LeafDenial memory d = _denial(stackId, 2, s.leaves[2].reqHash);
        bytes memory sig = _signDenial(signerKey[server], d);
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.NotSettled.selector, stackId));
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[2], stackProof(s.hashes, 2));
        settleServedAs(stackId, server, s, 400);
        AtomaTypedData.Leaf memory madeUp = s.leaves[2];
        madeUp.units += 1;
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.InvalidProof.selector, 0));
        receiptFraud.proveDeniedLeaf(stackId, d, sig, madeUp, stackProof(s.hashes, 2));
        vm.expectRevert(abi.encodeWithSelector(ReceiptFraud.InvalidProof.selector, 0));
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[2], stackProof(s.hashes, 1));
        assertTrue(nodes.getNode(server).collateral > 0, "not slashed");
    }

    /// Whatever request hash and nonce a node denies, only the settled leaf at that nonce for that request convicts.
    function testFuzz_onlyTheDeniedRequestAtTheDeniedNonceConvicts(uint8 nonceSeed, bytes32 denied, uint8 atSeed)
        public
    {
        (uint256 stackId, uint256 server) = buy(plainTask, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 400);
        uint256 nonce = uint256(nonceSeed) % 4;
        uint256 shown = uint256(atSeed) % 4;
        AtomaTypedData.LeafDenial memory d = _denial(stackId, nonce, denied);
        bytes memory sig = _signDenial(signerKey[server], d);
        settleServedAs(stackId, server, s, 400);
        bool fraud = shown == nonce && s.leaves[shown].reqHash == denied;
        if (!fraud) vm.expectRevert();
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[shown], stackProof(s.hashes, shown));
        assertTrue(receiptFraud.proven(stackId) == fraud, "convicted exactly when fraud");
    }

    /// The fuzzed twin that convicts: any nonce of the stack, the node's denial of the request it then settled there.
    function testFuzz_aDeniedRequestSettledAtItsNonceAlwaysConvicts(uint8 nonceSeed) public {
        uint256 nonce = uint256(nonceSeed) % 4;
        (uint256 stackId, uint256 server, Served memory s, AtomaTypedData.LeafDenial memory d, bytes memory sig) =
            _settledAfterDenial(nonce);
        receiptFraud.proveDeniedLeaf(stackId, d, sig, s.leaves[nonce], stackProof(s.hashes, nonce));
        assertEq(nodes.getNode(server).collateral, 0, "slashed");
    }
}
