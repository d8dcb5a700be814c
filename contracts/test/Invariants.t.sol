// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../src/common/AtomaTypedData.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {DisputeSteps} from "./lib/DisputeSteps.sol";
import {TestBase} from "./lib/TestBase.sol";

/// @notice Drives the deployed system through random sequences of what users, honest and cheating nodes, and
/// anyone calling the deadline functions can do. Flags record anything the invariants forbid.
contract SystemHandler is DisputeSteps {
    uint256 public plainTask;
    uint256 public verifiedTask;
    uint256[] public stackIds;
    mapping(uint256 stackId => bool) public lies;
    /// The units each settled stack's leaves add up to (the units it settled).
    mapping(uint256 stackId => uint64) public servedUnits;
    mapping(uint256 stackId => uint256) public escrowAtPurchase;
    address[] public holders;
    uint256 public minted;

    /// How far the random runs get, for tuning the handler (the test `test_handlerReachesEveryPhase` uses them).
    uint256 public settledCount;
    uint256 public finalizedCount;
    uint256 public resolvedCount;
    uint256 public timedOutCount;
    uint256 public failedCount;

    bool public foreignSettlementAccepted;
    bool public earlyClaimAccepted;
    bool public doubleClaimAccepted;
    bool public expiredDisputeStuck;
    bool public expiredStackStuck;

    constructor() {
        deployAtoma();
        for (uint256 i = 0; i < 10; ++i) addNode(1);
        plainTask = createTask(ITaskRegistry.SecurityLevel.None, 0, 0, 0);
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 800_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(plainTask, nodeIds[i], PRICE);
            subscribe(verifiedTask, nodeIds[i], PRICE + uint128(i));
        }
        nextEpoch();
        holders.push(admin);
        holders.push(treasury);
        holders.push(modelOwner);
        holders.push(user);
        holders.push(address(nodes));
        holders.push(address(models));
        holders.push(address(vault));
        holders.push(address(disputes));
        for (uint256 i = 0; i < nodeIds.length; ++i) holders.push(operatorOf[nodeIds[i]]);
        minted = token.totalSupply();
    }

    // ---------------------------------------------------------------- views for the invariants

    function contracts()
        external
        view
        returns (address, address, address, address, address, address, address)
    {
        return (address(token), address(nodes), address(vault), address(stacks), address(settlement), address(disputes), address(tasks));
    }

    function stackCount() external view returns (uint256) {
        return stackIds.length;
    }

    function holderCount() external view returns (uint256) {
        return holders.length;
    }

    function nodeCount() external view returns (uint256) {
        return nodeIds.length;
    }

    // ---------------------------------------------------------------- actions

    function buyStack(uint256 seed, uint64 units) external {
        units = uint64(bound(units, 1, 2_000_000));
        uint256 task = seed % 2 == 0 ? plainTask : verifiedTask;
        vm.prank(user);
        try stacks.buyStack(task, units, type(uint128).max, 1 days) returns (
            uint256 stackId, StackManager.Candidate[] memory candidates
        ) {
            vm.roll(block.number + 1);
            if (stacks.drawNode(stackId, candidates) == 0) return;
            stackIds.push(stackId);
            lies[stackId] = seed % 3 == 0;
            escrowAtPurchase[stackId] = vault.escrowOf(bytes32(stackId));
        } catch {}
    }

    /// The first stack from a random offset whose status is `status` (0 when none is).
    function _findStack(uint256 i, IStackManager.StackStatus status) internal view returns (uint256) {
        for (uint256 k = 0; k < stackIds.length; ++k) {
            uint256 stackId = stackIds[(i + k) % stackIds.length];
            if (stacks.getStack(stackId).status == status) return stackId;
        }
        return 0;
    }

    /// The first stack from a random offset whose settlement is in `phase` (0 when none is).
    function _findPhase(uint256 i, ISettlementManager.Phase phase) internal view returns (uint256) {
        for (uint256 k = 0; k < stackIds.length; ++k) {
            uint256 stackId = stackIds[(i + k) % stackIds.length];
            if (settlement.getSettlement(stackId).phase == phase) return stackId;
        }
        return 0;
    }

    function settleStack(uint256 i, uint64 units, uint256 otherSeed) external {
        if (stackIds.length == 0) return;
        uint256 stackId = _findStack(i, IStackManager.StackStatus.Active);
        if (stackId == 0) return;
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        units = uint64(bound(units, 3, stack.units < 3 ? 3 : stack.units));
        Served memory s = serve(stackId, 3, lies[stackId] ? bytes32("lie") : bytes32("honest"), units);
        uint256 other = nodeIds[otherSeed % nodeIds.length];
        if (other != stack.nodeId) {
            vm.prank(vm.addr(signerKey[other]));
            try settlement.settle(stackId, s.root, units, 3, 0) {
                foreignSettlementAccepted = true;
            } catch {}
        }
        vm.prank(vm.addr(signerKey[stack.nodeId]));
        try settlement.settle(stackId, s.root, units, 3, 0) {
            ++settledCount;
            servedUnits[stackId] = units;
            if (settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Drawing) {
                frozenCandidates[stackId] = draws.candidatesFor(stack.taskId, stack.nodeId);
                drawAttesters(stackId);
            }
        } catch {}
    }

    function attest(uint256 i, bool garbage) external {
        if (stackIds.length == 0) return;
        uint256 stackId = _findPhase(i, ISettlementManager.Phase.Commit);
        if (stackId == 0) return;
        Served memory honest = serve(stackId, 3, "honest", servedUnits[stackId]);
        uint256[] memory idx = settlement.sampledIndices(stackId);
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        for (uint256 k = 0; k < list.length; ++k) {
            if (list[k].removed || list[k].committed) continue;
            uint256 id = list[k].nodeId;
            // A garbage commitment can never be opened: its attester is timed out after the reveal.
            bytes32 result = resultOf(idx, honest);
            committedResult[stackId][id] = result;
            bytes32 c = garbage && k == 0 ? keccak256("garbage") : attestationCommitment(id, result, saltOf(stackId, id));
            vm.prank(vm.addr(signerKey[id]));
            try settlement.commitAttestation(stackId, id, c) {} catch {}
        }
        // A node reveals as soon as its reveal opens (the node's worker does), unless the warps get there first.
        if (settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Reveal) _reveal(stackId);
    }

    function reveal(uint256 i) external {
        if (stackIds.length == 0) return;
        uint256 stackId = _findPhase(i, ISettlementManager.Phase.Reveal);
        if (stackId == 0) return;
        _reveal(stackId);
    }

    function _reveal(uint256 stackId) internal {
        Served memory s =
            serve(stackId, 3, lies[stackId] ? bytes32("lie") : bytes32("honest"), servedUnits[stackId]);
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), s);
        vm.prank(vm.addr(signerKey[stacks.getStack(stackId).nodeId]));
        try settlement.reveal(stackId, revealed) {} catch {}
        // The attesters open as soon as the server revealed (their workers do).
        openAttestations(stackId);
    }

    /// The server of an open settlement dispute posts the requests it settled (unless it withholds them), and
    /// anyone draws the committee.
    function prepareDispute(uint256 d, bool withhold) external {
        (uint256 disputeId, DisputeManager.Dispute memory dispute) = _openDispute(d);
        if (disputeId == 0) return;
        uint256 stackId = dispute.originId;
        if (!withhold && dispute.evidenceCount < dispute.sampleCount) {
            Served memory s = serve(stackId, 3, lies[stackId] ? bytes32("lie") : bytes32("honest"));
            bytes32[] memory reqs = revealedReqHashes(stackId, s);
            vm.prank(vm.addr(signerKey[dispute.serverNodeId]));
            try disputes.postEvidence(disputeId, 0, evidenceOf(stackId), reqs) {} catch {}
        }
        for (uint256 k = 0; k < 2; ++k) {
            vm.roll(block.number + 2);
            try disputes.drawCommittee(disputeId) {} catch {}
        }
    }

    /// The committee of an open settlement dispute votes: honestly, or for the server's outputs (colluding).
    function vote(uint256 d, bool withServer) external {
        (uint256 disputeId, DisputeManager.Dispute memory dispute) = _openDispute(d);
        if (disputeId == 0) return;
        uint256 stackId = dispute.originId;
        bytes32 salt = withServer && lies[stackId] ? bytes32("lie") : bytes32("honest");
        DisputeManager.Member[] memory members = disputes.committeeOf(disputeId);
        Ballot[] memory ballots = new Ballot[](members.length);
        for (uint256 k = 0; k < members.length; ++k) {
            ballots[k] = ballot(members[k].nodeId, sampledOutputs(stackId, salt));
            vm.prank(vm.addr(signerKey[members[k].nodeId]));
            try disputes.commitVote(
                disputeId,
                members[k].nodeId,
                disputes.voteCommitment(disputeId, members[k].nodeId, ballots[k].claim, ballots[k].work, ballots[k].salt)
            ) {} catch {}
        }
        for (uint256 k = 0; k < members.length; ++k) {
            uint256 id = members[k].nodeId;
            vm.prank(vm.addr(signerKey[id]));
            try disputes.revealVote(disputeId, id, ballots[k].claim, ballots[k].work, ballots[k].salt) {} catch {}
            vm.prank(vm.addr(signerKey[id]));
            try disputes.substantiate(disputeId, id, shownOf(ballots[k])) {}
                catch {}
        }
    }

    function _openDispute(uint256 d) internal view returns (uint256 disputeId, DisputeManager.Dispute memory dispute) {
        uint256 count = disputes.disputeCount();
        for (uint256 k = 0; k < count; ++k) {
            uint256 candidate = 1 + (d + k) % count;
            dispute = disputes.getDispute(candidate);
            if (dispute.status == DisputeManager.Status.Open && dispute.kind == DisputeManager.Kind.Attestation) {
                return (candidate, dispute);
            }
        }
        return (0, dispute);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + (seconds_ % 8 == 0 ? bound(seconds_, 1 hours, 2 days) : bound(seconds_, 1, 30 minutes)));
    }

    /// Everything anyone may call once a deadline has passed, on one stack and one dispute.
    function tick(uint256 i, uint256 d) external {
        if (stackIds.length > 0) {
            uint256 stackId = _findStack(i, IStackManager.StackStatus.Active);
            if (stackId != 0 && block.timestamp > stacks.settleDeadline(stackId)) {
                try settlement.timeoutSettlement(stackId) {
                    ++timedOutCount;
                } catch {
                    expiredStackStuck = true;
                }
            }
            stackId = _findPhase(i, ISettlementManager.Phase.Drawing);
            if (stackId != 0) {
                vm.roll(block.number + 1);
                try draws.drawAttesters(stackId, frozenCandidates[stackId]) {} catch {}
            }
            stackId = _findPhase(i, ISettlementManager.Phase.Commit);
            if (stackId != 0) try settlement.timeoutAttesters(stackId) {} catch {}
            stackId = _findPhase(i, ISettlementManager.Phase.Opening);
            if (stackId != 0) try settlement.timeoutAttesters(stackId) {} catch {}
            stackId = _findPhase(i, ISettlementManager.Phase.Reveal);
            if (stackId != 0) {
                try settlement.failVerification(stackId) {
                    ++failedCount;
                } catch {}
            }
            stackId = _findPhase(i, ISettlementManager.Phase.Accepted);
            if (stackId != 0) {
                try settlement.finalize(stackId) {
                    ++finalizedCount;
                } catch {}
            }
        }
        uint256 count = disputes.disputeCount();
        if (count > 0) {
            uint256 disputeId = 1 + d % count;
            DisputeManager.Dispute memory dispute = disputes.getDispute(disputeId);
            if (dispute.status == DisputeManager.Status.Open) {
                vm.roll(block.number + 2);
                try disputes.drawCommittee(disputeId) {} catch {}
                dispute = disputes.getDispute(disputeId);
                // A dispute no committee can be drawn for ends with the last draw.
                if (dispute.status == DisputeManager.Status.Resolved) ++resolvedCount;
            }
            if (dispute.status == DisputeManager.Status.Open) {
                try disputes.resolve(disputeId) {
                    ++resolvedCount;
                } catch {
                    bool voteOver = dispute.commitDeadline != 0 && block.timestamp > dispute.revealDeadline;
                    bool evidenceOver =
                        dispute.evidenceCount < dispute.sampleCount && block.timestamp > dispute.evidenceDeadline;
                    if (voteOver || evidenceOver) expiredDisputeStuck = true;
                }
            }
        }
    }

    function claim(uint256 n, uint256 back) external {
        uint256 nodeId = nodeIds[n % nodeIds.length];
        uint256 current = nodes.currentEpoch();
        uint256[] memory epochs = new uint256[](1);
        epochs[0] = current;
        try vault.claimNodeFees(nodeId, epochs) {
            earlyClaimAccepted = true;
        } catch {}
        epochs[0] = current - bound(back, 1, current);
        try vault.claimNodeFees(nodeId, epochs) {
            try vault.claimNodeFees(nodeId, epochs) {
                doubleClaimAccepted = true;
            } catch {}
        } catch {}
    }

    /// Operators restore collateral a timeout slash took below the minimum.
    function topUp(uint256 n) external {
        uint256 nodeId = nodeIds[n % nodeIds.length];
        uint256 collateral = nodes.getNode(nodeId).collateral;
        if (collateral >= COLLATERAL || collateral == 0) return;
        vm.prank(operatorOf[nodeId]);
        try nodes.topUp(nodeId, COLLATERAL - collateral) {} catch {}
    }

    function withdraw(uint256 who) external {
        address account = who % 2 == 0 ? user : treasury;
        try vault.withdraw(account) {} catch {}
    }
}

