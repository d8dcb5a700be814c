// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../../src/common/AtomaTypedData.sol";
import {AttestationRegistry} from "../../src/confidential/AttestationRegistry.sol";
import {ConsensusRequests} from "../../src/consensus/ConsensusRequests.sol";
import {ChallengeManager} from "../../src/disputes/ChallengeManager.sol";
import {DisputeManager} from "../../src/disputes/DisputeManager.sol";
import {IDisputeSelection} from "../../src/interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../../src/interfaces/ITaskRegistry.sol";
import {AtomaVault} from "../../src/payments/AtomaVault.sol";
import {ModelRegistry} from "../../src/registry/ModelRegistry.sol";
import {NodeRegistry} from "../../src/registry/NodeRegistry.sol";
import {TaskRegistry} from "../../src/registry/TaskRegistry.sol";
import {ISettlementManager} from "../../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../../src/interfaces/IStackManager.sol";
import {ReceiptFraud} from "../../src/settlement/ReceiptFraud.sol";
import {RevealVerifier} from "../../src/settlement/RevealVerifier.sol";
import {SettlementDraw} from "../../src/settlement/SettlementDraw.sol";
import {SettlementEvidence} from "../../src/settlement/SettlementEvidence.sol";
import {SettlementManager} from "../../src/settlement/SettlementManager.sol";
import {IStackServing} from "../../src/interfaces/IStackServing.sol";
import {ISettlementSpan, StackManager} from "../../src/stacks/StackManager.sol";
import {AtomaToken} from "../../src/token/AtomaToken.sol";
import {EmissionSchedule, IMintable} from "../../src/token/EmissionSchedule.sol";
import {SignerBinding} from "../../src/registry/SignerBinding.sol";
import {VrfKeyRegistry} from "../../src/vrf/VrfKeyRegistry.sol";
import {TestBase} from "./TestBase.sol";

