// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";

/// @title SettlementEvidence: the sampled requests a server posts on-chain when an attester cannot fetch them.
/// @notice After an attester declares the inputs transcript unavailable, the server posts each sampled
/// owner-signed request in its own transaction, before the data deadline. Every request a node accepts is at most
/// `maxRequestBytes` long (the node's API refuses longer bodies), and that bound keeps one posting well inside a
/// block's gas: so an honest server can always answer, and a declaration it answers was false (the declarer loses
/// its bond, see `SettlementManager.declareTranscriptUnavailable`). Governance may raise the bound, never lower it
/// below what nodes already accepted. Under private self-selection a candidate may ask for them while the selection
/// window is open (`SettlementDraw.requestSelectionData`): the server then posts the window seed's sample the same
/// way, by the draw's data deadline, and the settlement manager holds their hashes for the reveal as before.
contract SettlementEvidence is AtomaAccess, ReentrancyGuardTransient {
    /// Gas one posted byte may cost: calldata at the EIP-7623 floor (40 per non-zero byte), the event's data (8)
    /// and hashing and copying, rounded up.
    uint256 public constant GAS_PER_POSTED_BYTE = 64;
    /// Gas of a posting besides its bytes: the signature check, storage and the event's fixed cost.
    uint256 public constant POSTING_OVERHEAD_GAS = 200_000;

    /// One owner-signed request of the inputs transcript.
    struct SignedRequest {
        bytes body;
        uint256 nonce;
        uint64 deadline;
        uint64 maxUnits;
        bytes signature;
    }

    ISettlementManager public immutable settlementManager;
    IStackManager public immutable stackManager;
    INodeRegistry public immutable nodeRegistry;
    /// The longest request body (canonical JSON bytes) a node accepts and a server may have to post.
    uint32 public maxRequestBytes;

    /// Request hashes posted so far, by position in the sampled order (zero while not posted).
    mapping(uint256 stackId => mapping(uint256 position => bytes32)) public postedRequest;
    mapping(uint256 stackId => uint256) public postedCount;
    /// The unit bound the owner signed with each posted request: the revealed leaf may not claim more.
    mapping(uint256 stackId => mapping(uint256 position => uint64)) public postedMaxUnits;

    event SampledRequestPosted(
        uint256 indexed stackId, uint256 indexed position, bytes32 reqHash, SignedRequest request
    );
    event MaxRequestBytesRaised(uint32 maxRequestBytes);

    error WrongPhase(uint256 stackId);
    error DataNotRequested(uint256 stackId);
    error DeadlinePassed(uint256 stackId, uint256 deadline);
    error NotServingNode(uint256 stackId, address caller);
    error InvalidPosition(uint256 position, uint256 sampleCount);
    error AlreadyPosted(uint256 stackId, uint256 position);
    error RequestTooLarge(uint256 length, uint256 maxRequestBytes);
    error InvalidRequestSignature(uint256 position);
    error PostedNonceNotIndex(uint256 position, uint256 nonce);
    /// A revealed sampled leaf claims more units than its posted, owner-signed request allows.
    error UnitsOverSigned(uint256 stackId, uint256 position, uint64 units, uint64 maxUnits);

    constructor(
        address admin,
        ISettlementManager settlementManager_,
        IStackManager stackManager_,
        INodeRegistry nodeRegistry_,
        uint32 maxRequestBytes_
    ) AtomaAccess(admin) {
        if (
            address(settlementManager_) == address(0) || address(stackManager_) == address(0)
                || address(nodeRegistry_) == address(0)
        ) revert ZeroAddress();
        settlementManager = settlementManager_;
        stackManager = stackManager_;
        nodeRegistry = nodeRegistry_;
        _setMaxRequestBytes(maxRequestBytes_);
    }

    /// Raises the bound on request bodies; never lowers it (a server must be able to post what it accepted).
    function setMaxRequestBytes(uint32 maxRequestBytes_) external onlyRole(GOVERNOR_ROLE) {
        _setMaxRequestBytes(maxRequestBytes_);
    }

    function _setMaxRequestBytes(uint32 value) internal {
        _check(value >= 1_024 && value >= maxRequestBytes, "maxRequestBytes", value);
        _check(postingGas(value) <= block.gaslimit / 2, "maxRequestBytes", value);
        maxRequestBytes = value;
        emit MaxRequestBytesRaised(value);
    }

    /// The most gas posting a request of `length` bytes takes.
    function postingGas(uint256 length) public pure returns (uint256) {
        return POSTING_OVERHEAD_GAS + length * GAS_PER_POSTED_BYTE;
    }

    /// The server posts the sampled request at `position` (in the order of `sampledIndices`), signed by the
    /// stack's owner with the sampled index as its nonce. Once every position is posted the settlement manager holds their hashes for the reveal.
    function postSampledRequest(uint256 stackId, uint256 position, SignedRequest calldata request)
        external
        nonReentrant
    {
        ISettlementManager.Settlement memory st = settlementManager.getSettlement(stackId);
        (uint256[] memory indices, uint256 deadline) = _asked(stackId, st);
        if (block.timestamp > deadline) revert DeadlinePassed(stackId, deadline);
        IStackManager.Stack memory stack = stackManager.getStack(stackId);
        if (!nodeRegistry.isNodeActor(stack.nodeId, msg.sender)) revert NotServingNode(stackId, msg.sender);
        if (position >= indices.length) revert InvalidPosition(position, indices.length);
        if (postedRequest[stackId][position] != 0) revert AlreadyPosted(stackId, position);
        if (request.body.length > maxRequestBytes) revert RequestTooLarge(request.body.length, maxRequestBytes);
        // The owner's k-th request carries nonce k (leaf k's nonce): a posted request is bound to the index it
        // stands for, so a server cannot post another of the owner's requests in a sampled one's place.
        if (request.nonce != indices[position]) {
            revert PostedNonceNotIndex(position, request.nonce);
        }
        bytes32 reqHash = keccak256(request.body);
        address signer = stackManager.recoverRequestSigner(
            AtomaTypedData.Request({
                stackId: stackId,
                reqHash: reqHash,
                nonce: request.nonce,
                deadline: request.deadline,
                maxUnits: request.maxUnits
            }),
            request.signature
        );
        if (signer == address(0) || signer != stack.owner) revert InvalidRequestSignature(position);
        postedRequest[stackId][position] = reqHash;
        postedMaxUnits[stackId][position] = request.maxUnits;
        uint256 count = ++postedCount[stackId];
        emit SampledRequestPosted(stackId, position, reqHash, request);
        if (count == indices.length) settlementManager.markDataPosted(stackId, postedHash(stackId, count));
    }

    /// The sampled indices whose requests the server was asked for, and its deadline: an attester's declaration
    /// (commit phase), or a candidate's request in the private selection window (the settlement still drawing).
    function _asked(uint256 stackId, ISettlementManager.Settlement memory st)
        internal
        view
        returns (uint256[] memory indices, uint256 deadline)
    {
        if (st.dataPosted) revert DataNotRequested(stackId);
        if (st.phase == ISettlementManager.Phase.Commit) {
            if (!st.dataRequested) revert DataNotRequested(stackId);
            return (settlementManager.sampledIndices(stackId), st.dataDeadline);
        }
        if (st.phase != ISettlementManager.Phase.Drawing) revert WrongPhase(stackId);
        (indices, deadline) = settlementManager.draws().dataAsked(stackId);
        if (deadline == 0) revert DataNotRequested(stackId);
    }

    /// Reverts `UnitsOverSigned` when a revealed sampled leaf (in sampled order) claims more units than the owner
    /// signed with the request posted at its position: the settlement manager refuses such a reveal.
    function checkRevealedUnits(uint256 stackId, uint64[] calldata units) external view {
        for (uint256 i = 0; i < units.length; ++i) {
            uint64 bound = postedMaxUnits[stackId][i];
            if (units[i] > bound) revert UnitsOverSigned(stackId, i, units[i], bound);
        }
    }

    /// The hash of the first `count` posted request hashes, in sampled order.
    function postedHash(uint256 stackId, uint256 count) public view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) hashes[i] = postedRequest[stackId][i];
        return keccak256(abi.encodePacked(hashes));
    }
}