/// @notice The handler must actually drive the system through its phases, or the invariants prove little.
contract HandlerReachTest is TestBase {
    function test_handlerReachesEveryPhase() public {
        SystemHandler handler = new SystemHandler();
        for (uint256 step = 0; step < 400; ++step) {
            uint256 r = uint256(keccak256(abi.encode(step)));
            uint256 action = r % 10;
            if (action == 0 || action == 1) handler.buyStack(r >> 8, uint64(r >> 16));
            else if (action == 2) handler.settleStack(r >> 8, uint64(r >> 32), r >> 64);
            else if (action == 3) handler.attest(r >> 8, (r >> 7) % 4 == 0);
            else if (action == 4) handler.reveal(r >> 8);
            else if (action == 5 && (r >> 6) % 2 == 0) handler.vote(r >> 8, (r >> 7) % 3 == 0);
            else if (action == 5) handler.prepareDispute(r >> 8, (r >> 7) % 5 == 0);
            else if (action == 6) handler.warp(r >> 8);
            else if (action == 7) handler.tick(r >> 8, r >> 40);
            else if (action == 8) handler.claim(r >> 8, r >> 40);
            else handler.topUp(r >> 8);
        }
        assertGe(handler.settledCount(), 10, "settlements");
        assertGe(handler.finalizedCount(), 5, "finalized");
        assertGe(handler.resolvedCount(), 1, "disputes resolved");
        assertGe(handler.timedOutCount(), 1, "stacks timed out");
    }
}