/// @notice Deploys and wires the whole system the way packages/chain's deploy does, with helpers for the
/// common steps of a test: nodes with signing keys, a model, tasks, stacks, and Merkle trees.
abstract contract AtomaFixture is TestBase {
    uint256 internal constant EPOCH = 1 days;
    uint256 internal constant COLLATERAL = 10_000 ether;
    uint128 internal constant PRICE = 2 ether; // per million units
    bytes32 internal constant MODEL = keccak256("atoma-tiny");
    uint128 internal constant CHALLENGE_BOND = 5 ether;
    /// The admin receives the genesis supply and funds the actors of the tests from it (nobody can mint).
    uint256 internal constant GENESIS_SUPPLY = 1e12 ether;
    /// What a subscription bonds in these tests (`subscribe`): up to four subscriptions per node.
    uint128 internal constant SUB_COLLATERAL = 2_500 ether;
    /// The fixture burns no fee, so that payouts read as the bare shares; the wash-trading tests set the burn.
    uint16 internal constant FEE_BURN_BPS = 0;
    /// How long leaving takes (a subscription's exit notice, the wait before collateral is withdrawable): it must
    /// cover a 30-day stack, its settle window and its settlement's windows.
    uint64 internal constant EXIT_NOTICE = 31 days;

    address internal admin = address(0xA11CE);
    address internal treasury = address(0x7EA5);
    address internal modelOwner = address(0x30DE1);
    uint256 internal constant USER_KEY = 0xA70A;
    address internal user = vm.addr(USER_KEY);

    AtomaToken internal token;
    NodeRegistry internal nodes;
    ModelRegistry internal models;
    TaskRegistry internal tasks;
    AtomaVault internal vault;
    StackManager internal stacks;
    SettlementManager internal settlement;
    SettlementDraw internal draws;
    SettlementEvidence internal evidence;
    DisputeManager internal disputes;
    ChallengeManager internal challenges;
    ConsensusRequests internal consensus;
    EmissionSchedule internal emission;
    ReceiptFraud internal receiptFraud;
    AttestationRegistry internal attestations;

    uint256[] internal nodeIds;
    mapping(uint256 nodeId => uint256 key) internal signerKey;
    mapping(uint256 nodeId => address) internal operatorOf;

    /// The private committee selection a test wires into the dispute manager (zero: every draw public).
    function disputeSelection() internal virtual returns (IDisputeSelection) {
        return IDisputeSelection(address(0));
    }

    /// The registry's epoch length; a suite overrides it to play long epochs.
    function epochLength() internal view virtual returns (uint256) {
        return EPOCH;
    }

    function deployAtoma() internal {
        vm.warp(1_700_000_000);
        vm.startPrank(admin);
        emission = new EmissionSchedule(admin, emissionSchedule());
        token = new AtomaToken(address(emission), admin, GENESIS_SUPPLY);
        nodes = new NodeRegistry(
            admin,
            token,
            epochLength(),
            NodeRegistry.Params({
                minCollateral: COLLATERAL,
                honestReward: 1,
                timeoutPenalty: 10,
                timeoutSlashBps: 500,
                timeoutUserBps: 5_000,
                timeoutTreasuryBps: 2_500,
                fraudUserBps: 3_000,
                fraudHonestBps: 3_000,
                fraudTreasuryBps: 2_000
            })
        );
        models = new ModelRegistry(
            admin,
            token,
            INodeRegistry(address(nodes)),
            ModelRegistry.Params({
                minCollateral: 1_000 ether,
                maxFeeBps: 2_000,
                mismatchThreshold: 2,
                whitelistRequired: false
            })
        );
        tasks = new TaskRegistry(
            admin,
            INodeRegistry(address(nodes)),
            models,
            TaskRegistry.Params({
                minReplicationPpm: 0,
                maxSubscribersPerTask: 128,
                maxSubscriptionsPerNode: 32,
                maxAttesters: 8,
                maxSampleSize: 32,
                minSubscriptionCollateral: 100 ether,
                exitNotice: EXIT_NOTICE
            })
        );
        vault = new AtomaVault(admin, token, INodeRegistry(address(nodes)), treasury, FEE_BURN_BPS);
        stacks = new StackManager(
            admin,
            tasks,
            INodeRegistry(address(nodes)),
            models,
            vault,
            StackManager.Params({
                minDuration: 1 hours,
                maxDuration: 30 days,
                settleWindow: 1 hours,
                maxUnits: 1e12,
                surchargeBps: 1_000,
                minChargeBps: 1_000,
                minCommittee: 3
            })
        );
        settlement = new SettlementManager(
            admin,
            stacks,
            tasks,
            INodeRegistry(address(nodes)),
            models,
            vault,
            SettlementManager.Params({
                commitWindow: 10 minutes,
                revealWindow: 10 minutes,
                dataWindow: 10 minutes,
                disputeWindow: 1 hours,
                maxReplacements: 2
            })
        );
        draws = new SettlementDraw(admin, settlement, stacks, tasks, INodeRegistry(address(nodes)));
        evidence = new SettlementEvidence(admin, settlement, stacks, INodeRegistry(address(nodes)), 128 * 1024);
        disputes = new DisputeManager(
            admin,
            INodeRegistry(address(nodes)),
            tasks,
            stacks,
            settlement,
            DisputeManager.Params({
                committeeSize: 3,
                minCommittee: 3,
                drawRounds: 2,
                commitWindow: 10 minutes,
                revealWindow: 10 minutes,
                evidenceWindow: 10 minutes,
                redrawDelay: 1 hours,
                maxEvidenceBytes: 65_536
            })
        );
        challenges = new ChallengeManager(
            admin,
            INodeRegistry(address(nodes)),
            stacks,
            settlement,
            ChallengeManager.Params({answerWindow: 10 minutes, maxChallengesPerStack: 4, challengeBond: CHALLENGE_BOND})
        );
        consensus = new ConsensusRequests(
            admin,
            tasks,
            INodeRegistry(address(nodes)),
            models,
            vault,
            disputes,
            ConsensusRequests.Params({
                commitWindow: 10 minutes,
                deliveryWindow: 10 minutes,
                maxCallbackGas: 500_000,
                maxPromptBytes: 8_192,
                maxOutputBytes: 8_192,
                maxNodes: 16
            })
        );
        emission.wire(IMintable(address(token)), vault, INodeRegistry(address(nodes)));
        receiptFraud = new ReceiptFraud(
            admin, IStackManager(address(stacks)), INodeRegistry(address(nodes)), ISettlementManager(address(settlement))
        );
        nodes.wire(tasks, vault);
        attestations = new AttestationRegistry(admin, INodeRegistry(address(nodes)), 2 days);
        tasks.wireAttestations(attestations);
        attestations.wireStacks(IStackServing(address(stacks)));
        settlement.wire(disputes, draws, address(evidence));
        stacks.wire(ISettlementSpan(address(settlement)));
        IDisputeSelection committeeSelection = disputeSelection();
        disputes.wire(consensus, committeeSelection);
        bytes32 protocol = nodes.PROTOCOL_ROLE();
        // A silent selected committee member is slashable (`DisputeSelection.reportSilentSelection`).
        if (address(committeeSelection) != address(0)) nodes.grantRole(protocol, address(committeeSelection));
        nodes.grantRole(protocol, address(stacks));
        nodes.grantRole(protocol, address(settlement));
        nodes.grantRole(protocol, address(disputes));
        nodes.grantRole(protocol, address(challenges));
        nodes.grantRole(protocol, address(consensus));
        nodes.grantRole(protocol, address(tasks));
        nodes.grantRole(protocol, address(attestations));
        // Private self-selection slashes a selected node that stayed silent (`SettlementDraw.reportSilentSelection`).
        nodes.grantRole(protocol, address(draws));
        tasks.grantRole(protocol, address(nodes));
        tasks.grantRole(protocol, address(stacks));
        vault.grantRole(protocol, address(nodes));
        vault.grantRole(protocol, address(stacks));
        vault.grantRole(protocol, address(settlement));
        vault.grantRole(protocol, address(consensus));
        stacks.grantRole(protocol, address(settlement));
        settlement.grantRole(protocol, address(disputes));
        draws.grantRole(protocol, address(settlement));
        nodes.grantRole(protocol, address(receiptFraud));
        settlement.grantRole(protocol, address(receiptFraud));
        settlement.grantRole(protocol, address(challenges));
        for (uint32 e = 0; e < 4; ++e) nodes.approveEchelon(e, echelonFingerprint(e));
        token.transfer(modelOwner, 10_000 ether);
        token.transfer(user, 1_000_000 ether);
        vm.stopPrank();

        vm.startPrank(modelOwner);
        token.approve(address(models), type(uint256).max);
        models.registerModel(MODEL, keccak256("weights"), 500, 1_000 ether, "gguf://atoma-tiny");
        vm.stopPrank();
        vm.startPrank(user);
        token.approve(address(vault), type(uint256).max);
        token.approve(address(challenges), type(uint256).max);
        vm.stopPrank();
    }

    /// Where the shared VRF vectors' possession proofs say the key registry is (packages/core
    /// `VECTOR_VRF_REGISTRY`, chain 31337): a proof binds the registry's address.
    address internal constant VECTOR_VRF_REGISTRY = 0x00000000000000000000000000000000000A7011;

    /// A VRF key registry at `VECTOR_VRF_REGISTRY` (its runtime code, immutables included, copied there), so the
    /// vectors' possession proofs register in it.
    function deployVectorVrfKeys() internal returns (VrfKeyRegistry) {
        VrfKeyRegistry deployed = new VrfKeyRegistry(INodeRegistry(address(nodes)));
        vm.etch(VECTOR_VRF_REGISTRY, address(deployed).code);
        return VrfKeyRegistry(VECTOR_VRF_REGISTRY);
    }

    /// The emission schedule of the deployment (the defaults of packages/chain's devParameters).
    function emissionSchedule() internal view virtual returns (EmissionSchedule.Schedule memory) {
        return EmissionSchedule.Schedule({
            initialEmission: 1_000_000 ether,
            tailEmission: 10_000 ether,
            decayBps: 9_900,
            nodeShareBps: 7_000,
            modelShareBps: 1_000,
            treasuryBps: 2_000,
            maxEmissionPerBurnBps: 10_000,
            maxStakeYieldBps: 100
        });
    }

    /// The engine fingerprint the fixture approves for echelon `e` (0–3 are approved).
    function echelonFingerprint(uint32 e) internal pure returns (bytes32) {
        return keccak256(abi.encode("engine fingerprint", e));
    }

    /// Gives `to` TOMA from the genesis supply the admin holds (the token has no faucet: nobody can mint).
    function fund(address to, uint256 amount) internal {
        vm.prank(admin);
        token.transfer(to, amount);
    }

    /// The signer key's proof that it lets `operator` register it (SignerBinding, as `signerBinding` in the core package).
    function signerProof(uint256 key, address operator) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, SignerBinding.digest(block.chainid, address(nodes), operator));
        return abi.encodePacked(r, s, v);
    }

    /// Registers a node with a fresh signing key; its operator is a separate address.
    function addNode(uint32 echelon) internal returns (uint256 nodeId) {
        uint256 index = nodeIds.length + 1;
        address operator = address(uint160(0x10000 + index));
        uint256 key = uint256(keccak256(abi.encode("signer", index)));
        fund(operator, COLLATERAL * 2);
        vm.startPrank(operator);
        token.approve(address(nodes), type(uint256).max);
        nodeId = nodes.register(vm.addr(key), "http://127.0.0.1:1", echelon, COLLATERAL, signerProof(key, operator));
        vm.stopPrank();
        nodeIds.push(nodeId);
        signerKey[nodeId] = key;
        operatorOf[nodeId] = operator;
    }

    function createTask(ITaskRegistry.SecurityLevel level, uint32 ppm, uint8 attesters, uint16 sampleSize)
        internal
        returns (uint256)
    {
        return tasks.createTask(MODEL, 0, level, 0, ppm, attesters, sampleSize);
    }

    function subscribe(uint256 taskId, uint256 nodeId, uint128 price) internal {
        vm.prank(operatorOf[nodeId]);
        tasks.subscribe(taskId, nodeId, price, 1e12, SUB_COLLATERAL);
    }

    function nextEpoch() internal {
        vm.warp(block.timestamp + nodes.EPOCH_LENGTH());
    }

    /// Buys a stack as `user` and draws its node in the next block.
    function buy(uint256 taskId, uint64 units) internal returns (uint256 stackId, uint256 nodeId) {
        return buyAs(user, taskId, units, type(uint128).max);
    }

    function buyAs(address buyer, uint256 taskId, uint64 units, uint128 maxPrice)
        internal
        returns (uint256 stackId, uint256 nodeId)
    {
        StackManager.Candidate[] memory candidates;
        vm.prank(buyer);
        (stackId, candidates) = stacks.buyStack(taskId, units, maxPrice, 1 days);
        vm.roll(block.number + 1);
        nodeId = stacks.drawNode(stackId, candidates);
    }

    /// The attester candidates each settlement froze (as its `AttesterCandidatesFrozen` event lists them).
    mapping(uint256 stackId => uint256[]) internal frozenCandidates;

    /// The serving node submits its settlement; on a verified task the attester draw runs in the next block.
    function settleAs(uint256 stackId, uint256 server, bytes32 root, uint64 units, uint64 requestCount) internal {
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, root, units, requestCount, keccak256("transcript"));
        if (settlement.getSettlement(stackId).phase != ISettlementManager.Phase.Drawing) return;
        frozenCandidates[stackId] = draws.candidatesFor(stacks.getStack(stackId).taskId, server);
        drawAttesters(stackId);
    }

    /// Runs the pending attester draw of `stackId` (if any) in the next block with its frozen candidates.
    function drawAttesters(uint256 stackId) internal {
        if (settlement.getSettlement(stackId).phase != ISettlementManager.Phase.Drawing) return;
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
    }

    // ---------------------------------------------------------------- stack trees (positional, as StackTree)

    function _parent(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(a, b));
    }

    /// The leaves padded with zero to the next power of two.
    function _padded(bytes32[] memory leaves) private pure returns (bytes32[] memory layer) {
        uint256 width = 1;
        while (width < leaves.length) width *= 2;
        layer = new bytes32[](width);
        for (uint256 i = 0; i < leaves.length; ++i) layer[i] = leaves[i];
    }

    function stackRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory layer = _padded(leaves);
        while (layer.length > 1) {
            bytes32[] memory next = new bytes32[](layer.length / 2);
            for (uint256 i = 0; i < next.length; ++i) next[i] = _parent(layer[2 * i], layer[2 * i + 1]);
            layer = next;
        }
        return layer[0];
    }

    function stackProof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        bytes32[] memory layer = _padded(leaves);
        uint256 depth;
        while ((uint256(1) << depth) < layer.length) ++depth;
        proof = new bytes32[](depth);
        for (uint256 d = 0; d < depth; ++d) {
            proof[d] = layer[index ^ 1];
            bytes32[] memory next = new bytes32[](layer.length / 2);
            for (uint256 i = 0; i < next.length; ++i) next[i] = _parent(layer[2 * i], layer[2 * i + 1]);
            layer = next;
            index /= 2;
        }
    }

    /// The canonical body of request k of a stack in these tests (its hash is the request hash).
    function requestBody(uint256 stackId, uint256 k) internal pure returns (bytes memory) {
        return abi.encodePacked('{"k":', vm.toString(k), ',"stack":', vm.toString(stackId), "}");
    }

    /// A served stack: request hashes, response hashes, leaves (their fields and hashes), the root, the units.
    struct Served {
        bytes32[] reqHashes;
        bytes32[] respHashes;
        AtomaTypedData.Leaf[] leaves;
        bytes32[] hashes;
        bytes32 root;
        uint64 units;
    }

    /// The units of leaf k of stack `stackId` as `serve` last split them (dispute ballots rebuild outputs with them).
    mapping(uint256 stackId => mapping(uint256 k => uint64)) internal servedLeafUnits;

    /// The result bytes whose hash is response k of a stack served with `salt`: canonical JSON ending in the usage
    /// object, so that `ResultUnits.unitsOf` reads `units` from it.
    function responseBody(uint256 stackId, uint256 k, bytes32 salt, uint64 units) internal pure returns (bytes memory) {
        return abi.encodePacked(
            '{"k":',
            vm.toString(k),
            ',"salt":"',
            vm.toString(salt),
            '","stack":',
            vm.toString(stackId),
            ',"usage":{"prompt_tokens":',
            vm.toString(uint256(units)),
            ',"total_tokens":',
            vm.toString(uint256(units)),
            "}}"
        );
    }

    /// `count` requests of 100 units each.
    function serve(uint256 stackId, uint256 count, bytes32 salt) internal returns (Served memory) {
        return serve(stackId, count, salt, uint64(count) * 100);
    }

    /// `count` requests sharing `total` units (the last takes the remainder); nonce k at leaf k.
    function serve(uint256 stackId, uint256 count, bytes32 salt, uint64 total) internal returns (Served memory s) {
        s.reqHashes = new bytes32[](count);
        s.respHashes = new bytes32[](count);
        s.leaves = new AtomaTypedData.Leaf[](count);
        s.hashes = new bytes32[](count);
        uint64 each = count == 0 ? 0 : total / uint64(count);
        uint64 cumulative;
        for (uint256 k = 0; k < count; ++k) {
            uint64 units = k + 1 == count ? total - cumulative : each;
            cumulative += units;
            s.reqHashes[k] = keccak256(requestBody(stackId, k));
            s.respHashes[k] = keccak256(responseBody(stackId, k, salt, units));
            servedLeafUnits[stackId][k] = units;
            setLeaf(s, k, units, cumulative);
        }
        s.units = total;
        if (count > 0) s.root = stackRoot(s.hashes);
    }

    /// Leaf `k` of `s` (nonce k) over its request and response hashes, billing `units` with the running total
    /// `cumulative`, and its hash.
    function setLeaf(Served memory s, uint256 k, uint64 units, uint64 cumulative) internal pure {
        s.leaves[k] = AtomaTypedData.Leaf({
            leafIndex: k,
            nonce: k,
            reqHash: s.reqHashes[k],
            respHash: s.respHashes[k],
            units: units,
            cumulativeUnits: cumulative
        });
        s.hashes[k] = AtomaTypedData.leafHash(s.leaves[k]);
    }

    /// `s` with the same requests and answers but its units split anew to add up to `total` (a node that
    /// inflates the units of answers it really gave).
    function withUnits(Served memory s, uint64 total) internal pure returns (Served memory t) {
        uint256 count = s.leaves.length;
        t.reqHashes = s.reqHashes;
        t.respHashes = s.respHashes;
        t.leaves = new AtomaTypedData.Leaf[](count);
        t.hashes = new bytes32[](count);
        uint64 each = count == 0 ? 0 : total / uint64(count);
        uint64 cumulative;
        for (uint256 k = 0; k < count; ++k) {
            uint64 units = k + 1 == count ? total - cumulative : each;
            cumulative += units;
            setLeaf(t, k, units, cumulative);
        }
        t.units = total;
        if (count > 0) t.root = stackRoot(t.hashes);
    }

    /// Response hashes and units of the leaves at `idx`, in order: what attesters commit to.
    function sampledOf(uint256[] memory idx, Served memory s)
        internal
        pure
        returns (bytes32[] memory resps, uint64[] memory units)
    {
        resps = new bytes32[](idx.length);
        units = new uint64[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            resps[i] = s.respHashes[idx[i]];
            units[i] = s.leaves[idx[i]].units;
        }
    }

    /// The secret salt of an attester's commitment in these tests: fixed per stack and attester, so a helper can
    /// open what a test committed (a real node derives it from its key: `attestationSalt` in packages/node).
    function saltOf(uint256 stackId, uint256 nodeId) internal pure returns (bytes32) {
        return keccak256(abi.encode("atoma test attestation salt", stackId, nodeId));
    }

    /// An attester's commitment: H(abi.encode(uint256 nodeId, bytes32 result, bytes32 salt)).
    function attestationCommitment(uint256 nodeId, bytes32 result, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(nodeId, result, salt));
    }

    /// An attester's commitment to the leaves at `idx`, with its test salt for the stack.
    function commitmentOf(uint256 stackId, uint256 nodeId, uint256[] memory idx, Served memory s)
        internal
        pure
        returns (bytes32)
    {
        return attestationCommitment(nodeId, resultOf(idx, s), saltOf(stackId, nodeId));
    }

    /// What each attester committed to through `commitResult`, so that `openAttestations` can open it.
    mapping(uint256 stackId => mapping(uint256 nodeId => bytes32)) internal committedResult;

    /// The attester commits to `result` with its test salt (and the fixture remembers the result to open it).
    function commitResult(uint256 stackId, uint256 nodeId, bytes32 result) internal {
        committedResult[stackId][nodeId] = result;
        vm.prank(vm.addr(signerKey[nodeId]));
        settlement.commitAttestation(stackId, nodeId, attestationCommitment(nodeId, result, saltOf(stackId, nodeId)));
    }

    /// The attester opens its commitment to `result` (with its test salt) after the server's reveal.
    function openResult(uint256 stackId, uint256 nodeId, bytes32 result) internal {
        vm.prank(vm.addr(signerKey[nodeId]));
        settlement.openAttestation(stackId, nodeId, result, saltOf(stackId, nodeId));
    }

    /// Every attester still assigned that committed through `commitResult` and has not opened opens now; a
    /// commitment made another way (garbage, a copy) stays closed.
    function openAttestations(uint256 stackId) internal {
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        for (uint256 i = 0; i < list.length; ++i) {
            SettlementManager.Attester memory a = list[i];
            if (a.removed || !a.committed || a.opened) continue;
            bytes32 result = committedResult[stackId][a.nodeId];
            if (attestationCommitment(a.nodeId, result, saltOf(stackId, a.nodeId)) != a.commitment) continue;
            if (settlement.getSettlement(stackId).phase != ISettlementManager.Phase.Opening) return;
            openResult(stackId, a.nodeId, result);
        }
    }

    /// The result an attestation dispute votes on for the leaves at `idx`.
    function resultOf(uint256[] memory idx, Served memory s) internal pure returns (bytes32) {
        (bytes32[] memory resps, uint64[] memory units) = sampledOf(idx, s);
        return keccak256(abi.encode(resps, units));
    }

    /// The reveal `SettlementManager.reveal` takes for the leaves at `idx` (and the last leaf).
    function revealOf(uint256[] memory idx, Served memory s) internal pure returns (bytes memory) {
        RevealVerifier.Reveal memory v;
        v.sampled = new AtomaTypedData.Leaf[](idx.length);
        v.proofs = new bytes32[][](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            v.sampled[i] = s.leaves[idx[i]];
            v.proofs[i] = stackProof(s.hashes, idx[i]);
        }
        v.last = s.leaves[s.leaves.length - 1];
        v.lastProof = stackProof(s.hashes, s.leaves.length - 1);
        return abi.encode(v);
    }
}
