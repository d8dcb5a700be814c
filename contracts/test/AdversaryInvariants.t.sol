// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ChallengeManager} from "../src/disputes/ChallengeManager.sol";
import {ConsensusRequests} from "../src/consensus/ConsensusRequests.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {IDisputeManager} from "../src/interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {AtomaVault} from "../src/payments/AtomaVault.sol";
import {ModelRegistry} from "../src/registry/ModelRegistry.sol";
import {NodeRegistry} from "../src/registry/NodeRegistry.sol";
import {TaskRegistry} from "../src/registry/TaskRegistry.sol";
import {ReceiptFraud} from "../src/settlement/ReceiptFraud.sol";
import {SettlementDraw} from "../src/settlement/SettlementDraw.sol";
import {SettlementEvidence} from "../src/settlement/SettlementEvidence.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {AtomaToken} from "../src/token/AtomaToken.sol";
import {EmissionSchedule} from "../src/token/EmissionSchedule.sol";
import {AnyCallHandler} from "./lib/AnyCallHandler.sol";
import {HonestSteps} from "./lib/HonestSteps.sol";
import {TestBase} from "./lib/TestBase.sol";
import {Vm} from "./lib/Vm.sol";

/// The deployed contracts, for the other handlers and the invariants.
struct System {
    AtomaToken token;
    NodeRegistry nodes;
    ModelRegistry models;
    TaskRegistry tasks;
    AtomaVault vault;
    StackManager stacks;
    SettlementManager settlement;
    SettlementDraw draws;
    SettlementEvidence evidence;
    DisputeManager disputes;
    ChallengeManager challenges;
    ConsensusRequests consensus;
    EmissionSchedule emission;
    ReceiptFraud receiptFraud;
}

/// What the vault holds and owes, and the first book that does not add up.
struct VaultBooks {
    uint256 balance;
    uint256 escrowed;
    uint256 owed;
    uint256 escrowSum;
    uint256 owedSum;
    /// A stack whose escrow grew beyond what its owner paid, or stayed after it closed (0 when none).
    uint256 badEscrowStack;
}

