// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../../src/common/AtomaTypedData.sol";
import {ConsensusRequests} from "../../src/consensus/ConsensusRequests.sol";
import {DisputeManager} from "../../src/disputes/DisputeManager.sol";
import {INodeRegistry} from "../../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../../src/interfaces/ITaskRegistry.sol";
import {AtomaVault} from "../../src/payments/AtomaVault.sol";
import {ModelRegistry} from "../../src/registry/ModelRegistry.sol";
import {NodeRegistry} from "../../src/registry/NodeRegistry.sol";
import {TaskRegistry} from "../../src/registry/TaskRegistry.sol";
import {SettlementDraw} from "../../src/settlement/SettlementDraw.sol";
import {SettlementEvidence} from "../../src/settlement/SettlementEvidence.sol";
import {SettlementManager} from "../../src/settlement/SettlementManager.sol";
import {StackManager} from "../../src/stacks/StackManager.sol";
import {AtomaToken} from "../../src/token/AtomaToken.sol";
import {EmissionSchedule, IMintable} from "../../src/token/EmissionSchedule.sol";
import {TestBase} from "./TestBase.sol";

/// @notice Deploys and wires the whole system the way packages/chain's deploy does, with helpers for the
/// common steps of a test: nodes with signing keys, a model, tasks, stacks, and Merkle trees.
abstract contract AtomaFixture is TestBase {
    uint256 internal constant EPOCH = 1 days;
    uint256 internal constant COLLATERAL = 10_000 ether;
    uint128 internal constant PRICE = 2 ether; // per million units
    bytes32 internal constant MODEL = keccak256("atoma-tiny");

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
    ConsensusRequests internal consensus;
    EmissionSchedule internal emission;

    uint256[] internal nodeIds;
    mapping(uint256 nodeId => uint256 key) internal signerKey;
    mapping(uint256 nodeId => address) internal operatorOf;

    function deployAtoma() internal {
        vm.warp(1_700_000_000);
        vm.startPrank(admin);
        token = new AtomaToken(admin);
        nodes = new NodeRegistry(
            admin,
            token,
            EPOCH,
            NodeRegistry.Params({
                minCollateral: COLLATERAL,
                initialReputation: 50,
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
                maxSampleSize: 32
            })
        );
        vault = new AtomaVault(admin, token, INodeRegistry(address(nodes)), treasury);
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
                commitWindow: 10 minutes,
                revealWindow: 10 minutes,
                answerWindow: 10 minutes
            })
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
        emission = new EmissionSchedule(
            admin,
            IMintable(address(token)),
            vault,
            INodeRegistry(address(nodes)),
            EmissionSchedule.Schedule({
                initialEmission: 1_000_000 ether,
                tailEmission: 10_000 ether,
                decayBps: 9_900,
                nodeShareBps: 7_000,
                modelShareBps: 1_000,
                treasuryBps: 2_000
            })
        );
        nodes.wire(tasks, vault);
        settlement.wire(disputes, draws, address(evidence));
        disputes.wire(consensus);
        bytes32 protocol = nodes.PROTOCOL_ROLE();
        nodes.grantRole(protocol, address(stacks));
        nodes.grantRole(protocol, address(settlement));
        nodes.grantRole(protocol, address(disputes));
        nodes.grantRole(protocol, address(consensus));
        tasks.grantRole(protocol, address(nodes));
        tasks.grantRole(protocol, address(stacks));
        vault.grantRole(protocol, address(nodes));
        vault.grantRole(protocol, address(stacks));
        vault.grantRole(protocol, address(settlement));
        vault.grantRole(protocol, address(consensus));
        stacks.grantRole(protocol, address(settlement));
        settlement.grantRole(protocol, address(disputes));
        draws.grantRole(protocol, address(settlement));
        token.grantRole(token.MINTER_ROLE(), address(emission));
        token.mint(modelOwner, 10_000 ether);
        token.mint(user, 1_000_000 ether);
        vm.stopPrank();

        vm.startPrank(modelOwner);
        token.approve(address(models), type(uint256).max);
        models.registerModel(MODEL, keccak256("weights"), 500, 1_000 ether, "gguf://atoma-tiny");
        vm.stopPrank();
        vm.prank(user);
        token.approve(address(vault), type(uint256).max);
    }

    /// Registers a node with a fresh signing key; its operator is a separate address.
    function addNode(uint32 echelon) internal returns (uint256 nodeId) {
        uint256 index = nodeIds.length + 1;
        address operator = address(uint160(0x10000 + index));
        uint256 key = uint256(keccak256(abi.encode("signer", index)));
        vm.prank(admin);
        token.mint(operator, COLLATERAL * 2);
        vm.startPrank(operator);
        token.approve(address(nodes), type(uint256).max);
        nodeId = nodes.register(vm.addr(key), "http://127.0.0.1:1", echelon, COLLATERAL);
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
        tasks.subscribe(taskId, nodeId, price, 1e12);
    }

    function nextEpoch() internal {
        vm.warp(block.timestamp + EPOCH);
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

    // ---------------------------------------------------------------- Merkle trees (sorted pairs, as OZ)

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function merkleRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            bytes32[] memory next = new bytes32[]((layer.length + 1) / 2);
            for (uint256 i = 0; i < next.length; ++i) {
                next[i] = 2 * i + 1 < layer.length ? hashPair(layer[2 * i], layer[2 * i + 1]) : layer[2 * i];
            }
            layer = next;
        }
        return layer[0];
    }

    function merkleProof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        bytes32[] memory siblings = new bytes32[](64);
        uint256 depth;
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < layer.length) siblings[depth++] = layer[sibling];
            bytes32[] memory next = new bytes32[]((layer.length + 1) / 2);
            for (uint256 i = 0; i < next.length; ++i) {
                next[i] = 2 * i + 1 < layer.length ? hashPair(layer[2 * i], layer[2 * i + 1]) : layer[2 * i];
            }
            layer = next;
            index /= 2;
        }
        proof = new bytes32[](depth);
        for (uint256 i = 0; i < depth; ++i) proof[i] = siblings[i];
    }

    /// The canonical body of request k of a stack in these tests (its hash is the request hash).
    function requestBody(uint256 stackId, uint256 k) internal pure returns (bytes memory) {
        return abi.encodePacked('{"k":', vm.toString(k), ',"stack":', vm.toString(stackId), "}");
    }

    /// A served stack: request hashes, honest response hashes, leaves.
    struct Served {
        bytes32[] reqHashes;
        bytes32[] respHashes;
        bytes32[] leaves;
        bytes32 root;
    }

    function serve(uint256 stackId, uint256 count, bytes32 salt) internal pure returns (Served memory s) {
        s.reqHashes = new bytes32[](count);
        s.respHashes = new bytes32[](count);
        s.leaves = new bytes32[](count);
        for (uint256 k = 0; k < count; ++k) {
            s.reqHashes[k] = keccak256(requestBody(stackId, k));
            s.respHashes[k] = keccak256(abi.encode("response", stackId, k, salt));
            s.leaves[k] = AtomaTypedData.leaf(s.reqHashes[k], s.respHashes[k]);
        }
        s.root = merkleRoot(s.leaves);
    }
}
