// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DeferredRandom} from "../src/common/DeferredRandom.sol";
import {AtomaAccess} from "../src/common/AtomaAccess.sol";
import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementDraw} from "../src/interfaces/ISettlementDraw.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {SettlementDraw} from "../src/settlement/SettlementDraw.sol";
import {SettlementEvidence} from "../src/settlement/SettlementEvidence.sol";
import {EcVrf} from "../src/vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../src/vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../src/vrf/VrfSortition.sol";
import {SettlementSteps} from "./lib/SettlementSteps.sol";
import {Vm} from "./lib/Vm.sol";

/// @notice What a cheater could offer a selected node to stay silent: paid on proof that the node was selected and did
/// not sit (docs/vrf.md, H2). Its claim publishes the very proof that slashes the claimant.
contract SilenceBounty {
    VrfKeyRegistry public immutable keys;
    SettlementDraw public immutable draws;
    mapping(uint256 nodeId => bool) public paid;

    event BountyClaimed(uint256 stackId, uint256 nodeId, bytes proof, EcVrf.Hints hints);

    constructor(VrfKeyRegistry keys_, SettlementDraw draws_) {
        keys = keys_;
        draws = draws_;
    }

    function claim(uint256 stackId, uint256 nodeId, bytes calldata proof, EcVrf.Hints calldata hints) external {
        ISettlementDraw.Selection memory sel = draws.selectionOf(stackId);
        require(block.timestamp > sel.endsAt, "window open");
        for (uint256 i = 0; i < sel.nodeIds.length; ++i) {
            require(sel.nodeIds[i] != nodeId, "it sat");
        }
        keys.proveSelection(nodeId, sel.seed, proof, hints, sel.numerator, sel.denominator);
        paid[nodeId] = true;
        emit BountyClaimed(stackId, nodeId, proof, hints);
    }
}