/// @notice The honest parties' handler: it deploys the world and its actions are the honest user's and honest
/// nodes' (HonestSteps). Its views are the ghost accounting the invariants read.
contract HonestActor is HonestSteps {
    address internal immutable tester;
    uint256 internal honestModelCollateral;

    constructor() {
        tester = msg.sender;
        deployWorld();
        honestModelCollateral = token.balanceOf(address(models));
    }

    // ---------------------------------------------------------------- actions (fuzzed)

    function buyStack(uint256 seed, uint64 units) external {
        userBuy(seed, units);
    }

    function close(uint256 i) external {
        userClose(i);
    }

    /// Mostly minutes, one call in eight up to a day.
    function warp(uint256 seconds_) external {
        honestWarp(seconds_ % 8 == 0 ? bound(seconds_, 1 hours, 1 days) : bound(seconds_, 1, 30 minutes));
    }

    function act() external {
        duties();
    }

    function claim(uint256 n) external {
        honestClaim(n);
    }

    function withdraw() external {
        userWithdraw();
    }

    /// The logs of another handler's call: the candidates of the draws they armed (not fuzzed).
    function noteLogs(Vm.Log[] calldata logs) external {
        harvest(logs);
    }

    /// The end of a run: time passes and only honest parties and keepers act (not fuzzed: see targetSelectors).
    function drainAll() external returns (bool) {
        require(msg.sender == tester, "tester only");
        return drain(400);
    }

    // ---------------------------------------------------------------- the world, for the other handlers

    function system() external view returns (System memory s) {
        s = System(
            token,
            nodes,
            models,
            tasks,
            vault,
            stacks,
            settlement,
            draws,
            evidence,
            disputes,
            challenges,
            consensus,
            emission,
            receiptFraud
        );
    }

    function cheater() external view returns (uint256 id, address operator, uint256 key) {
        return (cheaterId, operatorOf[cheaterId], signerKey[cheaterId]);
    }

    function task() external view returns (uint256) {
        return verifiedTask;
    }

    /// The adversary's addresses: its own, and the cheating node's operator and signer.
    function adversaries() public view returns (address[] memory out) {
        out = new address[](3);
        out[0] = adversary;
        out[1] = operatorOf[cheaterId];
        out[2] = vm.addr(signerKey[cheaterId]);
    }

    /// The adversary's own address (the AnyCallHandler's sender).
    function adversaryOnly() external view returns (address[] memory out) {
        out = new address[](1);
        out[0] = adversary;
    }

    /// The cheating node's operator and signer (a second AnyCallHandler's senders: the node's own wild calls).
    function cheaterKeys() external view returns (address[] memory out) {
        out = new address[](2);
        out[0] = operatorOf[cheaterId];
        out[1] = vm.addr(signerKey[cheaterId]);
    }

    /// Every address an argument may name: every party and every contract.
    function everyone() external view returns (address[] memory out) {
        (address[] memory targets,) = attackSurface();
        out = new address[](targets.length + 6 + 2 * honestIds.length);
        uint256 k;
        for (uint256 i = 0; i < targets.length; ++i) out[k++] = targets[i];
        address[] memory bad = adversaries();
        for (uint256 i = 0; i < bad.length; ++i) out[k++] = bad[i];
        out[k++] = user;
        out[k++] = admin;
        out[k++] = treasury;
        for (uint256 i = 0; i < honestIds.length; ++i) {
            out[k++] = operatorOf[honestIds[i]];
            out[k++] = vm.addr(signerKey[honestIds[i]]);
        }
    }

    /// Every deployed contract and its forge artifact (the adversary calls any function of any of them).
    function attackSurface() public view returns (address[] memory targets, string[] memory artifacts) {
        targets = new address[](15);
        artifacts = new string[](15);
        (targets[0], artifacts[0]) = (address(token), "out/AtomaToken.sol/AtomaToken.json");
        (targets[1], artifacts[1]) = (address(nodes), "out/NodeRegistry.sol/NodeRegistry.json");
        (targets[2], artifacts[2]) = (address(models), "out/ModelRegistry.sol/ModelRegistry.json");
        (targets[3], artifacts[3]) = (address(tasks), "out/TaskRegistry.sol/TaskRegistry.json");
        (targets[4], artifacts[4]) = (address(vault), "out/AtomaVault.sol/AtomaVault.json");
        (targets[5], artifacts[5]) = (address(stacks), "out/StackManager.sol/StackManager.json");
        (targets[6], artifacts[6]) = (address(settlement), "out/SettlementManager.sol/SettlementManager.json");
        (targets[7], artifacts[7]) = (address(disputes), "out/DisputeManager.sol/DisputeManager.json");
        (targets[8], artifacts[8]) = (address(challenges), "out/ChallengeManager.sol/ChallengeManager.json");
        (targets[9], artifacts[9]) = (address(consensus), "out/ConsensusRequests.sol/ConsensusRequests.json");
        (targets[10], artifacts[10]) = (address(emission), "out/EmissionSchedule.sol/EmissionSchedule.json");
        (targets[11], artifacts[11]) = (address(receiptFraud), "out/ReceiptFraud.sol/ReceiptFraud.json");
        (targets[12], artifacts[12]) =
            (address(settlement.revealVerifier()), "out/RevealVerifier.sol/RevealVerifier.json");
        (targets[13], artifacts[13]) = (address(draws), "out/SettlementDraw.sol/SettlementDraw.json");
        (targets[14], artifacts[14]) = (address(evidence), "out/SettlementEvidence.sol/SettlementEvidence.json");
    }

    // ---------------------------------------------------------------- ghost accounting for the invariants

    /// The first honest node holding less collateral than it put in, or not active (0 when none).
    function honestShortfall() external view returns (uint256 nodeId, uint256 held, uint256 deposited) {
        for (uint256 i = 0; i < honestIds.length; ++i) {
            INodeRegistry.Node memory n = nodes.getNode(honestIds[i]);
            if (n.collateral < honestDeposit[honestIds[i]] || n.status != INodeRegistry.NodeStatus.Active) {
                return (honestIds[i], n.collateral, honestDeposit[honestIds[i]]);
            }
        }
    }

    function _isAdversary(address a) internal view returns (bool) {
        return a == adversary || a == operatorOf[cheaterId] || a == vm.addr(signerKey[cheaterId]);
    }

    /// Everything the adversary and the cheating node hold or may still get back: tokens, collateral of nodes
    /// they operate, vault balances and unclaimed fees, their open escrows (in full), challenge bonds and models'
    /// collateral beyond the honest model's.
    function coalitionWealth() external view returns (uint256 wealth) {
        address[] memory bad = adversaries();
        uint256 epochs = nodes.currentEpoch();
        for (uint256 i = 0; i < bad.length; ++i) {
            wealth += token.balanceOf(bad[i]) + vault.balanceOf(bad[i]);
            for (uint256 e = 0; e <= epochs; ++e) {
                (uint128 claimable,) = vault.ownerLedger(bad[i], e);
                wealth += claimable;
            }
        }
        uint256 count = nodes.nodeCount();
        for (uint256 id = 1; id <= count; ++id) {
            if (!_isAdversary(nodes.operatorOf(id))) continue;
            wealth += nodes.getNode(id).collateral;
            for (uint256 e = 0; e <= epochs; ++e) {
                (uint128 claimable,) = vault.nodeLedger(id, e);
                wealth += claimable;
            }
        }
        count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) {
            if (_isAdversary(stacks.getStack(s).owner)) wealth += vault.escrowOf(bytes32(s));
        }
        count = consensus.requestCount();
        for (uint256 r = 1; r <= count; ++r) {
            if (_isAdversary(consensus.getRequest(r).requester)) wealth += vault.escrowOf(consensus.escrowKey(r));
        }
        wealth += token.balanceOf(address(challenges)) + token.balanceOf(address(models)) - honestModelCollateral;
    }

    /// The vault's token balance, its totals, and the totals rebuilt from every escrow and every ledger entry.
    function vaultBooks() external view returns (VaultBooks memory b) {
        b.balance = token.balanceOf(address(vault));
        b.escrowed = vault.totalEscrowed();
        b.owed = vault.totalOwed();
        uint256 count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) {
            uint256 escrow = vault.escrowOf(bytes32(s));
            IStackManager.Stack memory stack = stacks.getStack(s);
            if (escrow > stack.escrow || (escrow > 0 && stack.status == IStackManager.StackStatus.Closed)) {
                if (b.badEscrowStack == 0) b.badEscrowStack = s;
            }
            b.escrowSum += escrow;
        }
        count = consensus.requestCount();
        for (uint256 r = 1; r <= count; ++r) b.escrowSum += vault.escrowOf(consensus.escrowKey(r));
        b.owedSum = _owedSum();
    }

    function _owedSum() internal view returns (uint256 sum) {
        uint256 epochs = nodes.currentEpoch();
        uint256 count = nodes.nodeCount();
        for (uint256 id = 1; id <= count; ++id) {
            for (uint256 e = 0; e <= epochs; ++e) {
                (uint128 claimable,) = vault.nodeLedger(id, e);
                sum += claimable;
            }
        }
        address[] memory bad = adversaries();
        address[] memory accounts = new address[](bad.length + 4);
        for (uint256 i = 0; i < bad.length; ++i) accounts[i] = bad[i];
        accounts[bad.length] = user;
        accounts[bad.length + 1] = treasury;
        accounts[bad.length + 2] = modelOwner;
        accounts[bad.length + 3] = admin;
        for (uint256 i = 0; i < accounts.length; ++i) {
            sum += vault.balanceOf(accounts[i]);
            for (uint256 e = 0; e <= epochs; ++e) {
                (uint128 claimable,) = vault.ownerLedger(accounts[i], e);
                sum += claimable;
            }
        }
    }

    /// What is still open after a drain, for the failure message.
    function openItems() external view returns (string memory out) {
        uint256 count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) {
            IStackManager.Stack memory stack = stacks.getStack(s);
            ISettlementManager.Settlement memory st = settlement.getSettlement(s);
            if (
                stack.status != IStackManager.StackStatus.Closed || st.phase < ISettlementManager.Phase.Finalized
                    || st.phase == ISettlementManager.Phase.Accepted
            ) {
                out = string.concat(
                    out,
                    " stack ",
                    vm.toString(s),
                    " status ",
                    vm.toString(uint256(stack.status)),
                    " phase ",
                    vm.toString(uint256(st.phase))
                );
            }
        }
        count = disputes.disputeCount();
        for (uint256 d = 1; d <= count; ++d) {
            DisputeManager.Dispute memory dispute = disputes.getDispute(d);
            if (dispute.status != DisputeManager.Status.Resolved) {
                out = string.concat(out, " dispute ", vm.toString(d), " round ", vm.toString(uint256(dispute.drawRound)));
            }
        }
        count = nodes.nodeCount();
        for (uint256 id = 1; id <= count; ++id) {
            uint256 held = nodes.getNode(id).obligations;
            if (held != 0) out = string.concat(out, " node ", vm.toString(id), " obligations ", vm.toString(held));
        }
        out = string.concat(out, " escrowed ", vm.toString(uint256(vault.totalEscrowed())));
        count = consensus.requestCount();
        if (count > 0) out = string.concat(out, " consensus requests ", vm.toString(count));
    }
}

