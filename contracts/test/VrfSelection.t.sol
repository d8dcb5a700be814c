// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INodeRegistry} from "../src/interfaces/INodeRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {DisputeManager} from "../src/disputes/DisputeManager.sol";
import {SettlementDraw} from "../src/settlement/SettlementDraw.sol";
import {EcVrf} from "../src/vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../src/vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../src/vrf/VrfSortition.sol";
import {SettlementSteps} from "./lib/SettlementSteps.sol";

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
        vrfKeys = new VrfKeyRegistry(INodeRegistry(address(nodes)));
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
        vm.setBlockhash(block.number, blockHash);
        vm.roll(block.number + 1);
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

    /// A settlement whose window has at least one selected candidate (and one that is not), by the vectors.
    function _settledWithSelection(bytes32 salt) internal returns (uint256 stackId, uint256 server, Served memory s) {
        for (uint256 tries = 0; tries < 12; ++tries) {
            (stackId, server, s) = _settled(salt);
            uint256 selected;
            for (uint256 i = 0; i < frozenCandidates[stackId].length; ++i) {
                if (_selected(stackId, frozenCandidates[stackId][i])) ++selected;
            }
            if (selected > 0 && selected < frozenCandidates[stackId].length) return (stackId, server, s);
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

    function test_theWindowClosesEarlyOnceTheCapIsReached() public {
        vm.prank(admin);
        draws.setPrivateSelection(vrfKeys, WINDOW, 1);
        (uint256 stackId,, Served memory s) = _settledWithSelection("honest");
        uint256 node = _firstSelected(stackId);
        _selfSelect(stackId, node, _proof(stackId, node), keccak256("commitment"));
        // Any other selected node is refused now; the draw closes before the window ends.
        uint256[] memory c = frozenCandidates[stackId];
        for (uint256 i = 0; i < c.length; ++i) {
            if (c[i] == node || !_selected(stackId, c[i])) continue;
            Proof memory p = _proof(stackId, c[i]);
            vm.prank(vm.addr(signerKey[c[i]]));
            vm.expectRevert(abi.encodeWithSelector(SettlementDraw.SelectionFull.selector, stackId));
            draws.selfSelect(stackId, c[i], c, p.proof, p.hints, keccak256("late"));
        }
        draws.drawAttesters(stackId, c);
        assertEq(attestersOf(stackId).length, 1, "one attester");
        s;
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
        assertLe(used, 200_000, "selfSelect gas");
        assertGe(used, 40_000, "selfSelect gas (it verifies a VRF proof)");
    }
}