contract InvariantsTest is TestBase {
    SystemHandler internal handler;

    function setUp() public {
        handler = new SystemHandler();
        targetContract(address(handler));
    }

    function _token() internal view returns (IBalances) {
        (address token,,,,,,) = handler.contracts();
        return IBalances(token);
    }

    /// Tokens only appear by minting and disappear by burning: every token is held by a known party.
    function invariant_tokensAreConserved() public view {
        IBalances token = _token();
        uint256 sum;
        for (uint256 i = 0; i < handler.holderCount(); ++i) sum += token.balanceOf(handler.holders(i));
        assertEq(sum, token.totalSupply(), "all tokens accounted for");
        assertLe(token.totalSupply(), handler.minted(), "supply only shrinks (burns) in this run");
    }

    /// The vault holds exactly what it owes: open escrows plus pending payouts; no escrow grew after purchase.
    function invariant_escrowCoversPendingPayouts() public view {
        (, address nodes, address vault,,,,) = handler.contracts();
        IVaultView v = IVaultView(vault);
        uint256 escrowed;
        for (uint256 i = 0; i < handler.stackCount(); ++i) {
            uint256 stackId = handler.stackIds(i);
            uint256 escrow = v.escrowOf(bytes32(stackId));
            assertLe(escrow, handler.escrowAtPurchase(stackId), "never paid in beyond the purchase");
            escrowed += escrow;
        }
        assertEq(escrowed, v.totalEscrowed(), "escrow total");
        assertEq(_token().balanceOf(vault), uint256(v.totalEscrowed()) + v.totalOwed(), "vault = escrow + owed");
        INodesView r = INodesView(nodes);
        uint256 collateral;
        for (uint256 id = 1; id <= handler.nodeCount(); ++id) collateral += r.getNode(id).collateral;
        assertEq(_token().balanceOf(nodes), collateral, "registry holds exactly the collateral");
    }

    function invariant_onlyTheSelectedNodeSettles() public view {
        assertTrue(!handler.foreignSettlementAccepted(), "a node settled another node's stack");
    }

    function invariant_noClaimBeforeTheEpochEndsAndNoDoubleClaim() public view {
        assertTrue(!handler.earlyClaimAccepted(), "claimed an epoch that had not ended");
        assertTrue(!handler.doubleClaimAccepted(), "claimed the same fees twice");
    }

    function invariant_attestersAreDistinctAndNeverTheServer() public view {
        (,,, address stacks, address settlement,,) = handler.contracts();
        for (uint256 i = 0; i < handler.stackCount(); ++i) {
            uint256 stackId = handler.stackIds(i);
            uint256 server = IStackManager(stacks).getStack(stackId).nodeId;
            SettlementManager.Attester[] memory list = SettlementManager(settlement).attestersOf(stackId);
            for (uint256 a = 0; a < list.length; ++a) {
                assertTrue(list[a].nodeId != server, "attester is the server");
                for (uint256 b = a + 1; b < list.length; ++b) {
                    assertTrue(list[a].nodeId != list[b].nodeId, "attester sampled twice");
                }
            }
        }
    }

    function invariant_everyDeadlineCanBeEnforced() public view {
        assertTrue(!handler.expiredDisputeStuck(), "a dispute past its deadline could not be resolved");
        assertTrue(!handler.expiredStackStuck(), "an expired stack could not be timed out");
    }
}

interface IBalances {
    function balanceOf(address) external view returns (uint256);
    function totalSupply() external view returns (uint256);
}

interface IVaultView {
    function escrowOf(bytes32) external view returns (uint256);
    function totalEscrowed() external view returns (uint128);
    function totalOwed() external view returns (uint128);
}

interface INodesView {
    struct Node {
        address operator;
        uint32 echelon;
        uint8 status;
        uint8 reputation;
        uint32 obligations;
        address signer;
        uint32 deregisteredEpoch;
        uint112 collateral;
        uint112 bonded;
        uint32 registeredEpoch;
        string url;
    }

    function getNode(uint256) external view returns (Node memory);
}