/// @notice The cheating node's handler: it settles the stacks it serves with answers that are not the honest
/// ones (other outputs, inflated units, requests nobody made, or a junk root), reveals and defends them, votes
/// for lies in committees and attests falsely. The adversary (AnyCallHandler) also acts with its keys.
contract CheaterHandler is HonestSteps {
    HonestActor internal immutable world;
    address internal cheaterOperator;
    /// How the cheater settled a stack: 1 + mode (0 when it did not).
    mapping(uint256 stackId => uint8) public settledAs;
    bytes32 internal constant LIE = "lie";

    constructor(HonestActor world_) {
        world = world_;
        System memory s = world_.system();
        token = s.token;
        nodes = s.nodes;
        models = s.models;
        tasks = s.tasks;
        vault = s.vault;
        stacks = s.stacks;
        settlement = s.settlement;
        draws = s.draws;
        evidence = s.evidence;
        disputes = s.disputes;
        challenges = s.challenges;
        consensus = s.consensus;
        emission = s.emission;
        receiptFraud = s.receiptFraud;
        uint256 key;
        (cheaterId, cheaterOperator, key) = world_.cheater();
        signerKey[cheaterId] = key;
        operatorOf[cheaterId] = cheaterOperator;
        verifiedTask = world_.task();
        vm.startPrank(cheaterOperator);
        token.approve(address(vault), type(uint256).max);
        token.approve(address(challenges), type(uint256).max);
        vm.stopPrank();
    }

    function _me() internal view returns (address) {
        return vm.addr(signerKey[cheaterId]);
    }

    /// The leaves the cheater settles a stack with in `mode`.
    function _lie(uint256 stackId, uint256 mode) internal view returns (Served memory) {
        uint256 made = world.requestsOf(stackId);
        uint256 count = made > 0 ? made : 2;
        if (mode == 0) return transcript(stackId, count, LIE, false);
        if (mode == 1) return transcript(stackId, count, HONEST, true);
        return transcript(stackId, made + 2, HONEST, false);
    }

    /// The first of the cheater's stacks from a random offset in `status` (0 when none).
    function _mine(uint256 i, IStackManager.StackStatus status) internal view returns (uint256) {
        uint256 count = stacks.stackCount();
        for (uint256 k = 0; k < count; ++k) {
            uint256 s = 1 + (i % count + k) % count;
            IStackManager.Stack memory stack = stacks.getStack(s);
            if (stack.nodeId == cheaterId && stack.status == status) return s;
        }
        return 0;
    }

    function _inPhase(uint256 i, ISettlementManager.Phase phase, bool served) internal view returns (uint256) {
        uint256 count = stacks.stackCount();
        for (uint256 k = 0; k < count; ++k) {
            uint256 s = 1 + (i % count + k) % count;
            if (settlement.getSettlement(s).phase != phase) continue;
            if (served == (stacks.getStack(s).nodeId == cheaterId)) return s;
        }
        return 0;
    }

    /// Whether the cheater holds the user's signatures of every sampled request (it was sent the real ones only).
    function _signedSample(uint256 stackId) internal view returns (bool) {
        uint256 made = world.requestsOf(stackId);
        uint256[] memory idx = settlement.sampledIndices(stackId);
        for (uint256 i = 0; i < idx.length; ++i) {
            if (idx[i] >= made) return false;
        }
        return made > 0;
    }

    // ---------------------------------------------------------------- actions (fuzzed)

    /// Everything it can do now: settle its stacks (with the lie `mode`), reveal, post, defend, vote.
    function play(uint8 mode, bool abstain) external {
        uint256 count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) {
            IStackManager.Stack memory stack = stacks.getStack(s);
            if (stack.nodeId == cheaterId && stack.status == IStackManager.StackStatus.Active) {
                this.settle(s - 1, mode, uint256(keccak256(abi.encode(s, mode))));
            }
        }
        this.reveal();
        this.postData(0);
        count = disputes.disputeCount();
        for (uint256 d = 1; d <= count; ++d) this.vote(d - 1, abstain);
    }

    function settle(uint256 i, uint8 mode, uint256 junk) public {
        uint256 stackId = _mine(i, IStackManager.StackStatus.Active);
        if (stackId == 0) return;
        mode %= 4;
        bytes32 root;
        uint64 units;
        uint64 count;
        if (mode == 3) {
            root = keccak256(abi.encode(junk));
            units = uint64(bound(junk >> 8, 0, stacks.getStack(stackId).units));
            count = uint64(1 + junk % 8);
        } else {
            Served memory c = _lie(stackId, mode);
            (root, units, count) = (c.root, c.units, uint64(c.leaves.length));
        }
        vm.recordLogs();
        vm.prank(_me());
        try settlement.settle(stackId, root, units, count, 0) {
            settledAs[stackId] = mode + 1;
        } catch {}
        world.noteLogs(vm.getRecordedLogs());
    }

    /// Reveals every stack it settled that is in its reveal phase (the lies it settled, with valid proofs).
    function reveal() public {
        uint256 count = stacks.stackCount();
        for (uint256 stackId = 1; stackId <= count; ++stackId) {
            if (settlement.getSettlement(stackId).phase != ISettlementManager.Phase.Reveal) continue;
            if (stacks.getStack(stackId).nodeId != cheaterId) continue;
            if (settledAs[stackId] == 0 || settledAs[stackId] == 4) continue;
            bytes memory revealed =
                revealOf(settlement.sampledIndices(stackId), _lie(stackId, settledAs[stackId] - 1));
            vm.prank(_me());
            try settlement.reveal(stackId, revealed) {} catch {}
        }
        defend();
    }

    /// Posts the user's signed requests an attester asked for (only those the user really signed).
    function postData(uint256 i) public {
        uint256 stackId = _inPhase(i, ISettlementManager.Phase.Commit, true);
        if (stackId == 0 || !_signedSample(stackId)) return;
        ISettlementManager.Settlement memory st = settlement.getSettlement(stackId);
        if (st.dataRequested && !st.dataPosted) postSample(stackId, _me());
    }

    /// Defends every dispute over a stack it settled with the user's signed requests (when it holds them).
    function defend() public {
        uint256 count = disputes.disputeCount();
        for (uint256 disputeId = 1; disputeId <= count; ++disputeId) {
            DisputeManager.Dispute memory dispute = disputes.getDispute(disputeId);
            if (dispute.status != DisputeManager.Status.Open || dispute.serverNodeId != cheaterId) continue;
            uint256 stackId = dispute.originId;
            if (settledAs[stackId] == 0 || settledAs[stackId] == 4 || !_signedSample(stackId)) continue;
            if (dispute.evidenceCount >= dispute.sampleCount) continue;
            IDisputeManager.EvidenceRequest[] memory reqs = evidenceFrom(stackId, dispute.evidenceCount);
            bytes32[] memory revealed = revealedReqHashes(stackId, _lie(stackId, settledAs[stackId] - 1));
            vm.prank(_me());
            try disputes.postEvidence(disputeId, dispute.evidenceCount, reqs, revealed) {} catch {}
        }
    }

    /// As a committee member: votes for the lie (or abstains), reveals and shows it.
    function vote(uint256 d, bool abstain) public {
        uint256 count = disputes.disputeCount();
        if (count == 0) return;
        uint256 disputeId = 1 + d % count;
        DisputeManager.Dispute memory dispute = disputes.getDispute(disputeId);
        if (dispute.status != DisputeManager.Status.Open || dispute.commitDeadline == 0) return;
        Ballot memory b = abstain || dispute.kind != DisputeManager.Kind.Attestation
            ? unavailableBallot(cheaterId)
            : ballot(cheaterId, outputsAt(dispute.originId, LIE));
        bytes32 c = disputes.voteCommitment(disputeId, cheaterId, b.claim, b.work, b.salt);
        vm.prank(_me());
        try disputes.commitVote(disputeId, cheaterId, c) {} catch {}
        vm.prank(_me());
        try disputes.revealVote(disputeId, cheaterId, b.claim, b.work, b.salt) {} catch {}
        if (b.outputs.length == 0) return;
        DisputeManager.Shown memory shown = shownOf(b);
        vm.prank(_me());
        try disputes.substantiate(disputeId, cheaterId, shown) {} catch {}
    }

    /// As an attester: commits to lies or garbage, or claims it cannot fetch the transcript; after a reveal it
    /// opens its lie, or stays silent (a garbage commitment cannot be opened).
    function attest(uint256 i, uint8 mode) external {
        uint256 opening = _inPhase(i, ISettlementManager.Phase.Opening, false);
        if (opening != 0 && mode % 2 == 0) {
            bytes32 lie = ballot(cheaterId, outputsAt(opening, LIE)).claim;
            vm.prank(_me());
            try settlement.openAttestation(opening, cheaterId, lie, saltOf(opening, cheaterId)) {} catch {}
        }
        uint256 stackId = _inPhase(i, ISettlementManager.Phase.Commit, false);
        if (stackId == 0) return;
        mode %= 3;
        if (mode == 2) {
            vm.prank(_me());
            try settlement.declareTranscriptUnavailable(stackId, cheaterId) {} catch {}
            return;
        }
        bytes32 c = mode == 0 ? attestation(stackId, cheaterId, outputsAt(stackId, LIE)) : keccak256(abi.encode(i));
        vm.prank(_me());
        try settlement.commitAttestation(stackId, cheaterId, c) {} catch {}
    }

    /// The cheater's operator buys a stack itself (it may be drawn to serve it).
    function buyOwn(uint64 units) external {
        vm.recordLogs();
        vm.prank(cheaterOperator);
        try stacks.buyStack(verifiedTask, uint64(bound(units, 1, 100_000)), type(uint128).max, 1 days) {} catch {}
        world.noteLogs(vm.getRecordedLogs());
    }
}

