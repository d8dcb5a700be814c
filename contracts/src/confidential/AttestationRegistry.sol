// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {IAttestationRegistry} from "../interfaces/IAttestationRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {IStackServing} from "../interfaces/IStackServing.sol";
import {ReportWindow} from "../common/ReportWindow.sol";
import {Units} from "../common/Units.sol";

/// @title AttestationRegistry: each confidential node's current attestation record, and the measurements
/// governance allows per task or per model.
/// @notice The chain cannot check a TDX quote; clients do that (packages/confidential) before they send a byte.
/// What the chain holds is the node's commitment: the hash of the evidence it serves (`attestationRecord` of the
/// core package), the X25519 key the evidence binds, the measurement it reports, the epoch its report data binds
/// and an expiry. A node serves a confidential task only while that record is current and its measurement is
/// allowed; the dev kind (evidence signed by a local test authority) only where governance allowed it for the
/// task or the whole network, never by default.
/// @notice Replays: each evidence hash is accepted once per node, ever, and the epoch it names must be the current
/// one, so an old (expired) evidence cannot be posted again to extend a record. The set is per node: the evidence's
/// report data binds the node's signer, so another node gains nothing by posting a copied hash, and a copy posted
/// first (front-running the mempool, or hashing the quote the victim serves) no longer blocks the victim's post.
/// @notice Accountability: a node serves its epoch evidence with a statement its signer signed, "this evidence (hash)
/// is my record on-chain" (`ServedEvidence`, EIP-712 over this registry). A statement naming evidence the node never
/// posted for that epoch is a provable lie: anyone submits it (`reportUnposted`), the node's record is revoked, it may
/// not post again until the next epoch but one, and it is slashed as for a timeout (`NodeRegistry.slashTimeout`), the
/// reporter taking the user's share. The epoch is part of the claim: each posted hash is kept with the epoch it was
/// posted in (always the current one), so old evidence vouched for as a later epoch's is a lie too, while every hash
/// an honest node posted, each key rotation's within an epoch included, stays true for its own epoch. So a node must commit on-chain to the very bytes it serves; whether those
/// bytes are a genuine TDX quote is still checked by clients (DCAP), not here.
/// @notice Refunds: each buyer of a level-3 stack the node served during the lying statement's epoch (not closed
/// or settled before it began) has the node slashed once more for its stack (`refundUnposted`, anyone may call it),
/// the user's share going to the stack's owner whoever sends it, so a reporter racing the buyer takes nothing from
/// it. A refund waits for the stack's settlement to be finalized and is at most what the owner paid for the units
/// settled (nothing for an empty, failed or timed-out stack, whose escrow came back anyway), so buying stacks of a
/// liar to farm refunds never returns more than the farmer paid. Claims close `REFUND_EPOCHS` after the later of
/// the statement's epoch and the end of the stack's challenge window. Only a statement's first punishment (its
/// report or its first refund) revokes the record, bans posting and cuts reputation: later refunds of an old lie
/// only slash, so they cannot keep a node that has since re-attested honestly off confidential work.
contract AttestationRegistry is IAttestationRegistry, AtomaAccess, EIP712 {
    enum Kind {
        None,
        Tdx,
        Dev
    }

    struct Attestation {
        bytes32 evidenceHash;
        /// The node's X25519 public key (HPKE): confidential requests are sealed to it.
        bytes32 encryptionKey;
        /// `AttestationRecord.measurementHash` of the registers the evidence reports.
        bytes32 measurement;
        /// The epoch the evidence's report data binds as its freshness value.
        uint64 epoch;
        uint64 postedAt;
        uint64 expiresAt;
        Kind kind;
        /// The node declares that the evidence carries GPU evidence (an NVIDIA attestation token bound to the same
        /// report data). The chain cannot check the token (ES384); clients do, and refuse a node whose evidence lacks
        /// one on a task that requires it. Tasks that require GPUs draw and subscribe only nodes declaring it.
        bool gpu;
    }

    /// The shortest and longest `maxValidity` governance may set.
    uint64 public constant MIN_VALIDITY = 1 hours;
    uint64 public constant MAX_VALIDITY = 30 days;
    /// Refunds for a statement are claimed at the latest in its epoch plus this many.
    uint64 public constant REFUND_EPOCHS = ReportWindow.REFUND_EPOCHS;

    INodeRegistry public immutable nodeRegistry;
    /// The longest a record may stay current after it is posted.
    uint64 public maxValidity;

    struct Posting {
        bool posted;
        uint64 epoch;
    }

    /// Dev-kind records are accepted on every task of this network (a development deployment only).
    bool public devNetwork;

    mapping(uint256 nodeId => Attestation) internal _attestations;
    /// Each hash a node posted, with the epoch it was posted in (one slot: `posted` and `epoch` pack).
    mapping(uint256 nodeId => mapping(bytes32 evidenceHash => Posting)) public postings;
    /// Statements (`servedEvidenceDigest`) already reported: one reporter's slash per lie.
    mapping(bytes32 digest => bool) public reported;
    /// Statements already punished (reported, or refunded once): one revocation, ban and reputation cut per lie. Kept
    /// apart from `reported` so that a liar refunding a small stack of its own first cannot spare itself the report.
    mapping(bytes32 digest => bool) public punished;
    mapping(uint256 taskId => mapping(bytes32 measurement => bool)) public taskMeasurementAllowed;
    mapping(bytes32 modelId => mapping(bytes32 measurement => bool)) public modelMeasurementAllowed;
    mapping(uint256 taskId => bool) public devAllowedFor;
    /// Tasks whose nodes must attest their GPUs too (`Attestation.gpu`).
    mapping(uint256 taskId => bool) public gpuRequiredFor;
    /// A node caught serving evidence it never posted may not post again before this epoch.
    mapping(uint256 nodeId => uint256 epoch) public bannedUntilEpoch;
    /// The stack manager whose level-3 stacks `refundUnposted` refunds (wired once).
    IStackServing public stacks;
    /// Stacks already refunded for a statement (`servedEvidenceDigest`): one refund per stack per lie.
    mapping(bytes32 digest => mapping(uint256 stackId => bool)) public refunded;
    /// Refunds claimed inside their window while the stack's settlement was disputed: paid once it is finalized,
    /// however late (a node answering the owner's challenges at each deadline cannot run the window out).
    mapping(bytes32 digest => mapping(uint256 stackId => bool)) public refundClaimed;
    /// What each stack's owner was refunded so far, across every statement: never more than the stack paid.
    mapping(uint256 stackId => uint256) public refundedTotal;

    bytes32 public constant SERVED_EVIDENCE_TYPEHASH =
        keccak256("ServedEvidence(uint256 nodeId,uint64 epoch,bytes32 evidenceHash)");

    event AttestationPosted(
        uint256 indexed nodeId,
        Kind kind,
        uint64 epoch,
        bytes32 evidenceHash,
        bytes32 encryptionKey,
        bytes32 measurement,
        uint64 expiresAt,
        bool gpu
    );
    event TaskMeasurementSet(uint256 indexed taskId, bytes32 indexed measurement, bool allowed);
    event ModelMeasurementSet(bytes32 indexed modelId, bytes32 indexed measurement, bool allowed);
    event DevAllowedSet(uint256 indexed taskId, bool allowed);
    event DevNetworkSet(bool allowed);
    event GpuRequiredSet(uint256 indexed taskId, bool required);
    event MaxValiditySet(uint64 maxValidity);
    /// `reporter` proved that `nodeId` served `servedEvidence` (signed) without ever posting it.
    event AttestationRevoked(
        uint256 indexed nodeId, uint64 epoch, bytes32 servedEvidence, address indexed reporter, uint256 slashed
    );
    /// The node was slashed again for `stackId`, served during the lying statement's epoch; its owner took the
    /// user's share of `slashed`.
    event BuyerRefunded(uint256 indexed nodeId, uint256 indexed stackId, address indexed owner, uint256 slashed);
    event RefundClaimed(uint256 indexed nodeId, uint256 indexed stackId, uint64 epoch);

    error NotNodeActor(uint256 nodeId, address caller);
    error NodeNotActive(uint256 nodeId);
    error InvalidKind();
    error MissingEvidenceHash();
    error MissingEncryptionKey();
    error MissingMeasurement();
    /// The evidence names another epoch than the current one: it is stale (or not yet due).
    error StaleEpoch(uint64 epoch, uint256 current);
    /// This node posted this evidence before: a replay.
    error EvidenceReused(bytes32 evidenceHash);
    /// The expiry is not in the future, or later than `maxValidity` from now.
    error InvalidExpiry(uint64 expiresAt, uint256 latest);
    error NoAttestation(uint256 nodeId);
    error AttestationExpired(uint256 nodeId, uint64 expiresAt);
    error MeasurementNotAllowed(uint256 taskId, bytes32 measurement);
    error DevKindRefused(uint256 taskId, uint256 nodeId);
    /// Task `taskId` requires GPU evidence and node `nodeId`'s current record does not declare any.
    error GpuEvidenceRequired(uint256 taskId, uint256 nodeId);
    /// The statement is not signed by the node's registered signer.
    error StatementSignatureInvalid(uint256 nodeId, address recovered);
    /// The node did post this evidence, for this epoch: nothing to report.
    error EvidencePosted(uint256 nodeId, bytes32 evidenceHash);
    /// The statement names an epoch not yet over and evidence the node never posted: it may still post it.
    error EpochNotOver(uint64 epoch, uint256 current);
    /// This very statement was reported already.
    error StatementReported(uint256 nodeId, uint64 epoch, bytes32 evidenceHash);
    /// The node was caught serving evidence it never posted: it may post again from `epoch`.
    error PostingBanned(uint256 nodeId, uint256 untilEpoch);
    /// The stack is not a level-3 stack of this node served during the statement's epoch.
    error StackNotServedUnder(uint256 stackId, uint256 nodeId, uint64 epoch);
    /// This stack was refunded for this statement already.
    error StackRefunded(uint256 stackId);
    /// Refunds for a statement of `epoch` closed after epoch `epoch + REFUND_EPOCHS` (or as many after the end of the
    /// stack's challenge window, when that is later).
    error RefundWindowClosed(uint64 epoch, uint256 current);
    /// The stack's settlement is not finalized yet: its refund waits until what the node was paid is known.
    error SettlementNotOver(uint256 stackId);
    /// The stack paid its node nothing (settled empty, failed or timed out): its escrow came back already.
    error StackNotPaid(uint256 stackId);

    /// Why a node may not serve a confidential task (`Ok`: it may).
    enum Standing {
        Ok,
        None,
        Expired,
        Measurement,
        Dev,
        Gpu
    }

    constructor(address admin, INodeRegistry nodeRegistry_, uint64 maxValidity_)
        AtomaAccess(admin)
        EIP712("AtomaAttestation", "1")
    {
        if (address(nodeRegistry_) == address(0)) revert ZeroAddress();
        nodeRegistry = nodeRegistry_;
        _setMaxValidity(maxValidity_);
    }

    // ---------------------------------------------------------------- governance

    /// The stack manager whose level-3 stacks `refundUnposted` refunds: once.
    function wireStacks(IStackServing stacks_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(stacks) != address(0)) revert AlreadyWired();
        if (address(stacks_) == address(0)) revert ZeroAddress();
        stacks = stacks_;
    }

    function setMaxValidity(uint64 maxValidity_) external onlyRole(GOVERNOR_ROLE) {
        _setMaxValidity(maxValidity_);
    }

    function _setMaxValidity(uint64 value) internal {
        _check(value >= MIN_VALIDITY && value <= MAX_VALIDITY, "maxValidity", value);
        maxValidity = value;
        emit MaxValiditySet(value);
    }

    /// Allows (or no longer allows) `measurement` on task `taskId`. Withdrawing it lets anyone drop the
    /// subscriptions it carried (`TaskRegistry.dropUnattested`).
    function setTaskMeasurement(uint256 taskId, bytes32 measurement, bool allowed) external onlyRole(GOVERNOR_ROLE) {
        if (measurement == 0) revert MissingMeasurement();
        taskMeasurementAllowed[taskId][measurement] = allowed;
        emit TaskMeasurementSet(taskId, measurement, allowed);
    }

    /// Allows (or no longer allows) `measurement` on every task of model `modelId`.
    function setModelMeasurement(bytes32 modelId, bytes32 measurement, bool allowed) external onlyRole(GOVERNOR_ROLE) {
        if (measurement == 0) revert MissingMeasurement();
        modelMeasurementAllowed[modelId][measurement] = allowed;
        emit ModelMeasurementSet(modelId, measurement, allowed);
    }

    /// Accepts dev-kind records (no hardware behind them) on task `taskId`.
    function setDevAllowed(uint256 taskId, bool allowed) external onlyRole(GOVERNOR_ROLE) {
        devAllowedFor[taskId] = allowed;
        emit DevAllowedSet(taskId, allowed);
    }

    /// Requires (or no longer requires) GPU evidence on task `taskId`. Requiring it lets anyone drop the subscriptions of
    /// nodes whose record declares none (`TaskRegistry.dropUnattested`); draws skip them at once.
    function setGpuRequired(uint256 taskId, bool required) external onlyRole(GOVERNOR_ROLE) {
        gpuRequiredFor[taskId] = required;
        emit GpuRequiredSet(taskId, required);
    }

    /// Accepts dev-kind records on every task: for a development network only.
    function setDevNetwork(bool allowed) external onlyRole(GOVERNOR_ROLE) {
        devNetwork = allowed;
        emit DevNetworkSet(allowed);
    }

    // ---------------------------------------------------------------- nodes

    /// Posts the node's attestation record, replacing the previous one (re-attestation each epoch, key rotation).
    /// Only the node's operator or signer, for an active node; `epoch` must be the current epoch (the freshness
    /// value the evidence's report data binds), `evidenceHash` never posted before by this node, and `expiresAt` in
    /// the future and at most `maxValidity` away. `gpu`: the evidence carries GPU evidence (see `Attestation.gpu`).
    function post(
        uint256 nodeId,
        Kind kind,
        uint64 epoch,
        bytes32 evidenceHash,
        bytes32 encryptionKey,
        bytes32 measurement,
        uint64 expiresAt,
        bool gpu
    ) external {
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) {
            revert NotNodeActor(nodeId, msg.sender);
        }
        if (nodeRegistry.getNode(nodeId).status != INodeRegistry.NodeStatus.Active) revert NodeNotActive(nodeId);
        if (kind == Kind.None) revert InvalidKind();
        if (evidenceHash == 0) revert MissingEvidenceHash();
        if (encryptionKey == 0) revert MissingEncryptionKey();
        if (measurement == 0) revert MissingMeasurement();
        uint256 current = nodeRegistry.currentEpoch();
        if (epoch != current) revert StaleEpoch(epoch, current);
        if (current < bannedUntilEpoch[nodeId]) revert PostingBanned(nodeId, bannedUntilEpoch[nodeId]);
        if (postings[nodeId][evidenceHash].posted) revert EvidenceReused(evidenceHash);
        uint256 latest = block.timestamp + maxValidity;
        if (expiresAt <= block.timestamp || expiresAt > latest) revert InvalidExpiry(expiresAt, latest);
        postings[nodeId][evidenceHash] = Posting({posted: true, epoch: epoch});
        _attestations[nodeId] = Attestation({
            evidenceHash: evidenceHash,
            encryptionKey: encryptionKey,
            measurement: measurement,
            epoch: epoch,
            postedAt: uint64(block.timestamp),
            expiresAt: expiresAt,
            kind: kind,
            gpu: gpu
        });
        emit AttestationPosted(nodeId, kind, epoch, evidenceHash, encryptionKey, measurement, expiresAt, gpu);
    }

    /// Proves that `nodeId` served evidence it never posted for the epoch it named: `signature` is its signer's over
    /// `ServedEvidence(nodeId, epoch, evidenceHash)` (what the node serves beside its epoch evidence once the post is
    /// final), and this registry never took `evidenceHash` from it, or took it in another epoch than `epoch`. A hash
    /// never posted convicts only once `epoch` is over (`EpochNotOver` before: the node may still post it). Revokes
    /// its record (no longer current, so its level-3 subscriptions can be dropped and no draw takes it), bans its
    /// posts until the next epoch but one, and slashes it as for a timeout, the caller taking the user's share.
    /// An honest node signs only evidence it posted, with the epoch it posted it in (each key rotation's too: every
    /// posted hash stays known with its epoch), so it cannot be reported, not even with a statement of an old epoch.
    /// It must sign only once the post cannot be reorganised away: a dropped post makes the statement a lie.
    function reportUnposted(uint256 nodeId, uint64 epoch, bytes32 evidenceHash, bytes calldata signature)
        external
        returns (uint256 slashed)
    {
        bytes32 digest = _provenLie(nodeId, epoch, evidenceHash, signature);
        if (reported[digest]) revert StatementReported(nodeId, epoch, evidenceHash);
        reported[digest] = true;
        punished[digest] = true;
        _revoke(nodeId);
        slashed = nodeRegistry.slashTimeout(nodeId, msg.sender);
        emit AttestationRevoked(nodeId, epoch, evidenceHash, msg.sender, slashed);
    }

    /// Refunds the buyer of `stackId` for a proven lie (the statement as in `reportUnposted`): the stack must be a
    /// level-3 stack served by `nodeId` at some time during the statement's epoch (from `expiresAt - duration` to
    /// its close, its settlement or `expiresAt`), its settlement finalized, and the current epoch at most
    /// `REFUND_EPOCHS` past the later of the statement's epoch and the end of the stack's challenge window. The
    /// first punishment of the statement (this refund, unless it was reported) revokes, bans and cuts reputation as
    /// `reportUnposted` does; every refund slashes the node as for a timeout, shrunk so that the stack's owner, who
    /// takes the user's share whoever calls, gets at most what it paid for the units settled. Once per stack and
    /// statement (`StackRefunded`).
    function refundUnposted(
        uint256 nodeId,
        uint64 epoch,
        bytes32 evidenceHash,
        bytes calldata signature,
        uint256 stackId
    ) external returns (uint256 slashed) {
        bytes32 digest = _provenLie(nodeId, epoch, evidenceHash, signature);
        if (address(stacks) == address(0)) revert NotWired();
        if (refunded[digest][stackId]) revert StackRefunded(stackId);
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        if (stack.nodeId != nodeId || stack.securityLevel != 3 || !_servedIn(stackId, stack, epoch)) {
            revert StackNotServedUnder(stackId, nodeId, epoch);
        }
        uint256 paid = _paidFor(digest, stackId, stack, epoch);
        if (paid == 0) {
            emit RefundClaimed(nodeId, stackId, epoch);
            return 0;
        }
        refunded[digest][stackId] = true;
        bool first = !punished[digest];
        if (first) {
            punished[digest] = true;
            _revoke(nodeId);
        }
        uint256 toOwner;
        (slashed, toOwner) = nodeRegistry.slashTimeoutUpTo(nodeId, stack.owner, paid, first);
        refundedTotal[stackId] += toOwner;
        emit BuyerRefunded(nodeId, stackId, stack.owner, slashed);
    }

    /// Whether a bound stack was served at some time during `epoch`: from `expiresAt - duration` to its end of
    /// service (`closedAt`: the owner's close or the node's settlement, when before expiry) or `expiresAt`.
    function _servedIn(uint256 stackId, IStackManager.Stack memory stack, uint64 epoch) internal view returns (bool) {
        uint256 length = nodeRegistry.EPOCH_LENGTH();
        uint256 start = nodeRegistry.GENESIS() + uint256(epoch) * length;
        uint256 servedFrom = uint256(stack.expiresAt) - stacks.getPurchase(stackId).duration;
        uint256 end = stack.closedAt != 0 && stack.closedAt < stack.expiresAt ? stack.closedAt : stack.expiresAt;
        return end > start && servedFrom < start + length;
    }

    /// What is left to refund the owner of `stackId` (what it paid for the units its node settled, less what earlier
    /// refunds of any statement gave it), once the settlement is finalized. While it is disputed inside the window,
    /// the claim is recorded instead (0 returned) and paid after finalization without a window check. Reverts while
    /// it is otherwise not final, when nothing is left to refund, or past the refund window.
    function _paidFor(bytes32 digest, uint256 stackId, IStackManager.Stack memory stack, uint64 epoch)
        internal
        returns (uint256 left)
    {
        ISettlementManager.Settlement memory st = ISettlementManager(stacks.settlement()).getSettlement(stackId);
        if (st.phase == ISettlementManager.Phase.Failed || st.phase == ISettlementManager.Phase.TimedOut) {
            revert StackNotPaid(stackId);
        }
        uint256 from = epoch;
        uint256 genesis = nodeRegistry.GENESIS();
        if (st.windowEnds > genesis) {
            uint256 ends = (uint256(st.windowEnds) - genesis) / nodeRegistry.EPOCH_LENGTH();
            if (ends > from) from = ends;
        }
        uint256 current = nodeRegistry.currentEpoch();
        bool claimed = refundClaimed[digest][stackId];
        bool open = claimed || current <= from + REFUND_EPOCHS;
        if (st.phase != ISettlementManager.Phase.Finalized) {
            if (st.phase != ISettlementManager.Phase.Disputed || claimed || !open) revert SettlementNotOver(stackId);
            refundClaimed[digest][stackId] = true;
            return 0;
        }
        if (!open) revert RefundWindowClosed(epoch, current);
        uint256 paid = Units.cost(st.units, stack.pricePerMillion);
        uint256 done = refundedTotal[stackId];
        if (paid <= done) revert StackNotPaid(stackId);
        left = paid - done;
    }

    /// The statement's digest, once it is shown signed by the node's signer for evidence it did not post in `epoch`.
    function _provenLie(uint256 nodeId, uint64 epoch, bytes32 evidenceHash, bytes calldata signature)
        internal
        view
        returns (bytes32 digest)
    {
        digest = servedEvidenceDigest(nodeId, epoch, evidenceHash);
        (address recovered,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (recovered == address(0) || recovered != nodeRegistry.signerOf(nodeId)) {
            revert StatementSignatureInvalid(nodeId, recovered);
        }
        Posting memory posting = postings[nodeId][evidenceHash];
        if (posting.posted) {
            if (posting.epoch == epoch) revert EvidencePosted(nodeId, evidenceHash);
        } else {
            // Never posted: the node may still post it until its epoch is over (a hash posted in another epoch
            // can never be posted again, so that lie is proven at once).
            uint256 current = nodeRegistry.currentEpoch();
            if (epoch >= current) revert EpochNotOver(epoch, current);
        }
    }

    /// Revokes the node's record and bans its posts until the epoch after next: once per statement.
    function _revoke(uint256 nodeId) internal {
        Attestation storage a = _attestations[nodeId];
        if (a.expiresAt > block.timestamp) a.expiresAt = uint64(block.timestamp);
        bannedUntilEpoch[nodeId] = nodeRegistry.currentEpoch() + 2;
    }

    // ---------------------------------------------------------------- views

    /// The EIP-712 digest a node's signer signs for the evidence it serves (`ServedEvidence`).
    function servedEvidenceDigest(uint256 nodeId, uint64 epoch, bytes32 evidenceHash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SERVED_EVIDENCE_TYPEHASH, nodeId, epoch, evidenceHash)));
    }

    /// Whether `nodeId` ever posted `evidenceHash` (then never again: replays are refused).
    function evidenceUsed(uint256 nodeId, bytes32 evidenceHash) external view returns (bool) {
        return postings[nodeId][evidenceHash].posted;
    }

    function attestationOf(uint256 nodeId) external view returns (Attestation memory) {
        return _attestations[nodeId];
    }

    /// The node holds a record that has not expired (whatever task it is checked against).
    function isCurrent(uint256 nodeId) public view returns (bool) {
        return block.timestamp < _attestations[nodeId].expiresAt;
    }

    function measurementAllowed(uint256 taskId, bytes32 modelId, bytes32 measurement) public view returns (bool) {
        return taskMeasurementAllowed[taskId][measurement] || modelMeasurementAllowed[modelId][measurement];
    }

    function devAllowed(uint256 taskId) public view returns (bool) {
        return devNetwork || devAllowedFor[taskId];
    }

    function standing(uint256 taskId, bytes32 modelId, uint256 nodeId) public view returns (Standing) {
        Attestation storage a = _attestations[nodeId];
        if (a.kind == Kind.None) return Standing.None;
        if (block.timestamp >= a.expiresAt) return Standing.Expired;
        if (!measurementAllowed(taskId, modelId, a.measurement)) return Standing.Measurement;
        if (a.kind == Kind.Dev && !devAllowed(taskId)) return Standing.Dev;
        if (gpuRequiredFor[taskId] && !a.gpu) return Standing.Gpu;
        return Standing.Ok;
    }

    function accepts(uint256 taskId, bytes32 modelId, uint256 nodeId) external view returns (bool) {
        return standing(taskId, modelId, nodeId) == Standing.Ok;
    }

    function check(uint256 taskId, bytes32 modelId, uint256 nodeId) external view {
        Standing s = standing(taskId, modelId, nodeId);
        if (s == Standing.Ok) return;
        if (s == Standing.None) revert NoAttestation(nodeId);
        if (s == Standing.Expired) revert AttestationExpired(nodeId, _attestations[nodeId].expiresAt);
        if (s == Standing.Measurement) revert MeasurementNotAllowed(taskId, _attestations[nodeId].measurement);
        if (s == Standing.Dev) revert DevKindRefused(taskId, nodeId);
        revert GpuEvidenceRequired(taskId, nodeId);
    }
}