/// @notice Private self-selection of attesters by VRF (issue 16), against nodes that commit without being selected,
/// proofs for another seed or key, reused proofs, double commits, a server selecting itself, and griefers; with the
/// proofs of packages/core/vectors/vrfSelection.json (made by the TypeScript prover on the same seeds).
contract VrfSelectionTest is SettlementSteps {
    /// Each armed block's hash is set to this, so the seeds are the vectors' (`setBlockhash`).
    bytes32 internal blockHash;
    string internal json;
    VrfKeyRegistry internal vrfKeys;
    uint256 internal task;
    /// p = 1/2, N = 2: each of 6 candidates selects itself with 1/6; nobody does with (5/6)^6 ≈ 33 %.
    uint256 internal ordinaryTask;
    uint64 internal constant WINDOW = 60;

    event SelfSelectionGas(uint256 gas);

    struct Proof {
        bytes proof;
        bytes32 beta;
        EcVrf.Hints hints;
    }

    function setUp() public {
        deployAtoma();
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrfSelection.json"));
        blockHash = vm.parseJsonBytes32(json, ".blockHash");
        for (uint256 i = 0; i < 7; ++i) addNode(1);
        // p = 1, N = 2: with n = 6 candidates each selects itself with 1/3.
        task = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        ordinaryTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 500_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(task, nodeIds[i], PRICE);
            subscribe(ordinaryTask, nodeIds[i], PRICE);
        }
        vrfKeys = deployVectorVrfKeys();
        for (uint256 i = 0; i < nodeIds.length; ++i) _registerKey(nodeIds[i]);
        vm.prank(admin);
        draws.setPrivateSelection(vrfKeys, WINDOW, 4);
        nextEpoch();
    }

    // ---------------------------------------------------------------- helpers

    function _pair(string memory key) internal view returns (uint256[2] memory point) {
        uint256[] memory values = vm.parseJsonUintArray(json, key);
        point = [values[0], values[1]];
    }

    function _read(string memory key) internal view returns (Proof memory p) {
        p.proof = vm.parseJsonBytes(json, string.concat(key, ".proof"));
        p.beta = vm.parseJsonBytes32(json, string.concat(key, ".beta"));
        p.hints = EcVrf.Hints({
            u: _pair(string.concat(key, ".u")),
            sH: _pair(string.concat(key, ".sH")),
            cGamma: _pair(string.concat(key, ".cGamma"))
        });
    }

    function _registerKey(uint256 nodeId) internal {
        string memory key = string.concat(".nodes[", vm.toString(nodeId - 1), "]");
        Proof memory p = _read(string.concat(key, ".possession"));
        vm.prank(operatorOf[nodeId]);
        vrfKeys.registerVrfKey(nodeId, vm.parseJsonBytes(json, string.concat(key, ".publicKey")), p.proof, p.hints);
    }

    /// Node `nodeId`'s proof on the selection seed of `stackId` (as the vectors' armed block gives it).
    function _proof(uint256 stackId, uint256 nodeId) internal view returns (Proof memory) {
        return _read(string.concat(".stacks[", vm.toString(stackId - 1), "].proofs[", vm.toString(nodeId - 1), "]"));
    }

    function _selected(uint256 stackId, uint256 nodeId) internal view returns (bool) {
        SettlementDraw.Selection memory sel = draws.selectionOf(stackId);
        return VrfSortition.isSelected(_proof(stackId, nodeId).beta, sel.numerator, sel.denominator);
    }

    /// Buys and serves a stack, settles it, and opens its selection window on the vectors' block hash.
    function _settled(bytes32 salt) internal returns (uint256 stackId, uint256 server, Served memory s) {
        return _settledOn(task, salt);
    }

    function _settledOn(uint256 taskId, bytes32 salt)
        internal
        returns (uint256 stackId, uint256 server, Served memory s)
    {
        (stackId, server) = buy(taskId, 1_000_000);
        s = serve(stackId, 4, salt, 1_000_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, s.root, 1_000_000, 4, keccak256("transcript"));
        frozenCandidates[stackId] = draws.candidatesFor(taskId, server);
        _openOnVectorsBlock(stackId);
    }

    /// Opens the window of `stackId` with the vectors' hash as that of its seed block (the one after the armed one).
    function _openOnVectorsBlock(uint256 stackId) internal {
        uint256 seedBlock = draws.armedOf(stackId).armedAt + draws.SEED_DELAY();
        vm.roll(seedBlock);
        vm.setBlockhash(seedBlock, blockHash);
        vm.roll(seedBlock + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(draws.selectionOf(stackId).seed, vm.parseJsonBytes32(json, _stackKey(stackId, ".seed")), "seed");
    }

    function _stackKey(uint256 stackId, string memory field) internal pure returns (string memory) {
        return string.concat(".stacks[", vm.toString(stackId - 1), "]", field);
    }

    /// The request indices a selected attester checks, from the window's seed (before the settlement manager has it).
    function _indices(uint256 stackId) internal view returns (uint256[] memory) {
        return draws.sampleIndices(uint128(uint256(draws.selectionOf(stackId).seed)), 4, 2);
    }

    function _selfSelect(uint256 stackId, uint256 nodeId, Proof memory p, bytes32 commitment) internal {
        vm.prank(vm.addr(signerKey[nodeId]));
        draws.selfSelect(stackId, nodeId, frozenCandidates[stackId], p.proof, p.hints, commitment);
    }

    /// Every selected candidate commits to `honest` at the sampled indices; returns who did.
    function _commitSelected(uint256 stackId, Served memory honest) internal returns (uint256[] memory chosen) {
        uint256[] memory candidates = frozenCandidates[stackId];
        chosen = new uint256[](candidates.length);
        uint256 n;
        bytes32 result = resultOf(_indices(stackId), honest);
        for (uint256 i = 0; i < candidates.length; ++i) {
            uint256 node = candidates[i];
            if (!_selected(stackId, node)) continue;
            committedResult[stackId][node] = result;
            _selfSelect(stackId, node, _proof(stackId, node), attestationCommitment(node, result, saltOf(stackId, node)));
            chosen[n++] = node;
        }
        assembly ("memory-safe") {
            mstore(chosen, n)
        }
    }

    function _closeWindow(uint256 stackId) internal {
        vm.warp(block.timestamp + WINDOW + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
    }

    /// A settlement whose window has at least N = 2 selected candidates (and one that is not), by the vectors.
    function _settledWithSelection(bytes32 salt) internal returns (uint256 stackId, uint256 server, Served memory s) {
        for (uint256 tries = 0; tries < 12; ++tries) {
            (stackId, server, s) = _settled(salt);
            uint256 selected;
            for (uint256 i = 0; i < frozenCandidates[stackId].length; ++i) {
                if (_selected(stackId, frozenCandidates[stackId][i])) ++selected;
            }
            if (selected >= 2 && selected < frozenCandidates[stackId].length) return (stackId, server, s);
        }
        fail("no stack of the vectors has a selected and an unselected candidate");
    }

    function _unselected(uint256 stackId) internal view returns (uint256) {
        uint256[] memory c = frozenCandidates[stackId];
        for (uint256 i = 0; i < c.length; ++i) {
            if (!_selected(stackId, c[i])) return c[i];
        }
        revert("none unselected");
    }

    function _firstSelected(uint256 stackId) internal view returns (uint256) {
        uint256[] memory c = frozenCandidates[stackId];
        for (uint256 i = 0; i < c.length; ++i) {
            if (_selected(stackId, c[i])) return c[i];
        }
        revert("none selected");
    }

    // ---------------------------------------------------------------- the honest path

    function test_selectedAttestersCommitWithTheirProofAndTheServerRevealsAtOnce() public {
        (uint256 stackId, uint256 server, Served memory s) = _settledWithSelection("honest");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Drawing, "the window is open");
        uint256[] memory chosen = _commitSelected(stackId, s);
        _closeWindow(stackId);
        assertEq(attestersOf(stackId).length, chosen.length, "the self-selected are the attesters");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Reveal, "all committed: the server reveals");
        assertEq(keccak256(abi.encode(settlement.sampledIndices(stackId))), keccak256(abi.encode(_indices(stackId))), "indices");
        revealAs(stackId, server, s);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "accepted");
    }

    /// H1/M1: a full cap neither closes the window nor keeps out a lower output that comes later: the cap seats
    /// the lowest outputs, whoever came first (fast sybils cannot fill it and lock honest nodes out).
    function test_aFullCapNeitherClosesTheWindowNorKeepsOutALowerOutput() public {
        vm.prank(admin);
        draws.setPrivateSelection(vrfKeys, WINDOW, 2);
        for (uint256 tries = 0; tries < 12; ++tries) {
            (uint256 stackId,,) = _settled("honest");
            uint256[] memory sel = _selectedByOutput(stackId);
            if (sel.length < 3) continue;
            // The two highest outputs (the fast ones) fill the cap first.
            _selfSelect(stackId, sel[sel.length - 1], _proof(stackId, sel[sel.length - 1]), keccak256("fast 1"));
            _selfSelect(stackId, sel[sel.length - 2], _proof(stackId, sel[sel.length - 2]), keccak256("fast 2"));
            vm.expectRevert(
                abi.encodeWithSelector(
                    SettlementDraw.SelectionWindowOpen.selector, stackId, draws.selectionOf(stackId).endsAt
                )
            );
            draws.drawAttesters(stackId, frozenCandidates[stackId]);
            // The lowest comes last, at the window's end, and sits; the highest is unseated (and not silent).
            vm.warp(draws.selectionOf(stackId).endsAt);
            _selfSelect(stackId, sel[0], _proof(stackId, sel[0]), keccak256("late honest"));
            assertTrue(draws.answered(stackId, sel[sel.length - 1]), "the unseated proved its selection");
            _closeWindow(stackId);
            uint256[] memory att = attestersOf(stackId);
            assertEq(att.length, 2, "the cap");
            assertTrue(att[0] == sel[0] || att[1] == sel[0], "the lowest output sits");
            assertTrue(att[0] != sel[sel.length - 1] && att[1] != sel[sel.length - 1], "the highest does not");
            return;
        }
        fail("the vectors hold no stack with three selected");
    }

    /// The selected candidates of `stackId`, lowest VRF output first.
    function _selectedByOutput(uint256 stackId) internal view returns (uint256[] memory sel) {
        uint256[] memory c = frozenCandidates[stackId];
        sel = new uint256[](c.length);
        uint256 n;
        for (uint256 i = 0; i < c.length; ++i) {
            if (_selected(stackId, c[i])) sel[n++] = c[i];
        }
        assembly ("memory-safe") {
            mstore(sel, n)
        }
        for (uint256 i = 1; i < n; ++i) {
            for (uint256 j = i; j > 0 && _proof(stackId, sel[j]).beta < _proof(stackId, sel[j - 1]).beta; --j) {
                (sel[j], sel[j - 1]) = (sel[j - 1], sel[j]);
            }
        }
    }

    // ---------------------------------------------------------------- attackers

    function test_aNodeThatWasNotSelectedCannotCommit() public {
        (uint256 stackId,,) = _settledWithSelection("honest");
        uint256 node = _unselected(stackId);
        Proof memory p = _proof(stackId, node);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NotSelected.selector, node, p.beta));
        draws.selfSelect(stackId, node, frozenCandidates[stackId], p.proof, p.hints, keccak256("c"));
    }

    function test_aProofForAnotherSettlementIsRefused() public {
        (uint256 first,,) = _settledWithSelection("honest");
        uint256 node = _firstSelected(first);
        (uint256 second,,) = _settled("honest");
        Proof memory reused = _proof(first, node);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert();
        draws.selfSelect(second, node, frozenCandidates[second], reused.proof, reused.hints, keccak256("c"));
        assertEq(draws.selectionOf(second).nodeIds.length, 0, "nobody selected");
    }

    function test_anotherNodesProofIsRefused() public {
        (uint256 stackId,,) = _settledWithSelection("honest");
        uint256 selected = _firstSelected(stackId);
        uint256 thief = _unselected(stackId);
        Proof memory stolen = _proof(stackId, selected);
        // As itself, with the selected node's proof: it does not verify under the thief's key.
        vm.prank(vm.addr(signerKey[thief]));
        vm.expectRevert();
        draws.selfSelect(stackId, thief, frozenCandidates[stackId], stolen.proof, stolen.hints, keccak256("c"));
        // As the selected node: only that node's actors may.
        vm.prank(vm.addr(signerKey[thief]));
        vm.expectRevert(
            abi.encodeWithSelector(SettlementDraw.NotNodeActor.selector, selected, vm.addr(signerKey[thief]))
        );
        draws.selfSelect(stackId, selected, frozenCandidates[stackId], stolen.proof, stolen.hints, keccak256("c"));
    }

    function test_aTamperedProofIsRefused() public {
        (uint256 stackId,,) = _settledWithSelection("honest");
        uint256 node = _firstSelected(stackId);
        Proof memory p = _proof(stackId, node);
        p.proof[60] = bytes1(uint8(p.proof[60]) ^ 1);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert();
        draws.selfSelect(stackId, node, frozenCandidates[stackId], p.proof, p.hints, keccak256("c"));
    }

    function test_committingTwiceIsRefused() public {
        (uint256 stackId,,) = _settledWithSelection("honest");
        uint256 node = _firstSelected(stackId);
        Proof memory p = _proof(stackId, node);
        _selfSelect(stackId, node, p, keccak256("first"));
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.AlreadySelected.selector, stackId, node));
        draws.selfSelect(stackId, node, frozenCandidates[stackId], p.proof, p.hints, keccak256("second"));
    }

    function test_theServerCannotSelectItselfForItsOwnSettlement() public {
        // The server's own VRF proof on its settlement's seed, whatever its output: it is not a candidate.
        for (uint256 tries = 0; tries < 12; ++tries) {
            (uint256 stackId, uint256 server,) = _settled("honest");
            Proof memory p = _proof(stackId, server);
            vm.prank(vm.addr(signerKey[server]));
            vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotCandidate.selector, stackId, server));
            draws.selfSelect(stackId, server, frozenCandidates[stackId], p.proof, p.hints, keccak256("c"));
            // Nor with a candidate list that names it.
            uint256[] memory forged = new uint256[](1);
            forged[0] = server;
            vm.prank(vm.addr(signerKey[server]));
            vm.expectRevert(abi.encodeWithSelector(SettlementDraw.WrongCandidates.selector, stackId));
            draws.selfSelect(stackId, server, forged, p.proof, p.hints, keccak256("c"));
            if (_selected(stackId, server)) return;
        }
    }

    function test_aGrieferSpammingCommitsLandsNothingAndBlocksNobody() public {
        (uint256 stackId,, Served memory s) = _settledWithSelection("honest");
        uint256[] memory c = frozenCandidates[stackId];
        // Every unselected candidate tries every proof it can get: its own, others', garbage, and commits after the
        // window.
        for (uint256 i = 0; i < c.length; ++i) {
            if (_selected(stackId, c[i])) continue;
            for (uint256 j = 0; j < c.length; ++j) {
                Proof memory p = _proof(stackId, c[j]);
                vm.prank(vm.addr(signerKey[c[i]]));
                try draws.selfSelect(stackId, c[i], c, p.proof, p.hints, keccak256("spam")) {
                    fail("a spam commit landed");
                } catch {}
            }
        }
        assertEq(draws.selectionOf(stackId).nodeIds.length, 0, "no spam landed");
        uint256[] memory chosen = _commitSelected(stackId, s);
        assertGe(chosen.length, 1, "the selected still commit");
        vm.warp(block.timestamp + WINDOW + 1);
        uint256 late = _unselected(stackId);
        Proof memory q = _proof(stackId, late);
        vm.prank(vm.addr(signerKey[late]));
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.SelectionNotOpen.selector, stackId));
        draws.selfSelect(stackId, late, c, q.proof, q.hints, keccak256("late"));
    }

    /// Random 81-byte proofs with random hints never select anyone.
    function testFuzz_garbageProofsNeverSelect(bytes32 a, bytes32 b, bytes16 c, uint256 h, uint8 who) public {
        (uint256 stackId,,) = _settled("honest");
        uint256[] memory cand = frozenCandidates[stackId];
        uint256 node = cand[who % cand.length];
        h = bound(h, 0, type(uint256).max - 8);
        bytes memory proof = abi.encodePacked(uint8(2 + (uint8(a[0]) & 1)), b, c, keccak256(abi.encode(a, b)));
        EcVrf.Hints memory hints = EcVrf.Hints({u: [h, h + 1], sH: [h + 2, h + 3], cGamma: [h + 4, h + 5]});
        vm.prank(vm.addr(signerKey[node]));
        try draws.selfSelect(stackId, node, cand, proof, hints, keccak256("c")) {
            fail("a garbage proof selected a node");
        } catch {}
        assertEq(draws.selectionOf(stackId).nodeIds.length, 0, "nobody selected");
    }

    // ---------------------------------------------------------------- secrecy before the first commit

    /// Until a selected attester commits, the chain holds the same for a settlement that will be checked and for
    /// one that will not: the seed, the threshold and the candidates, nothing that depends on a node's secret key.
    function test_beforeACommitNothingPublicTellsWhetherOrWhoIsSelected() public {
        (uint256 checked,,) = _settledWithSelection("honest");
        SettlementDraw.Selection memory sel = draws.selectionOf(checked);
        assertEq(sel.nodeIds.length, 0, "no selection recorded");
        assertTrue(phaseOf(checked) == ISettlementManager.Phase.Drawing, "still drawing");
        assertEq(attestersOf(checked).length, 0, "no attester named");
        // Whom the public can compute from what is on chain: the candidates' keys and the seed do not give the
        // outputs; a node's proof (what a reader would need) exists only with the node.
        assertEq(settlement.getSettlement(checked).seed, 0, "no sample seed handed to the settlement yet");
    }

    // ---------------------------------------------------------------- nobody selected

    function test_anOrdinarySettlementNobodySelectedIsAcceptedUnchecked() public {
        for (uint256 tries = 0; tries < 12; ++tries) {
            (uint256 stackId,,) = _settledOn(ordinaryTask, "honest");
            if (_anySelected(stackId)) continue;
            vm.expectRevert(
                abi.encodeWithSelector(
                    SettlementDraw.SelectionWindowOpen.selector, stackId, draws.selectionOf(stackId).endsAt
                )
            );
            draws.drawAttesters(stackId, frozenCandidates[stackId]);
            _closeWindow(stackId);
            assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "not checked, accepted");
            return;
        }
        fail("the vectors hold no stack where nobody is selected at 1/6");
    }

    /// p = 1: every settlement must be checked; when nobody selects itself, a public draw follows the window.
    function test_aSettlementAtRateOneNobodySelectedFallsBackToAPublicDraw() public {
        for (uint256 tries = 0; tries < 12; ++tries) {
            (uint256 stackId,,) = _settled("honest");
            if (_anySelected(stackId)) continue;
            _closeWindow(stackId);
            assertEq(draws.armedOf(stackId).round, 1, "public draw armed");
            vm.roll(block.number + 1);
            draws.drawAttesters(stackId, frozenCandidates[stackId]);
            assertEq(attestersOf(stackId).length, 2, "N attesters drawn publicly");
            return;
        }
        // (2/3)^6 ≈ 8.8 % per stack: the vectors may hold none; the expired-draw test below covers the fallback.
    }

    function _anySelected(uint256 stackId) internal view returns (bool) {
        for (uint256 i = 0; i < frozenCandidates[stackId].length; ++i) {
            if (_selected(stackId, frozenCandidates[stackId][i])) return true;
        }
        return false;
    }

    /// A first draw left past the 256-block horizon must be checked (threshold N/n); when nobody selects itself
    /// (selected nodes offline), a public draw on a block after the window names the task's N attesters.
    function test_aSettlementThatMustBeCheckedFallsBackToAPublicDraw() public {
        (uint256 stackId, uint256 server) = buy(task, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 1_000_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, s.root, 1_000_000, 4, keccak256("transcript"));
        frozenCandidates[stackId] = draws.candidatesFor(task, server);
        vm.roll(block.number + 300);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertTrue(draws.armedOf(stackId).certain, "re-armed, certain");
        vm.roll(block.number + 1);
        vm.setBlockhash(block.number, blockHash);
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        SettlementDraw.Selection memory sel = draws.selectionOf(stackId);
        assertEq(sel.numerator, 2, "N");
        assertEq(sel.denominator, frozenCandidates[stackId].length, "n");
        _closeWindow(stackId);
        assertEq(draws.armedOf(stackId).round, 1, "public draw armed");
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(attestersOf(stackId).length, 2, "N attesters drawn publicly");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "they commit");
    }

    // ---------------------------------------------------------------- candidates without a usable key (review L1)

    /// (1 − num/den)^usable in 1e18 fixed point: the probability that no usable candidate selects itself.
    function _noneSelected(uint256 num, uint256 den, uint256 usable) internal pure returns (uint256 p) {
        p = 1e18;
        for (uint256 i = 0; i < usable; ++i) {
            p = p * (den - num) / den;
        }
    }

    function _usable(uint256 stackId) internal view returns (uint256 usable) {
        uint256[] memory c = frozenCandidates[stackId];
        for (uint256 i = 0; i < c.length; ++i) {
            if (vrfKeys.keyUsableAt(c[i], draws.armedOf(stackId).frozenAt)) ++usable;
        }
    }

    /// A settlement that must be checked (p = 1, N = 3) whose candidates include five nodes with no VRF key: the
    /// threshold counts only the candidates that can sit, so P(no attester) = (1 − N/u)^u stays under e^−N (4.98 %).
    /// Counted over every frozen candidate it would be (1 − N/n)^u: over 10 % here, the bound broken.
    function test_keylessCandidatesDoNotDiluteTheSelectionThreshold() public {
        uint256 three = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 3, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(three, nodeIds[i], PRICE);
        }
        for (uint256 i = 0; i < 5; ++i) {
            subscribe(three, addNode(1), PRICE);
        }
        nextEpoch();
        (uint256 stackId,, Served memory s) = _settledOn(three, "honest");
        uint256 n = frozenCandidates[stackId].length;
        uint256 usable = _usable(stackId);
        assertEq(n, 11, "every other subscriber is a candidate");
        assertEq(n - usable, usable == 6 ? 5 : 4, "the keyless are candidates (the server may be one)");
        SettlementDraw.Selection memory sel = draws.selectionOf(stackId);
        // p·N/n with p = 1 (in parts per million): 3/usable.
        assertEq(sel.numerator * usable, sel.denominator * 3, "N/n, n counting the candidates that can sit");
        uint256 eMinus3 = 49787068367863943; // e^−3, 1e18 fixed point
        assertLe(_noneSelected(sel.numerator, sel.denominator, usable), eMinus3, "P(no attester) <= e^-N");
        assertTrue(_noneSelected(3, n, usable) > 2 * eMinus3, "over every frozen candidate it was not");
        // The selected with usable keys seat as ever.
        uint256 seated = _seatUsableSelected(stackId, s);
        assertEq(draws.selectionOf(stackId).nodeIds.length, seated > 4 ? 4 : seated, "seated");
    }

    /// Every candidate with a usable key that its output selects seats; returns how many did.
    function _seatUsableSelected(uint256 stackId, Served memory s) internal returns (uint256 seated) {
        bytes32 result = resultOf(_indices(stackId), s);
        uint256[] memory c = frozenCandidates[stackId];
        for (uint256 i = 0; i < c.length; ++i) {
            if (!vrfKeys.keyUsableAt(c[i], draws.armedOf(stackId).frozenAt) || !_selected(stackId, c[i])) continue;
            _selfSelect(stackId, c[i], _proof(stackId, c[i]), attestationCommitment(c[i], result, saltOf(stackId, c[i])));
            ++seated;
        }
    }

    /// A must-check settlement none of whose candidates holds a key older than the freeze: nobody could select
    /// itself, so no window opens; N public attesters are drawn on a later block instead.
    function test_noCandidateWithAUsableKeyDrawsInPublic() public {
        uint256 bare = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < 6; ++i) {
            subscribe(bare, addNode(1), PRICE);
        }
        nextEpoch();
        (uint256 stackId, uint256 server) = buy(bare, 1_000_000);
        Served memory s = serve(stackId, 4, "honest", 1_000_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, s.root, 1_000_000, 4, keccak256("transcript"));
        frozenCandidates[stackId] = draws.candidatesFor(bare, server);
        assertEq(frozenCandidates[stackId].length, 5, "five keyless candidates");
        uint256 seedBlock = draws.armedOf(stackId).armedAt + draws.SEED_DELAY();
        vm.roll(seedBlock + 1);
        vm.expectEmit(address(draws));
        emit SettlementDraw.SelectionFallback(stackId, uint64(block.number));
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(draws.selectionOf(stackId).endsAt, 0, "no window");
        assertEq(draws.armedOf(stackId).round, 1, "public draw armed");
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(attestersOf(stackId).length, 2, "N attesters drawn publicly");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "they commit");
    }

    // ---------------------------------------------------------------- a cheater is still caught

    function test_aCheatingServerIsCaughtBySelfSelectedAttestersAndSlashed() public {
        (uint256 stackId, uint256 server, Served memory claimed) = _settledWithSelection("cheap model");
        Served memory honest = serve(stackId, 4, "honest", 1_000_000);
        // serve() recorded the honest units for the outputs; both use the same units.
        _commitSelected(stackId, honest);
        _closeWindow(stackId);
        bytes memory revealed = revealOf(settlement.sampledIndices(stackId), claimed);
        vm.prank(vm.addr(signerKey[server]));
        settlement.reveal(stackId, revealed);
        openAttestations(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Disputed, "disputed");
        uint256 disputeId = disputes.disputeCount();
        postEvidence(disputeId, stackId, server, claimed);
        draw(disputeId);
        castHonest(disputeId, stackId, committeeIds(disputeId), "honest");
        disputes.resolve(disputeId);
        assertTrue(disputes.getDispute(disputeId).outcome == DisputeManager.Outcome.Decided, "decided");
        assertTrue(nodes.getNode(server).collateral < COLLATERAL, "the cheater is slashed");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "and not paid");
    }

    // ---------------------------------------------------------------- review attacks (docs/vrf.md)

    /// Buys, serves and settles a stack on `task` without opening its window.
    function _settleOnly(bytes32 salt) internal returns (uint256 stackId) {
        uint256 server;
        (stackId, server) = buy(task, 1_000_000);
        Served memory s = serve(stackId, 4, salt, 1_000_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, s.root, 1_000_000, 4, keccak256("transcript"));
        frozenCandidates[stackId] = draws.candidatesFor(task, server);
    }

    /// Opens the window of a stack settled earlier, its seed block's hash set to the vectors'.
    function _openLater(uint256 stackId) internal {
        uint256 seedBlock = draws.armedOf(stackId).armedAt + draws.SEED_DELAY();
        vm.setBlockhash(seedBlock, blockHash);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(draws.selectionOf(stackId).seed, vm.parseJsonBytes32(json, _stackKey(stackId, ".seed")), "seed");
    }

    /// H1: a key first registered after the settlement froze its candidates (when the seed could be known and
    /// the key ground for it) does not select its node for that settlement.
    function test_aKeyRegisteredAfterTheFreezeCannotSelect() public {
        uint256 late = addNode(1);
        subscribe(task, late, PRICE);
        nextEpoch();
        uint256[] memory stackIds = new uint256[](12);
        for (uint256 i = 0; i < 12; ++i) stackIds[i] = _settleOnly("honest");
        vm.roll(block.number + 2);
        _registerKey(late);
        vm.roll(block.number + 1);
        for (uint256 i = 0; i < 12; ++i) {
            uint256 stackId = stackIds[i];
            _openLater(stackId);
            if (!_contains(frozenCandidates[stackId], late) || !_selected(stackId, late)) continue;
            Proof memory p = _proof(stackId, late);
            bytes memory tooNew = abi.encodeWithSelector(
                VrfKeyRegistry.VrfKeyTooNew.selector, late, vrfKeys.registeredAt(late), draws.armedOf(stackId).frozenAt
            );
            vm.prank(vm.addr(signerKey[late]));
            vm.expectRevert(tooNew);
            draws.selfSelect(stackId, late, frozenCandidates[stackId], p.proof, p.hints, keccak256("ground"));
            return;
        }
        fail("node 8 is selected on no stack of the vectors");
    }

    function _contains(uint256[] memory list, uint256 value) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }

    /// M1: the seed is the hash of the block after the settlement's: opening in that block is too early, and
    /// whatever hash the settlement's includer gives its own block, the seed does not move.
    function test_theSettlementsOwnBlockHashDoesNotSteerTheSeed() public {
        uint256 stackId = _settleOnly("honest");
        uint256 armedAt = draws.armedOf(stackId).armedAt;
        vm.roll(armedAt + 1);
        vm.expectRevert(abi.encodeWithSelector(DeferredRandom.DrawTooEarly.selector, armedAt + 1, armedAt + 1));
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        vm.roll(armedAt + 2);
        vm.setBlockhash(armedAt, keccak256("a hash the includer ground"));
        _openLater(stackId);
    }

    /// H2: a selected node that stays silent is slashed the timeout share once anyone shows its proof after the
    /// window; a seated node, an unselected one, or the same report twice are refused.
    function test_aSelectedNodeThatStaysSilentIsSlashedOnReport() public {
        (uint256 stackId,, Served memory s) = _settledWithSelection("honest");
        uint256 silent = _firstSelected(stackId);
        uint256[] memory c = frozenCandidates[stackId];
        bytes32 result = resultOf(_indices(stackId), s);
        uint256 seated;
        for (uint256 i = 0; i < c.length; ++i) {
            if (c[i] == silent || !_selected(stackId, c[i])) continue;
            _selfSelect(stackId, c[i], _proof(stackId, c[i]), attestationCommitment(c[i], result, saltOf(stackId, c[i])));
            seated = c[i];
        }
        Proof memory p = _proof(stackId, silent);
        uint64 endsAt = draws.selectionOf(stackId).endsAt;
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.SelectionWindowOpen.selector, stackId, endsAt));
        draws.reportSilentSelection(stackId, silent, c, p.proof, p.hints);
        vm.warp(endsAt + 1);
        uint256 before = nodes.getNode(silent).collateral;
        vm.prank(address(0xBEEF));
        draws.reportSilentSelection(stackId, silent, c, p.proof, p.hints);
        assertEq(nodes.getNode(silent).collateral, before - before * 500 / 10_000, "slashed the timeout share");
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotSilent.selector, stackId, silent));
        draws.reportSilentSelection(stackId, silent, c, p.proof, p.hints);
        Proof memory q = _proof(stackId, seated);
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotSilent.selector, stackId, seated));
        draws.reportSilentSelection(stackId, seated, c, q.proof, q.hints);
        uint256 unselected = _unselected(stackId);
        Proof memory u = _proof(stackId, unselected);
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NotSelected.selector, unselected, u.beta));
        draws.reportSilentSelection(stackId, unselected, c, u.proof, u.hints);
    }

    /// H2: a public bounty for silence pays only on the proof of selection, which anyone then uses to slash the
    /// claimant: the bounty must outbid the slash, not just the attester's pay less its work.
    function test_silenceBountyIsSelfIncriminating() public {
        SilenceBounty bounty = new SilenceBounty(vrfKeys, draws);
        (uint256 stackId,,) = _settledWithSelection("cheat");
        uint256 bribed = _firstSelected(stackId);
        vm.warp(draws.selectionOf(stackId).endsAt + 1);
        Proof memory p = _proof(stackId, bribed);
        vm.recordLogs();
        vm.prank(vm.addr(signerKey[bribed]));
        bounty.claim(stackId, bribed, p.proof, p.hints);
        assertTrue(bounty.paid(bribed), "the bounty paid");
        // A watcher reads the proof from the claim and reports the node.
        Vm.Log[] memory logs = vm.getRecordedLogs();
        (,, bytes memory proof, EcVrf.Hints memory hints) =
            abi.decode(logs[logs.length - 1].data, (uint256, uint256, bytes, EcVrf.Hints));
        uint256 before = nodes.getNode(bribed).collateral;
        vm.prank(address(0xBEEF));
        draws.reportSilentSelection(stackId, bribed, frozenCandidates[stackId], proof, hints);
        assertTrue(nodes.getNode(bribed).collateral < before, "the claimant is slashed");
    }

    /// H3: a seat always carries a commitment: one without would name an attester before it committed.
    function test_aSeatWithoutACommitmentIsRefused() public {
        (uint256 stackId,,) = _settledWithSelection("honest");
        uint256 node = _firstSelected(stackId);
        Proof memory p = _proof(stackId, node);
        vm.prank(vm.addr(signerKey[node]));
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NoCommitment.selector, stackId));
        draws.selfSelect(stackId, node, frozenCandidates[stackId], p.proof, p.hints, bytes32(0));
    }

    /// H3: a withheld transcript: any candidate (here an unselected one) asks for the sample on chain, which
    /// tells nobody who is selected; the window stretches past the server's data deadline; the server posts; the
    /// selected commit on the posted requests after the first end; the reveal must match what was posted.
    function test_aCandidateAsksForWithheldDataAndTheSelectedCommitOnThePostedRequests() public {
        (uint256 stackId, uint256 server, Served memory s) = _settledWithSelection("honest");
        uint256[] memory c = frozenCandidates[stackId];
        uint256 asker = _unselected(stackId);
        uint64 firstEnd = draws.selectionOf(stackId).endsAt;
        vm.prank(vm.addr(signerKey[asker]));
        draws.requestSelectionData(stackId, asker, c);
        ISettlementDraw.Selection memory sel = draws.selectionOf(stackId);
        assertEq(sel.dataDeadline, block.timestamp + WINDOW, "data deadline");
        assertEq(sel.endsAt, sel.dataDeadline + WINDOW, "the window runs a window past it");
        assertEq(sel.nodeIds.length, 0, "asking seats nobody");
        vm.prank(vm.addr(signerKey[asker]));
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.DataAlreadyRequested.selector, stackId));
        draws.requestSelectionData(stackId, asker, c);
        _postSelectionSample(stackId, server);
        vm.warp(firstEnd + 1);
        _commitSelected(stackId, s);
        vm.warp(sel.endsAt + 1);
        draws.drawAttesters(stackId, c);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Reveal, "all committed: the server reveals");
        revealAs(stackId, server, s);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "accepted");
    }

    /// The server posts the requests the window's seed samples (`SettlementEvidence`, while still drawing).
    function _postSelectionSample(uint256 stackId, uint256 server) internal {
        uint256[] memory idx = draws.selectionIndices(stackId);
        assertEq(keccak256(abi.encode(idx)), keccak256(abi.encode(_indices(stackId))), "the window seed's sample");
        for (uint256 i = 0; i < idx.length; ++i) {
            SettlementEvidence.SignedRequest memory r = signedRequest(stackId, idx[i], requestBody(stackId, idx[i]));
            vm.prank(vm.addr(signerKey[server]));
            evidence.postSampledRequest(stackId, i, r);
        }
        assertTrue(settlement.getSettlement(stackId).dataPosted, "posted");
    }

    /// H3: asked for and never posted, nobody seated: the seated (none) do not decide; public attesters are drawn
    /// up to N, whose path makes the server post or lose its collateral; no selected node is slashed for a silence
    /// the server caused.
    function test_dataAskedForAndNeverPostedDrawsAPublicCheckAndSlashesNoSelectedNode() public {
        for (uint256 tries = 0; tries < 12; ++tries) {
            (uint256 stackId, uint256 server,) = _settledOn(ordinaryTask, "honest");
            if (!_anySelected(stackId)) continue;
            uint256[] memory c = frozenCandidates[stackId];
            uint256 asker = c[0];
            vm.prank(vm.addr(signerKey[asker]));
            draws.requestSelectionData(stackId, asker, c);
            vm.warp(draws.selectionOf(stackId).endsAt + 1);
            draws.drawAttesters(stackId, c);
            assertEq(draws.armedOf(stackId).round, 1, "a public draw is armed");
            uint256 node = _firstSelected(stackId);
            Proof memory p = _proof(stackId, node);
            vm.expectRevert(abi.encodeWithSelector(SettlementDraw.SelectionDataWithheld.selector, stackId));
            draws.reportSilentSelection(stackId, node, c, p.proof, p.hints);
            _publicCheckSlashesAWithholdingServer(stackId, server, 0);
            return;
        }
        fail("no ordinary stack of the vectors has a selected candidate");
    }

    /// V-1: on an ordinary settlement (p < 1) the server's own node is selected; the server refuses the transcript
    /// to every other candidate (one asks on chain) and never posts the sample, so no honest selected node can
    /// recompute or seat; its sybil, holding the data, seats alone with the server's answer. The window closes
    /// with the data withheld: the sybil's word alone is not taken; N public attesters join it, and when the
    /// server keeps withholding from them it is slashed in full.
    function test_aServerWithholdingWhileItsSybilIsSelectedIsNotAcceptedOnTheSybilsWord() public {
        for (uint256 tries = 0; tries < 12; ++tries) {
            (uint256 stackId, uint256 server, Served memory claimed) = _settledOn(ordinaryTask, "cheap model");
            if (!_anySelected(stackId)) continue;
            uint256[] memory c = frozenCandidates[stackId];
            uint256 sybil = _firstSelected(stackId);
            uint256 asker = c[0] == sybil ? c[1] : c[0];
            vm.prank(vm.addr(signerKey[asker]));
            draws.requestSelectionData(stackId, asker, c);
            bytes32 copied = resultOf(_indices(stackId), claimed);
            _selfSelect(stackId, sybil, _proof(stackId, sybil), attestationCommitment(sybil, copied, saltOf(stackId, sybil)));
            vm.warp(draws.selectionOf(stackId).endsAt + 1);
            draws.drawAttesters(stackId, c);
            assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Drawing, "not accepted on the sybil's word");
            assertEq(draws.armedOf(stackId).round, 1, "a public draw is armed");
            _publicCheckSlashesAWithholdingServer(stackId, server, 1);
            assertEq(attestersOf(stackId)[0], sybil, "the sybil kept its seat, beside N public attesters");
            return;
        }
        fail("no ordinary stack of the vectors has a selected candidate");
    }

    /// Runs the public draw after a withheld window: N public attesters join the `seated`; they cannot fetch the
    /// transcript either and say so; the server still withholds and is slashed in full, unpaid.
    function _publicCheckSlashesAWithholdingServer(uint256 stackId, uint256 server, uint256 seated) internal {
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        uint256[] memory att = attestersOf(stackId);
        assertEq(att.length, seated + 2, "N public attesters beside the seated");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "the public ones commit");
        for (uint256 i = seated; i < att.length; ++i) {
            vm.prank(vm.addr(signerKey[att[i]]));
            settlement.declareTranscriptUnavailable(stackId, att[i]);
        }
        vm.warp(settlement.getSettlement(stackId).dataDeadline + 1);
        settlement.failVerification(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "not paid");
        assertEq(nodes.getNode(server).collateral, 0, "the withholding server is slashed in full");
    }

    /// H3: the window leaves a candidate its transcript fetch (30 s) and as much again.
    function test_aWindowShorterThanTheFetchAndAMarginIsRefused() public {
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(AtomaAccess.ParameterOutOfBounds.selector, "selectionWindow", uint256(59))
        );
        draws.setPrivateSelection(vrfKeys, 59, 4);
    }

    /// H4: on a settlement that must be checked, the server's own selected node waits to see nobody honest seat
    /// and seats last with the server's answer; fewer than N sat, so public attesters join it up to N, on the
    /// window seed's sample.
    function test_aLastMinuteSybilSeatDoesNotSkipTheFallback() public {
        (uint256 stackId,, Served memory claimed) = _settledWithSelection("cheat");
        uint256 sybil = _firstSelected(stackId);
        uint256[] memory c = frozenCandidates[stackId];
        vm.warp(draws.selectionOf(stackId).endsAt);
        bytes32 copied = resultOf(_indices(stackId), claimed);
        _selfSelect(stackId, sybil, _proof(stackId, sybil), attestationCommitment(sybil, copied, saltOf(stackId, sybil)));
        _closeWindow(stackId);
        assertEq(draws.armedOf(stackId).round, 1, "a public draw is armed for the rest");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Drawing, "not accepted");
        vm.roll(block.number + 1);
        draws.drawAttesters(stackId, c);
        uint256[] memory att = attestersOf(stackId);
        assertEq(att.length, 2, "N attesters");
        assertEq(att[0], sybil, "the seated keeps its seat");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "the public one commits");
        assertEq(keccak256(abi.encode(settlement.sampledIndices(stackId))), keccak256(abi.encode(_indices(stackId))), "indices");
    }

    /// L2: a seated node that can no longer attest at the close (barred since it sat) is not handed over.
    function test_aSeatedNodeThatCanNoLongerAttestIsLeftOutAtTheClose() public {
        (uint256 stackId,, Served memory s) = _settledWithSelection("honest");
        uint256[] memory chosen = _commitSelected(stackId, s);
        vm.startPrank(admin);
        nodes.grantRole(nodes.PROTOCOL_ROLE(), admin);
        nodes.slashFraud(chosen[0], address(0), new uint256[](0));
        vm.stopPrank();
        _closeWindow(stackId);
        if (draws.armedOf(stackId).round == 1) {
            vm.roll(block.number + 1);
            draws.drawAttesters(stackId, frozenCandidates[stackId]);
        }
        uint256[] memory att = attestersOf(stackId);
        assertGe(att.length, 1, "attesters");
        for (uint256 i = 0; i < att.length; ++i) {
            assertTrue(att[i] != chosen[0], "the barred node is not an attester");
        }
    }

    // ---------------------------------------------------------------- gas

    function test_gasOfASelfSelection() public {
        (uint256 stackId,,) = _settledWithSelection("honest");
        uint256 node = _firstSelected(stackId);
        Proof memory p = _proof(stackId, node);
        uint256[] memory c = frozenCandidates[stackId];
        vm.prank(vm.addr(signerKey[node]));
        uint256 before = gasleft();
        draws.selfSelect(stackId, node, c, p.proof, p.hints, keccak256("c"));
        uint256 used = before - gasleft();
        emit SelfSelectionGas(used);
        assertLe(used, 250_000, "selfSelect gas");
        assertGe(used, 40_000, "selfSelect gas (it verifies a VRF proof)");
    }
}