interface VmJson {
    function parseJson(string calldata json, string calldata key) external pure returns (bytes memory);
}

/// The names of an artifact's state-changing functions (a contract of its own, so that a failed decode is caught).
contract MutatingNames {
    VmJson internal constant VM = VmJson(address(uint160(uint256(keccak256("hevm cheat code")))));

    function read(string calldata json) external pure returns (string[] memory) {
        return abi.decode(VM.parseJson(json, "$.abi[?(@.stateMutability == 'nonpayable')].name"), (string[]));
    }
}

/// @notice The adversary's handler: `AnyCallHandler` calling only state-changing functions, with arguments that
/// are, one word in four, something live (a stack, dispute, challenge or request id, a node id, an epoch, the
/// model, an escrow key) or an amount or duration the contracts take (collateral, bonds, prices, windows). Several
/// entry points, so that the fuzzer, which picks among all targeted functions alike, sends it a good share of the
/// calls. It reads the logs of its calls for consensus requests' candidates and notes them for the keepers.
contract Adversary is AnyCallHandler {
    HonestActor internal world;
    System internal sys;
    MutatingNames internal names;
    mapping(bytes32 json => uint8) internal parsed;
    mapping(bytes32 json => mapping(bytes32 name => bool)) internal mutating;

    constructor(
        HonestActor world_,
        address[] memory targets,
        string[] memory artifacts,
        address[] memory callers,
        address[] memory addrs
    ) AnyCallHandler(targets, artifacts, callers, addrs) {
        world = world_;
        sys = world_.system();
    }

    function strike(uint256 which, uint256 sender, uint256 seed) external {
        _strike(which, sender, seed);
    }

    function strikeAgain(uint256 which, uint256 sender, uint256 seed) external {
        _strike(which, sender, seed);
    }

    function strikeTwice(uint256 which, uint256 sender, uint256 seed) external {
        _strike(which, sender, seed);
        _strike(seed, which, sender);
    }

    function strikeThrice(uint256 which, uint256 sender, uint256 seed) external {
        _strike(which, sender, seed);
        _strike(seed, which, sender);
        _strike(sender, seed, which);
    }

    function _strike(uint256 which, uint256 sender, uint256 seed) internal {
        vm.recordLogs();
        this.callAny(which, sender, seed);
        world.noteLogs(vm.getRecordedLogs());
    }

    function _keep(string memory signature, string memory json) internal override returns (bool) {
        super._keep(signature, json);
        bytes32 h = keccak256(bytes(json));
        if (parsed[h] == 0) {
            if (address(names) == address(0)) names = new MutatingNames();
            try names.read(json) returns (string[] memory list) {
                for (uint256 i = 0; i < list.length; ++i) mutating[h][keccak256(bytes(list[i]))] = true;
                parsed[h] = 1;
            } catch {
                parsed[h] = 2;
            }
        }
        if (parsed[h] == 2) return true;
        bytes memory sig = bytes(signature);
        uint256 open;
        while (sig[open] != "(") ++open;
        return mutating[h][keccak256(_slice(sig, 0, open))];
    }

    function _word(bytes memory t, Rng memory rng) internal view override returns (uint256) {
        uint256 r = _next(rng);
        if (address(sys.stacks) == address(0) || r % 4 != 0) return super._word(t, rng);
        if (_eq(t, "bytes32")) return uint256(_liveKey(r >> 8));
        if (!_startsWith(t, "uint")) return super._word(t, rng);
        uint256 bits = t.length == 4 ? 256 : _parseUint(_slice(t, 4, t.length));
        uint256 value = _liveNumber(r >> 8);
        return bits == 256 ? value : value & ((uint256(1) << bits) - 1);
    }

    function _liveNumber(uint256 r) internal view returns (uint256) {
        uint256 kind = r % 8;
        r >>= 8;
        if (kind == 0) return 1 + r % _atLeastOne(sys.stacks.stackCount());
        if (kind == 1) return 1 + r % _atLeastOne(sys.disputes.disputeCount());
        if (kind == 2) return 1 + r % _atLeastOne(sys.nodes.nodeCount());
        if (kind == 3) {
            uint256 epoch = sys.nodes.currentEpoch();
            return epoch - r % (epoch < 3 ? epoch + 1 : 3);
        }
        if (kind == 4) {
            return r % 2 == 0
                ? 1 + r % _atLeastOne(sys.challenges.challengeCount())
                : 1 + r % _atLeastOne(sys.consensus.requestCount());
        }
        uint256[12] memory amounts = [
            uint256(10_000 ether),
            2_500 ether,
            1_000 ether,
            100 ether,
            5 ether,
            2 ether,
            type(uint128).max,
            1 hours,
            1 days,
            2_000,
            1_000_000,
            500
        ];
        return amounts[r % amounts.length];
    }

    function _liveKey(uint256 r) internal view returns (bytes32) {
        uint256 kind = r % 4;
        r >>= 8;
        if (kind == 0) return keccak256("atoma-tiny");
        if (kind == 1) return bytes32(1 + r % _atLeastOne(sys.stacks.stackCount()));
        if (kind == 2) return sys.consensus.escrowKey(1 + r % _atLeastOne(sys.consensus.requestCount()));
        return bytes32(r);
    }

    function _atLeastOne(uint256 n) internal pure returns (uint256) {
        return n == 0 ? 1 : n;
    }
}

