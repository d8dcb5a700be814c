// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AtomaTypedData} from "../../src/common/AtomaTypedData.sol";
import {ChallengeManager} from "../../src/disputes/ChallengeManager.sol";
import {ConsensusRequests} from "../../src/consensus/ConsensusRequests.sol";
import {DisputeManager} from "../../src/disputes/DisputeManager.sol";
import {IDisputeManager} from "../../src/interfaces/IDisputeManager.sol";
import {INodeRegistry} from "../../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../../src/interfaces/IStackManager.sol";
import {ITaskRegistry} from "../../src/interfaces/ITaskRegistry.sol";
import {SettlementEvidence} from "../../src/settlement/SettlementEvidence.sol";
import {SettlementManager} from "../../src/settlement/SettlementManager.sol";
import {StackManager} from "../../src/stacks/StackManager.sol";
import {Vm} from "./Vm.sol";
import {DisputeSteps} from "./DisputeSteps.sol";

/// @notice The world of the adversarial invariant suite and everything its honest parties do in it, in one place
/// so that a change of the protocol's flow (a two-step purchase, a later-block attester draw) is adapted here
/// only. Honest parties: the user (buys stacks, makes 1–4 requests on each, signs them), six nodes (serve, settle
/// with real leaves, post the requests they were sent, reveal, attest, vote in committees, all as soon as they
/// can) and keepers (anyone calling the permissionless deadline functions). Honest nodes are always online: every
/// move of the clock first lets them do what is due, and stops inside any window they must act in.
///
/// Every honest step is a `try`: a step the protocol refuses is a step honest parties cannot take, and the
/// invariants (honest collateral, termination) judge the result, not the step.
abstract contract HonestSteps is DisputeSteps {
    uint256 internal constant HONEST_NODES = 6;
    /// Every settlement of the verified task is sampled and every request of it checked (the user makes at most
    /// `SAMPLE` requests a stack): a cheater is caught for certain, which invariant (d) relies on.
    uint16 internal constant SAMPLE = 4;
    uint256 internal constant MAX_REQUESTS = 4;
    bytes32 internal constant HONEST = "honest";

    address internal adversary = address(0xBAD0);
    uint256 internal verifiedTask;
    uint256 internal cheaterId;
    uint256[] internal honestIds;
    mapping(uint256 nodeId => bool) internal isHonest;

    /// Ghost: how many requests the honest user made on a stack (0 for stacks it did not buy).
    mapping(uint256 stackId => uint256) public requestsOf;
    /// Ghost: collateral each honest node put in (never withdrawn: honest nodes stay).
    mapping(uint256 nodeId => uint256) public honestDeposit;

    /// The candidates of each consensus request, as its `ConsensusRequested` event names them (whoever drives the
    /// adversary reads its logs and notes them here): what anyone needs to draw the request's seats.
    mapping(uint256 requestId => uint256[]) internal consensusCandidates;
    mapping(uint256 requestId => bool) internal candidatesKnown;
    /// The frozen candidates of each pending stack's node draw (`StackRequested`) and of each settlement's attester
    /// draw (`AttesterCandidatesFrozen`), read from the logs of every handler's calls: what anyone needs to draw.
    mapping(uint256 stackId => StackManager.Candidate[]) internal nodeCandidates;
    mapping(uint256 stackId => bool) internal nodeCandidatesKnown;
    mapping(uint256 stackId => uint256[]) internal attesterCandidates;
    mapping(uint256 stackId => bool) internal attesterCandidatesKnown;

    /// How far the runs get (for the reach test and the deep-run report).
    uint256 public userStacks;
    uint256 public honestSettled;
    uint256 public honestAttested;
    uint256 public honestRevealed;
    uint256 public honestVotes;
    uint256 public keeperMoves;
    uint256 public honestPosts;

    // ---------------------------------------------------------------- the world

    /// Deploys the system (`AtomaFixture`), six honest nodes and a cheater (node 7), all of echelon 1 and
    /// subscribed to one cross-validated task; funds the adversary.
    function deployWorld() internal {
        deployAtoma();
        for (uint256 i = 0; i < HONEST_NODES + 1; ++i) addNode(1);
        cheaterId = nodeIds[HONEST_NODES];
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, SAMPLE);
        for (uint256 i = 0; i < nodeIds.length; ++i) subscribe(verifiedTask, nodeIds[i], PRICE + uint128(i));
        for (uint256 i = 0; i < HONEST_NODES; ++i) {
            uint256 id = nodeIds[i];
            honestIds.push(id);
            isHonest[id] = true;
            honestDeposit[id] = COLLATERAL;
        }
        fund(adversary, 100_000 ether);
        nextEpoch();
    }

    // ---------------------------------------------------------------- what honest answers are

    /// The units of request k of a stack (what its honest output's usage says).
    function requestUnits(uint256 stackId, uint256 k) internal pure returns (uint64) {
        return uint64(100 + uint256(keccak256(abi.encode("units", stackId, k))) % 100);
    }

    /// The leaves of `count` requests of a stack answered with `salt` ("honest" is the honest answer); `inflate`
    /// doubles each leaf's units over what its answer's usage says.
    function transcript(uint256 stackId, uint256 count, bytes32 salt, bool inflate)
        internal
        pure
        returns (Served memory s)
    {
        s.reqHashes = new bytes32[](count);
        s.respHashes = new bytes32[](count);
        s.leaves = new AtomaTypedData.Leaf[](count);
        s.hashes = new bytes32[](count);
        uint64 cumulative;
        for (uint256 k = 0; k < count; ++k) {
            uint64 real = requestUnits(stackId, k);
            uint64 units = inflate ? real * 2 : real;
            cumulative += units;
            s.reqHashes[k] = keccak256(requestBody(stackId, k));
            s.respHashes[k] = keccak256(responseBody(stackId, k, salt, real));
            setLeaf(s, k, units, cumulative);
        }
        s.units = cumulative;
        if (count > 0) s.root = stackRoot(s.hashes);
    }

    /// The outputs at the settlement's sampled indices, answered with `salt`.
    function outputsAt(uint256 stackId, bytes32 salt) internal view returns (bytes[] memory outputs) {
        uint256[] memory idx = settlement.sampledIndices(stackId);
        outputs = new bytes[](idx.length);
        for (uint256 i = 0; i < idx.length; ++i) {
            outputs[i] = responseBody(stackId, idx[i], salt, requestUnits(stackId, idx[i]));
        }
    }

    /// An attester's commitment to `outputs` (H(nodeId, H(respHashes, units), salt) as the settlement manager
    /// checks), with its salt for the stack.
    function attestation(uint256 stackId, uint256 nodeId, bytes[] memory outputs) internal pure returns (bytes32) {
        return attestationCommitment(nodeId, ballot(nodeId, outputs).claim, saltOf(stackId, nodeId));
    }

    /// The user's signed requests at the sampled indices, as the evidence contract takes them (one per position).
    function signedSample(uint256 stackId) internal view returns (SettlementEvidence.SignedRequest[] memory out) {
        IDisputeManager.EvidenceRequest[] memory reqs = evidenceOf(stackId);
        out = new SettlementEvidence.SignedRequest[](reqs.length);
        for (uint256 i = 0; i < reqs.length; ++i) {
            out[i] = SettlementEvidence.SignedRequest({
                body: reqs[i].body,
                nonce: reqs[i].nonce,
                deadline: reqs[i].deadline,
                maxUnits: reqs[i].maxUnits,
                signature: reqs[i].signature
            });
        }
    }

    /// The server posts every sampled request not posted yet.
    function postSample(uint256 stackId, address server) internal {
        SettlementEvidence.SignedRequest[] memory posted = signedSample(stackId);
        for (uint256 i = 0; i < posted.length; ++i) {
            if (evidence.postedRequest(stackId, i) != 0) continue;
            vm.prank(server);
            try evidence.postSampledRequest(stackId, i, posted[i]) {
                ++honestPosts;
            } catch {}
        }
    }

    // ---------------------------------------------------------------- draws (anyone, in a later block)

    bytes32 internal constant STACK_REQUESTED =
        keccak256("StackRequested(uint256,address,uint256,uint64,uint256,uint64,(uint64,uint128)[])");
    bytes32 internal constant CANDIDATES_FROZEN = keccak256("AttesterCandidatesFrozen(uint256,uint256[])");
    bytes32 internal constant CONSENSUS_REQUESTED =
        keccak256("ConsensusRequested(uint256,address,uint256,bytes,uint8,uint64,uint64,uint256[])");

    /// Notes the candidates the logs of a call list (stack purchases, settlements, consensus requests).
    function harvest(Vm.Log[] memory logs) internal {
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            if (l.topics.length < 2) continue;
            uint256 id = uint256(l.topics[1]);
            if (l.emitter == address(stacks) && l.topics[0] == STACK_REQUESTED) {
                (,,, StackManager.Candidate[] memory c) =
                    abi.decode(l.data, (uint64, uint256, uint64, StackManager.Candidate[]));
                delete nodeCandidates[id];
                for (uint256 k = 0; k < c.length; ++k) nodeCandidates[id].push(c[k]);
                nodeCandidatesKnown[id] = true;
            } else if (l.emitter == address(draws) && l.topics[0] == CANDIDATES_FROZEN) {
                attesterCandidates[id] = abi.decode(l.data, (uint256[]));
                attesterCandidatesKnown[id] = true;
            } else if (l.emitter == address(consensus) && l.topics[0] == CONSENSUS_REQUESTED) {
                (,,,, uint256[] memory c) = abi.decode(l.data, (bytes, uint8, uint64, uint64, uint256[]));
                consensusCandidates[id] = c;
                candidatesKnown[id] = true;
            }
        }
    }

    /// Draws every pending stack's node and every pending settlement's attesters, a block after they were armed.
    function drawAll() internal {
        uint256 count = stacks.stackCount();
        bool rolled;
        for (uint256 s = 1; s <= count; ++s) {
            bool node = stacks.getStack(s).status == IStackManager.StackStatus.Pending && nodeCandidatesKnown[s];
            bool attesters =
                settlement.getSettlement(s).phase == ISettlementManager.Phase.Drawing && attesterCandidatesKnown[s];
            if (!node && !attesters) continue;
            if (!rolled) {
                vm.roll(block.number + 1);
                rolled = true;
            }
            if (node) {
                // A walked purchase's list is `drawNode`'s; a listed one's (`buyStackAmong`) `drawListed`'s.
                try stacks.drawNode(s, nodeCandidates[s]) {
                    ++keeperMoves;
                } catch {
                    try stacks.drawListed(s, nodeCandidates[s], new uint256[](0)) {
                        ++keeperMoves;
                    } catch {}
                }
            } else {
                try draws.drawAttesters(s, attesterCandidates[s]) {
                    ++keeperMoves;
                } catch {}
            }
        }
    }

    /// Whether the user signed every sampled request of the stack (it signed nonces 0..requestsOf-1 only).
    function userSignedSample(uint256 stackId) internal view returns (bool) {
        uint256 made = requestsOf[stackId];
        uint256[] memory idx = settlement.sampledIndices(stackId);
        for (uint256 i = 0; i < idx.length; ++i) {
            if (idx[i] >= made) return false;
        }
        return made > 0;
    }

    /// The evidence of an attestation dispute from position `from` on (the user's signed sampled requests).
    function evidenceFrom(uint256 stackId, uint256 from)
        internal
        view
        returns (IDisputeManager.EvidenceRequest[] memory out)
    {
        IDisputeManager.EvidenceRequest[] memory all = evidenceOf(stackId);
        out = new IDisputeManager.EvidenceRequest[](all.length - from);
        for (uint256 i = from; i < all.length; ++i) out[i - from] = all[i];
    }

    // ---------------------------------------------------------------- the honest user

    /// The user buys a stack on the verified task and makes 1–4 requests on it (their transcript is the ghost
    /// `requestsOf`) once its node is drawn: the purchase freezes the candidates and the draw is anyone's call in
    /// a later block (`drawAll`, at the next honest step). Returns 0 when the purchase is refused.
    /// THE PURCHASE FLOW: adapt here.
    function userBuy(uint256 seed, uint64 units) internal returns (uint256 stackId) {
        units = uint64(bound(units, 2_000, 100_000));
        if (seed % 2 == 0) return userBuyListed(seed, units);
        vm.prank(user);
        try stacks.buyStack(verifiedTask, units, type(uint128).max, 1 days) returns (
            uint256 id, StackManager.Candidate[] memory candidates
        ) {
            stackId = id;
            for (uint256 k = 0; k < candidates.length; ++k) nodeCandidates[id].push(candidates[k]);
            nodeCandidatesKnown[id] = true;
            requestsOf[id] = 1 + seed % MAX_REQUESTS;
            ++userStacks;
        } catch {}
    }

    /// The same purchase listed: the user names `candidatesFor`'s nodes in node order (`buyStackAmong`), and the
    /// draw checks only the node it draws (`drawListed`, counting its checkers).
    function userBuyListed(uint256 seed, uint64 units) internal returns (uint256 stackId) {
        StackManager.Candidate[] memory candidates;
        try stacks.candidatesFor(verifiedTask, units, type(uint128).max) returns (StackManager.Candidate[] memory c) {
            candidates = c;
        } catch {
            return 0;
        }
        for (uint256 i = 1; i < candidates.length; ++i) {
            for (uint256 j = i; j > 0 && candidates[j - 1].nodeId > candidates[j].nodeId; --j) {
                (candidates[j - 1], candidates[j]) = (candidates[j], candidates[j - 1]);
            }
        }
        vm.prank(user);
        try stacks.buyStackAmong(verifiedTask, units, type(uint128).max, 1 days, candidates) returns (uint256 id) {
            stackId = id;
            for (uint256 k = 0; k < candidates.length; ++k) nodeCandidates[id].push(candidates[k]);
            nodeCandidatesKnown[id] = true;
            requestsOf[id] = 1 + seed % MAX_REQUESTS;
            ++userStacks;
        } catch {}
    }

    /// The user asks the server to settle now.
    function userClose(uint256 i) internal {
        uint256 count = stacks.stackCount();
        if (count == 0) return;
        uint256 stackId = 1 + i % count;
        if (requestsOf[stackId] == 0) return;
        vm.prank(user);
        try stacks.closeStack(stackId) {} catch {}
    }

    function userWithdraw() internal {
        try vault.withdraw(user) {} catch {}
    }

    // ---------------------------------------------------------------- honest nodes

    function _signer(uint256 nodeId) internal view returns (address) {
        return vm.addr(signerKey[nodeId]);
    }

    /// An honest server's work on one stack: settle it (its real leaves, or nothing when it served nothing), post
    /// the requests an attester could not fetch, reveal the sampled leaves.
    function serveStack(uint256 stackId) internal {
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        if (!isHonest[stack.nodeId]) return;
        uint256 made = requestsOf[stackId];
        Served memory h = transcript(stackId, made, HONEST, false);
        address signer = _signer(stack.nodeId);
        if (stack.status == IStackManager.StackStatus.Active) {
            vm.prank(signer);
            try settlement.settle(stackId, h.root, h.units, uint64(made), bytes32(stackId)) {
                ++honestSettled;
                // The settlement froze these attester candidates in this block (`AttesterCandidatesFrozen`).
                attesterCandidates[stackId] = draws.candidatesFor(stack.taskId, stack.nodeId);
                attesterCandidatesKnown[stackId] = true;
            } catch {}
        }
        ISettlementManager.Settlement memory st = settlement.getSettlement(stackId);
        // Arguments are built before the prank: it applies to the next call, views included.
        if (st.phase == ISettlementManager.Phase.Commit && st.dataRequested && !st.dataPosted && made > 0) {
            postSample(stackId, signer);
        }
        if (st.phase == ISettlementManager.Phase.Reveal) {
            bytes memory revealed = revealOf(settlement.sampledIndices(stackId), h);
            vm.prank(signer);
            try settlement.reveal(stackId, revealed) {
                ++honestRevealed;
            } catch {}
        }
    }

    /// Honest attesters of a stack in its commit phase: they recompute the sampled requests when the transcript
    /// holds them (all signed by the owner: the user's requests), else declare it unavailable and wait for the
    /// server to post them. After the server's reveal they open what they committed to.
    function attestStack(uint256 stackId) internal {
        ISettlementManager.Settlement memory st = settlement.getSettlement(stackId);
        if (st.phase == ISettlementManager.Phase.Opening) return openStack(stackId);
        if (st.phase != ISettlementManager.Phase.Commit) return;
        bool known = st.dataPosted || (requestsOf[stackId] > 0 && st.requestCount <= requestsOf[stackId]);
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        for (uint256 k = 0; k < list.length; ++k) {
            uint256 id = list[k].nodeId;
            if (!isHonest[id] || list[k].removed || list[k].committed) continue;
            if (known) {
                bytes32 c = attestation(stackId, id, outputsAt(stackId, HONEST));
                vm.prank(_signer(id));
                try settlement.commitAttestation(stackId, id, c) {
                    ++honestAttested;
                } catch {}
            } else if (!list[k].declared) {
                vm.prank(_signer(id));
                try settlement.declareTranscriptUnavailable(stackId, id) {
                    ++honestPosts;
                } catch {}
            }
        }
    }

    /// Honest attesters that committed open their commitment: the honest result and their salt.
    function openStack(uint256 stackId) internal {
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        for (uint256 k = 0; k < list.length; ++k) {
            uint256 id = list[k].nodeId;
            if (!isHonest[id] || list[k].removed || !list[k].committed || list[k].opened) continue;
            bytes32 result = ballot(id, outputsAt(stackId, HONEST)).claim;
            vm.prank(_signer(id));
            try settlement.openAttestation(stackId, id, result, saltOf(stackId, id)) {
                ++honestAttested;
            } catch {}
        }
    }

    /// The ballot an honest member casts: the honest outputs of the sampled requests (their requests are on-chain
    /// as evidence); it abstains on anything else.
    function honestBallot(DisputeManager.Dispute memory d, uint256 member) internal view returns (Ballot memory) {
        if (d.kind == DisputeManager.Kind.Attestation) return ballot(member, outputsAt(d.originId, HONEST));
        return unavailableBallot(member);
    }

    /// An honest server's evidence, anyone's draw, and honest members' votes in one open dispute.
    function disputeDuties(uint256 disputeId) internal {
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        if (d.status != DisputeManager.Status.Open) return;
        if (
            d.kind == DisputeManager.Kind.Attestation && isHonest[d.serverNodeId] && d.evidenceCount < d.sampleCount
                && block.timestamp <= d.evidenceDeadline
        ) {
            Served memory h = transcript(d.originId, requestsOf[d.originId], HONEST, false);
            IDisputeManager.EvidenceRequest[] memory reqs = evidenceFrom(d.originId, d.evidenceCount);
            bytes32[] memory revealed = revealedReqHashes(d.originId, h);
            vm.prank(_signer(d.serverNodeId));
            try disputes.postEvidence(disputeId, d.evidenceCount, reqs, revealed) {
                ++honestPosts;
            } catch {}
        }
        if (!d.drawn) {
            try disputes.drawCommittee(disputeId) {
                ++keeperMoves;
            } catch {}
            vm.roll(block.number + 1);
            try disputes.drawCommittee(disputeId) {
                ++keeperMoves;
            } catch {}
            d = disputes.getDispute(disputeId);
        }
        if (d.status != DisputeManager.Status.Open || d.commitDeadline == 0) return;
        DisputeManager.Member[] memory members = disputes.committeeOf(disputeId);
        Ballot[] memory ballots = new Ballot[](members.length);
        for (uint256 k = 0; k < members.length; ++k) {
            if (!isHonest[members[k].nodeId]) continue;
            ballots[k] = honestBallot(d, members[k].nodeId);
            if (!members[k].committed) {
                bytes32 c = disputes.voteCommitment(
                    disputeId, members[k].nodeId, ballots[k].claim, ballots[k].work, ballots[k].salt
                );
                vm.prank(_signer(members[k].nodeId));
                try disputes.commitVote(disputeId, members[k].nodeId, c) {
                    ++honestVotes;
                } catch {}
            }
        }
        for (uint256 k = 0; k < members.length; ++k) {
            if (!isHonest[members[k].nodeId] || members[k].revealed) continue;
            vm.prank(_signer(members[k].nodeId));
            try disputes.revealVote(
                disputeId, members[k].nodeId, ballots[k].claim, ballots[k].work, ballots[k].salt
            ) {
                ++honestPosts;
            } catch {}
        }
        for (uint256 k = 0; k < members.length; ++k) {
            if (!isHonest[members[k].nodeId] || members[k].substantiated || ballots[k].outputs.length == 0) continue;
            vm.prank(_signer(members[k].nodeId));
            try disputes.substantiate(disputeId, members[k].nodeId, shownOf(ballots[k])) {
                ++honestPosts;
            } catch {}
        }
    }

    /// Honest nodes claim the fees of ended epochs (the vault pays out).
    function honestClaim(uint256 n) internal {
        uint256 nodeId = honestIds[n % honestIds.length];
        uint256 current = nodes.currentEpoch();
        uint256[] memory epochs = new uint256[](current);
        uint256 found;
        for (uint256 e = 0; e < current; ++e) {
            (uint128 claimable,) = vault.nodeLedger(nodeId, e);
            if (claimable > 0) epochs[found++] = e;
        }
        if (found == 0) return;
        assembly ("memory-safe") {
            mstore(epochs, found)
        }
        vm.prank(operatorOf[nodeId]);
        try vault.claimNodeFees(nodeId, epochs) {} catch {}
    }

    // ---------------------------------------------------------------- keepers (anyone, past a deadline)

    function keeper() internal {
        drawAll();
        uint256 count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) _keepStack(s);
        count = disputes.disputeCount();
        for (uint256 d = 1; d <= count; ++d) {
            if (disputes.getDispute(d).status != DisputeManager.Status.Open) continue;
            try disputes.resolve(d) {
                ++keeperMoves;
            } catch {}
        }
        count = challenges.challengeCount();
        for (uint256 c = 1; c <= count; ++c) {
            if (challenges.getChallenge(c).status != ChallengeManager.Status.Open) continue;
            try challenges.resolve(c) {
                ++keeperMoves;
            } catch {}
        }
        count = consensus.requestCount();
        for (uint256 r = 1; r <= count; ++r) {
            ConsensusRequests.Status status = consensus.getRequest(r).status;
            if (status == ConsensusRequests.Status.Drawing && candidatesKnown[r]) {
                vm.roll(block.number + 1);
                try consensus.drawSeats(r, consensusCandidates[r]) {
                    ++keeperMoves;
                } catch {}
            } else if (status == ConsensusRequests.Status.Committing) {
                try consensus.closeRound(r) {
                    ++keeperMoves;
                } catch {}
            } else if (status == ConsensusRequests.Status.Delivering) {
                try consensus.timeoutDelivery(r) {
                    ++keeperMoves;
                } catch {}
            }
        }
    }

    function _keepStack(uint256 stackId) internal {
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        if (stack.status == IStackManager.StackStatus.Active) {
            if (block.timestamp > stacks.settleDeadline(stackId)) {
                try settlement.timeoutSettlement(stackId) {
                    ++keeperMoves;
                } catch {}
            }
            return;
        }
        ISettlementManager.Settlement memory st = settlement.getSettlement(stackId);
        bool due = (st.phase == ISettlementManager.Phase.Commit || st.phase == ISettlementManager.Phase.Reveal
                || st.phase == ISettlementManager.Phase.Opening) && block.timestamp > st.deadline;
        if (st.phase == ISettlementManager.Phase.Commit && st.dataRequested && !st.dataPosted) {
            due = block.timestamp > st.dataDeadline;
            if (due) {
                try settlement.failVerification(stackId) {
                    ++keeperMoves;
                } catch {}
            }
            return;
        }
        if (due && st.phase != ISettlementManager.Phase.Reveal) {
            try settlement.timeoutAttesters(stackId) {
                ++keeperMoves;
            } catch {}
        } else if (due) {
            try settlement.failVerification(stackId) {
                ++keeperMoves;
            } catch {}
        } else if (st.phase == ISettlementManager.Phase.Accepted && block.timestamp > st.windowEnds) {
            try settlement.finalize(stackId) {
                ++keeperMoves;
            } catch {}
        }
    }

    // ---------------------------------------------------------------- the clock

    /// Everything honest parties and keepers do at the current time, until nothing more can be done (a keeper's
    /// move can open a step for an honest node, an attester's commitment the server's reveal, and so on).
    function duties() internal {
        for (uint256 round = 0; round < 8; ++round) {
            if (!this.dutyRound()) return;
        }
    }

    /// One round of `duties`, in a call of its own so that its memory is freed; whether anything was done.
    function dutyRound() external returns (bool progressed) {
        require(msg.sender == address(this), "self only");
        uint256 before = _progress();
        keeper();
        uint256 count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) {
            attestStack(s);
            serveStack(s);
        }
        count = disputes.disputeCount();
        for (uint256 d = 1; d <= count; ++d) disputeDuties(d);
        return _progress() != before;
    }

    function _progress() internal view returns (uint256) {
        return honestSettled + honestAttested + honestRevealed + honestVotes + honestPosts + keeperMoves;
    }

    /// The first time after now at which an honest node may act only from then on and must act before a later
    /// deadline: an honest member that committed can reveal once the commit window closes. 0 when none.
    function honestWindow() internal view returns (uint256 first) {
        uint256 count = disputes.disputeCount();
        for (uint256 id = 1; id <= count; ++id) {
            DisputeManager.Dispute memory d = disputes.getDispute(id);
            if (d.status != DisputeManager.Status.Open || d.commitDeadline == 0) continue;
            if (block.timestamp > d.commitDeadline) continue;
            DisputeManager.Member[] memory members = disputes.committeeOf(id);
            for (uint256 k = 0; k < members.length; ++k) {
                if (isHonest[members[k].nodeId] && members[k].committed && !members[k].revealed) {
                    uint256 t = uint256(d.commitDeadline) + 1;
                    if (first == 0 || t < first) first = t;
                }
            }
        }
    }

    /// Moves the clock `by` seconds (and a block each step), letting honest parties act before and after, and
    /// stopping inside every window an honest node must act in.
    function honestWarp(uint256 by) internal {
        uint256 target = block.timestamp + by;
        duties();
        for (uint256 step = 0; step < 16 && block.timestamp < target; ++step) {
            uint256 window = honestWindow();
            uint256 to = window != 0 && window < target ? window : target;
            vm.warp(to);
            vm.roll(block.number + 1);
            duties();
        }
    }

    /// The next deadline after now at which something open can move on (now + 1 hour when there is none).
    function nextEvent() internal view returns (uint256 next) {
        next = type(uint256).max;
        uint256 count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) {
            if (stacks.getStack(s).status == IStackManager.StackStatus.Active) {
                next = _sooner(next, stacks.settleDeadline(s));
            }
            ISettlementManager.Settlement memory st = settlement.getSettlement(s);
            if (
                st.phase == ISettlementManager.Phase.Commit || st.phase == ISettlementManager.Phase.Reveal
                    || st.phase == ISettlementManager.Phase.Opening
            ) {
                next = _sooner(next, st.deadline);
                if (st.dataRequested) next = _sooner(next, st.dataDeadline);
            } else if (st.phase == ISettlementManager.Phase.Accepted) {
                next = _sooner(next, st.windowEnds);
            }
        }
        count = disputes.disputeCount();
        for (uint256 id = 1; id <= count; ++id) {
            DisputeManager.Dispute memory d = disputes.getDispute(id);
            if (d.status != DisputeManager.Status.Open) continue;
            next = _sooner(next, d.evidenceDeadline);
            if (d.drawNotBefore > 0) next = _sooner(next, uint256(d.drawNotBefore) - 1);
            if (d.commitDeadline > 0) {
                next = _sooner(next, d.commitDeadline);
                next = _sooner(next, d.revealDeadline);
            }
        }
        count = challenges.challengeCount();
        for (uint256 c = 1; c <= count; ++c) {
            ChallengeManager.Challenge memory ch = challenges.getChallenge(c);
            if (ch.status == ChallengeManager.Status.Open) next = _sooner(next, ch.answerDeadline);
        }
        count = consensus.requestCount();
        for (uint256 r = 1; r <= count; ++r) {
            ConsensusRequests.Request memory q = consensus.getRequest(r);
            if (q.status == ConsensusRequests.Status.Committing) {
                next = _sooner(next, q.sealDeadline);
                next = _sooner(next, q.revealDeadline);
            } else if (q.status == ConsensusRequests.Status.Delivering) {
                next = _sooner(next, q.deliveryDeadline);
            }
        }
        if (next == type(uint256).max) next = block.timestamp + 1 hours;
    }

    /// `deadline + 1` when it is still ahead (a deadline function may run once it has passed).
    function _sooner(uint256 next, uint256 deadline) private view returns (uint256) {
        uint256 t = deadline + 1;
        return t > block.timestamp && t < next ? t : next;
    }

    /// Time passes with nobody but honest parties and keepers acting, from deadline to deadline, until nothing is
    /// open (or `rounds` moves). Returns whether everything ended.
    function drain(uint256 rounds) internal returns (bool) {
        for (uint256 i = 0; i < rounds; ++i) {
            if (this.drainRound()) return true;
        }
        duties();
        return allEnded();
    }

    /// One step of `drain` (a call of its own, so that its memory is freed): whether everything has ended.
    function drainRound() external returns (bool) {
        require(msg.sender == address(this), "self only");
        duties();
        if (allEnded()) return true;
        uint256 to = nextEvent();
        uint256 window = honestWindow();
        if (window != 0 && window < to) to = window;
        vm.warp(to);
        vm.roll(block.number + 1);
        return false;
    }

    /// Every stack closed and its settlement final, every dispute resolved, every challenge and consensus request
    /// ended, nothing left in escrow, and no node held by an obligation.
    function allEnded() internal view returns (bool) {
        uint256 count = stacks.stackCount();
        for (uint256 s = 1; s <= count; ++s) {
            if (stacks.getStack(s).status != IStackManager.StackStatus.Closed) return false;
            ISettlementManager.Phase phase = settlement.getSettlement(s).phase;
            if (
                phase != ISettlementManager.Phase.Finalized && phase != ISettlementManager.Phase.Failed
                    && phase != ISettlementManager.Phase.TimedOut
            ) return false;
        }
        count = disputes.disputeCount();
        for (uint256 d = 1; d <= count; ++d) {
            if (disputes.getDispute(d).status != DisputeManager.Status.Resolved) return false;
        }
        count = challenges.challengeCount();
        for (uint256 c = 1; c <= count; ++c) {
            if (challenges.getChallenge(c).status == ChallengeManager.Status.Open) return false;
        }
        count = consensus.requestCount();
        for (uint256 r = 1; r <= count; ++r) {
            ConsensusRequests.Status status = consensus.getRequest(r).status;
            if (status != ConsensusRequests.Status.Delivered && status != ConsensusRequests.Status.Failed) {
                return false;
            }
        }
        if (vault.totalEscrowed() != 0) return false;
        count = nodes.nodeCount();
        for (uint256 id = 1; id <= count; ++id) {
            if (nodes.getNode(id).obligations != 0) return false;
        }
        return true;
    }
}
