// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {LeafRules} from "../common/LeafRules.sol";
import {ResultUnits} from "../common/ResultUnits.sol";
import {StackTree} from "../common/StackTree.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";

/// @title ReceiptFraud: proofs, from what a node signed or settled, that it billed what it did not serve.
/// @notice Anyone holding the evidence may submit it, at any time: node-signed responses (receipts) that cannot all
/// be honest — a nonce that is not the leaf index, running totals that do not add up (from zero, between
/// neighbouring leaves, beyond the stack), one nonce at two leaves, units that are not the usage of the answer
/// signed — or leaves under the node's settled root that break the same rules (anyone holding the inputs
/// transcript rebuilds them), or a settled leaf for a request the node swore, signing an `AtomaLeafDenial`, it never
/// would commit at that nonce. The node is slashed as for fraud (the stack's owner takes the user's share) and is
/// never paid for the stack: the owner is refunded unless the stack was already paid out. One proof per stack.
/// A proof always finds the collateral still there for at least the exit notice after the stack closed: the node
/// registry keeps a node's collateral until `TaskRegistry.exitNotice` has passed since both its deregistration and
/// the end of its last obligation (a stack is one until it is finalized or failed).
contract ReceiptFraud is AtomaAccess, ReentrancyGuardTransient {
    uint8 public constant KIND_NONCE = 1;
    uint8 public constant KIND_TOTAL = 2;
    uint8 public constant KIND_OVER_STACK = 3;
    uint8 public constant KIND_RUNNING_TOTAL = 4;
    uint8 public constant KIND_SAME_NONCE = 5;
    uint8 public constant KIND_UNITS = 6;
    uint8 public constant KIND_SETTLED_LEAF = 7;
    uint8 public constant KIND_DENIED_LEAF = 8;

    IStackManager public immutable stackManager;
    INodeRegistry public immutable nodeRegistry;
    ISettlementManager public immutable settlementManager;

    mapping(uint256 stackId => bool) public proven;

    event FraudProven(
        uint256 indexed stackId, uint256 indexed nodeId, uint8 kind, address indexed prover, uint256 refunded
    );

    error NoFraud();
    error AlreadyProven(uint256 stackId);
    error InvalidResponseSignature(uint256 position);
    error ResponseForOtherStack(uint256 stackId, uint256 responseStackId);
    error ResultHashMismatch();
    error NotSettled(uint256 stackId);
    error InvalidProof(uint256 position);
    error WrongLength(uint256 given);
    error DenialForOtherStack(uint256 stackId, uint256 denialStackId);
    error InvalidDenialSignature();
    error LeafNotAtDeniedNonce(uint256 nonce, uint256 leafIndex);
    error LeafForOtherRequest(bytes32 denied, bytes32 settled);

    constructor(
        address admin,
        IStackManager stackManager_,
        INodeRegistry nodeRegistry_,
        ISettlementManager settlementManager_
    ) AtomaAccess(admin) {
        stackManager = stackManager_;
        nodeRegistry = nodeRegistry_;
        settlementManager = settlementManager_;
    }

    /// One signed response that cannot be honest: its nonce is not its leaf index, its running total is below its
    /// own units (or, at leaf 0, not its units), or its running total exceeds the units the stack bought.
    function proveResponse(AtomaTypedData.Response calldata r, bytes calldata signature)
        external
        nonReentrant
        returns (uint8 kind)
    {
        IStackManager.Stack memory stack = _signed(r, signature, r.stackId, 0);
        if (r.nonce != r.leafIndex) kind = KIND_NONCE;
        else if (LeafRules.brokenAlone(r.leafIndex, r.nonce, r.units, r.cumulativeUnits)) kind = KIND_TOTAL;
        else if (r.cumulativeUnits > stack.units) kind = KIND_OVER_STACK;
        else revert NoFraud();
        _convict(r.stackId, stack, kind);
    }

    /// Two signed responses of one stack that cannot both be honest: one nonce at two leaf indices, or running
    /// totals that do not add up (neighbours: cum(i+1) ≠ cum(i) + units(i+1); further apart: a later total below
    /// the earlier one plus the later units).
    function proveResponses(
        AtomaTypedData.Response calldata a,
        bytes calldata signatureA,
        AtomaTypedData.Response calldata b,
        bytes calldata signatureB
    ) external nonReentrant returns (uint8 kind) {
        IStackManager.Stack memory stack = _signed(a, signatureA, a.stackId, 0);
        _signed(b, signatureB, a.stackId, 1);
        if (a.leafIndex != b.leafIndex && a.nonce == b.nonce) {
            kind = KIND_SAME_NONCE;
        } else if (
            LeafRules.brokenPair(a.leafIndex, a.cumulativeUnits, b.leafIndex, b.units, b.cumulativeUnits)
                || LeafRules.brokenPair(b.leafIndex, b.cumulativeUnits, a.leafIndex, a.units, a.cumulativeUnits)
        ) {
            kind = KIND_RUNNING_TOTAL;
        } else {
            revert NoFraud();
        }
        _convict(a.stackId, stack, kind);
    }

    /// A signed response whose units are not the prompt plus completion tokens of the answer it signed:
    /// `result` is the answer's result bytes (`keccak256(result) == respHash`), whose usage is read on-chain.
    function proveUnits(AtomaTypedData.Response calldata r, bytes calldata signature, bytes calldata result)
        external
        nonReentrant
        returns (uint8 kind)
    {
        IStackManager.Stack memory stack = _signed(r, signature, r.stackId, 0);
        if (keccak256(result) != r.respHash) revert ResultHashMismatch();
        if (ResultUnits.unitsOf(result) == r.units) revert NoFraud();
        kind = KIND_UNITS;
        _convict(r.stackId, stack, kind);
    }

    /// One or two leaves under the stack's settled root (each at its index, with its positional proof) that break
    /// a rule: alone (nonce, totals, a total beyond the settled units, a last leaf whose total is not them) or
    /// together (totals that do not add up).
    function proveSettledLeaves(uint256 stackId, AtomaTypedData.Leaf[] calldata leaves, bytes32[][] calldata proofs)
        external
        nonReentrant
        returns (uint8 kind)
    {
        if (leaves.length == 0 || leaves.length > 2 || proofs.length != leaves.length) {
            revert WrongLength(leaves.length);
        }
        ISettlementManager.Settlement memory st = settlementManager.getSettlement(stackId);
        if (st.root == bytes32(0)) revert NotSettled(stackId);
        bool broken;
        for (uint256 i = 0; i < leaves.length; ++i) {
            AtomaTypedData.Leaf calldata l = leaves[i];
            if (!StackTree.verify(proofs[i], st.root, AtomaTypedData.leafHash(l), l.leafIndex, st.requestCount)) {
                revert InvalidProof(i);
            }
            broken = broken || LeafRules.brokenAlone(l.leafIndex, l.nonce, l.units, l.cumulativeUnits)
                || l.cumulativeUnits > st.units || (l.leafIndex + 1 == st.requestCount && l.cumulativeUnits != st.units);
        }
        if (leaves.length == 2) {
            (AtomaTypedData.Leaf calldata a, AtomaTypedData.Leaf calldata b) = (leaves[0], leaves[1]);
            broken = broken
                || LeafRules.brokenPair(a.leafIndex, a.cumulativeUnits, b.leafIndex, b.units, b.cumulativeUnits)
                || LeafRules.brokenPair(b.leafIndex, b.cumulativeUnits, a.leafIndex, a.units, a.cumulativeUnits);
        }
        if (!broken) revert NoFraud();
        kind = KIND_SETTLED_LEAF;
        _convict(stackId, stackManager.getStack(stackId), kind);
    }

    /// A leaf under the stack's settled root, at the index the node's signed `AtomaLeafDenial` named, answering the very
    /// request it denied: the node swore no leaf for that request would stand at that nonce, and billed one there.
    /// Another request's leaf at that nonce (the owner gave the nonce to it) is no fraud.
    function proveDeniedLeaf(
        uint256 stackId,
        AtomaTypedData.LeafDenial calldata denial,
        bytes calldata signature,
        AtomaTypedData.Leaf calldata leaf,
        bytes32[] calldata proof
    ) external nonReentrant returns (uint8 kind) {
        if (denial.stackId != stackId) revert DenialForOtherStack(stackId, denial.stackId);
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        bytes32 digest = MessageHashUtils.toTypedDataHash(
            stackManager.domainSeparator(), AtomaTypedData.hashLeafDenial(denial)
        );
        (address signer,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (signer == address(0) || signer != nodeRegistry.signerOf(stack.nodeId)) revert InvalidDenialSignature();
        if (leaf.leafIndex != denial.nonce) revert LeafNotAtDeniedNonce(denial.nonce, leaf.leafIndex);
        if (leaf.reqHash != denial.reqHash) revert LeafForOtherRequest(denial.reqHash, leaf.reqHash);
        ISettlementManager.Settlement memory st = settlementManager.getSettlement(stackId);
        if (st.root == bytes32(0)) revert NotSettled(stackId);
        if (!StackTree.verify(proof, st.root, AtomaTypedData.leafHash(leaf), leaf.leafIndex, st.requestCount)) {
            revert InvalidProof(0);
        }
        kind = KIND_DENIED_LEAF;
        _convict(stackId, stack, kind);
    }

    /// The stack of a response its serving node signed.
    function _signed(AtomaTypedData.Response calldata r, bytes calldata signature, uint256 stackId, uint256 position)
        internal
        view
        returns (IStackManager.Stack memory stack)
    {
        if (r.stackId != stackId) revert ResponseForOtherStack(stackId, r.stackId);
        stack = stackManager.getStack(stackId);
        address signer = stackManager.recoverResponseSigner(r, signature);
        if (signer == address(0) || signer != nodeRegistry.signerOf(stack.nodeId)) {
            revert InvalidResponseSignature(position);
        }
    }

    function _convict(uint256 stackId, IStackManager.Stack memory stack, uint8 kind) internal {
        if (proven[stackId]) revert AlreadyProven(stackId);
        proven[stackId] = true;
        uint256 refunded = settlementManager.onReceiptFraud(stackId);
        nodeRegistry.slashFraud(stack.nodeId, stack.owner, new uint256[](0));
        emit FraudProven(stackId, stack.nodeId, kind, msg.sender, refunded);
    }
}