/// @notice Invariants under an adversary (issue 10): honest parties follow the protocol (HonestActor), a node
/// cheats (CheaterHandler), and an adversary calls every external function of every deployed contract with any
/// arguments from its own and the cheater's addresses (AnyCallHandler).
/// (a) honest nodes never lose collateral; (b) the vault never owes more than it holds and its books add up;
/// (c) after the run, with time passing and only honest parties and keepers acting, every stack, settlement,
/// dispute, challenge and request ends, no escrow stays locked and no node stays bound; (d) the cheater and the
/// adversary together never end with more than they started with.
contract AdversaryInvariantsTest is TestBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    HonestActor internal world;
    CheaterHandler internal cheater;
    Adversary internal anyCall;
    Adversary internal rogue;
    uint256 internal coalitionStart;

    function setUp() public {
        world = new HonestActor();
        cheater = new CheaterHandler(world);
        (address[] memory targets, string[] memory artifacts) = world.attackSurface();
        anyCall = new Adversary(world, targets, artifacts, world.adversaryOnly(), world.everyone());
        rogue = new Adversary(world, targets, artifacts, world.cheaterKeys(), world.everyone());
        coalitionStart = world.coalitionWealth();
        // Every handler is also in `targetSelectors`, which keeps each to its actions; naming one here keeps forge
        // from targeting every contract the setup deployed.
        targetContract(address(world));
    }

    /// The honest handler's actions (its drain is the test's, at the end of each run), the cheater's, and the
    /// adversary's entry points (four for its own address, one for the cheater's keys: about a quarter of all calls).
    function targetSelectors() public view returns (FuzzSelector[] memory out) {
        out = new FuzzSelector[](4);
        bytes4[] memory cheats = new bytes4[](8);
        cheats[0] = CheaterHandler.play.selector;
        cheats[1] = CheaterHandler.settle.selector;
        cheats[2] = CheaterHandler.reveal.selector;
        cheats[3] = CheaterHandler.postData.selector;
        cheats[4] = CheaterHandler.defend.selector;
        cheats[5] = CheaterHandler.vote.selector;
        cheats[6] = CheaterHandler.attest.selector;
        cheats[7] = CheaterHandler.buyOwn.selector;
        out[3] = FuzzSelector(address(cheater), cheats);
        bytes4[] memory strikes = new bytes4[](4);
        strikes[0] = Adversary.strike.selector;
        strikes[1] = Adversary.strikeAgain.selector;
        strikes[2] = Adversary.strikeTwice.selector;
        strikes[3] = Adversary.strikeThrice.selector;
        out[1] = FuzzSelector(address(anyCall), strikes);
        bytes4[] memory rogueStrikes = new bytes4[](1);
        rogueStrikes[0] = Adversary.strike.selector;
        out[2] = FuzzSelector(address(rogue), rogueStrikes);
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = HonestActor.buyStack.selector;
        selectors[1] = HonestActor.close.selector;
        selectors[2] = HonestActor.warp.selector;
        selectors[3] = HonestActor.act.selector;
        selectors[4] = HonestActor.claim.selector;
        selectors[5] = HonestActor.withdraw.selector;
        out[0] = FuzzSelector(address(world), selectors);
    }

    function _honestCollateral() internal view {
        (uint256 id, uint256 held, uint256 deposited) = world.honestShortfall();
        if (id != 0) {
            fail(string.concat(
                "(a) honest node ", vm.toString(id), " lost collateral: ", vm.toString(held), " < ", vm.toString(deposited)
            ));
        }
    }

    function _vault() internal view {
        VaultBooks memory b = world.vaultBooks();
        assertGe(b.balance, b.escrowed + b.owed, "(b) vault holds what it owes");
        assertEq(b.escrowSum, b.escrowed, "(b) escrows add up to totalEscrowed");
        assertEq(b.owedSum, b.owed, "(b) balances and unclaimed fees add up to totalOwed");
        assertEq(b.badEscrowStack, 0, "(b) an escrow above its purchase, or left after its stack closed");
    }

    function _coalition() internal view {
        assertLe(world.coalitionWealth(), coalitionStart, "(d) the cheater and the adversary gained");
    }

    /// (a), (b) and (d) after every call (one campaign checks all three: each invariant function runs its own).
    function invariant_underAnAdversary() public view {
        _honestCollateral();
        _vault();
        _coalition();
    }

    /// (c), and (a), (b), (d) once everything has ended.
    function afterInvariant() public {
        bool ended = world.drainAll();
        if (!ended) fail(string.concat("(c) still open after the drain:", world.openItems()));
        _honestCollateral();
        _vault();
        _coalition();
    }
}

/// @notice The handlers must drive the system through every phase under the adversary, or the invariants above
/// prove little: a fixed pseudo-random sequence of the fuzzer's actions, then the drain.
contract AdversaryReachTest is TestBase {
    function test_handlersReachEveryPhase() public {
        HonestActor world = new HonestActor();
        CheaterHandler cheater = new CheaterHandler(world);
        (address[] memory targets, string[] memory artifacts) = world.attackSurface();
        Adversary adversary = new Adversary(world, targets, artifacts, world.adversaryOnly(), world.everyone());
        Adversary rogue = new Adversary(world, targets, artifacts, world.cheaterKeys(), world.everyone());
        uint256 coalitionStart = world.coalitionWealth();
        for (uint256 step = 0; step < 300; ++step) {
            uint256 r = uint256(keccak256(abi.encode("reach", step)));
            uint256 action = r % 20;
            if (action < 3) world.buyStack(r >> 8, uint64(r >> 16));
            else if (action < 6) world.warp(_minutes(r >> 8));
            else if (action == 6) world.act();
            else if (action == 7) world.claim(r >> 8);
            else if (action == 8) (r >> 8) % 2 == 0 ? world.withdraw() : world.close(r >> 9);
            else if (action < 11) cheater.settle(r >> 8, uint8(r >> 16) % 2, r >> 24); // lies that reach a dispute
            else if (action == 11) cheater.reveal();
            else if (action == 12) (r >> 8) % 2 == 0 ? cheater.defend() : cheater.postData(r >> 9);
            else if (action == 13) cheater.vote(r >> 8, (r >> 7) % 4 == 0);
            else if (action == 14) cheater.attest(r >> 8, uint8(r >> 16));
            else if (action == 16) cheater.play(uint8(r >> 8) % 2, (r >> 16) % 4 == 0);
            else if (action == 15) rogue.strike(r >> 8, r >> 40, r >> 72);
            else adversary.strike(r >> 8, r >> 40, r >> 72);
        }
        System memory s = world.system();
        _log(world, s, adversary);
        assertGe(world.userStacks(), 20, "user stacks");
        assertGe(world.honestSettled(), 15, "honest settlements");
        assertGe(world.honestAttested(), 10, "honest attestations");
        assertGe(world.honestRevealed(), 5, "honest reveals");
        assertGe(s.disputes.disputeCount(), 1, "disputes");
        assertGe(world.honestVotes(), 3, "honest votes");
        assertGe(adversary.calls(), 40, "adversary calls");
        (uint256 cheaterId,,) = world.cheater();
        assertTrue(s.nodes.getNode(cheaterId).status == INodeRegistry.NodeStatus.Slashed, "the cheater was caught");
        assertTrue(world.drainAll(), string.concat("still open after the drain:", world.openItems()));
        assertGe(world.keeperMoves(), 10, "keeper moves");
        assertLe(world.coalitionWealth(), coalitionStart, "the cheater and the adversary gained");
    }

    event Reach(string what, uint256 count);

    /// A warp of under five minutes (never a multiple of 8, which `warp` stretches to hours): windows of ten
    /// minutes open and close across several steps, so the cheater gets to reveal and defend.
    function _minutes(uint256 r) internal pure returns (uint256 w) {
        w = 1 + r % 299;
        if (w % 8 == 0) ++w;
    }

    function _log(HonestActor world, System memory s, Adversary adversary) internal {
        emit Reach("user stacks", world.userStacks());
        emit Reach("honest settlements", world.honestSettled());
        emit Reach("honest attestations", world.honestAttested());
        emit Reach("honest reveals", world.honestRevealed());
        emit Reach("disputes", s.disputes.disputeCount());
        emit Reach("honest votes", world.honestVotes());
        emit Reach("adversary calls through", adversary.succeeded());
        emit Reach("stacks", s.stacks.stackCount());
        emit Reach("adversary functions", adversary.functionCount());
        for (uint256 i = 0; i < adversary.functionCount(); ++i) {
            (, bytes4 selector, string memory signature) = adversary.functionAt(i);
            if (adversary.successesOf(selector) > 0) emit Reach(signature, adversary.successesOf(selector));
        }
        (uint256 cheaterId,,) = world.cheater();
        emit Reach("cheater status", uint256(s.nodes.getNode(cheaterId).status));
        emit Reach("cheater subscribed", s.tasks.getSubscription(world.task(), cheaterId).active ? 1 : 0);
    }
}
