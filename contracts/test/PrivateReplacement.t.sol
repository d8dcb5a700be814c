// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DeferredRandom} from "../src/common/DeferredRandom.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../src/interfaces/ITaskRegistry.sol";
import {SettlementDraw} from "../src/settlement/SettlementDraw.sol";
import {SettlementManager} from "../src/settlement/SettlementManager.sol";
import {EcVrf} from "../src/vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../src/vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../src/vrf/VrfSortition.sol";
import {SettlementSteps} from "./lib/SettlementSteps.sol";
import {Vm} from "./lib/Vm.sol";

/// @notice Replacement attesters self-select by VRF too (issue 16): a drawn attester that misses its commit is
/// replaced in a private window of its own round, on a seed from the block after the timeout, with the first
/// round's rules (keys older than the freeze, threshold count/n, lowest outputs sit, seats carry commitments,
/// silence slashable on proof, a public top-up only when too few sit). Proofs from
/// packages/core/vectors/vrfReplacement.json (the TypeScript prover on the same seeds).
contract PrivateReplacementTest is SettlementSteps {
    bytes32 internal blockHash;
    string internal keysJson;
    string internal json;
    VrfKeyRegistry internal vrfKeys;
    /// p = 1, N = 2: a settlement is always checked, by two attesters.
    uint256 internal task;
    uint64 internal constant WINDOW = 60;
    /// The round a missed commit arms here: round 0 private, round 1 its public top-up, round 2 the replacement.
    uint8 internal constant ROUND = 2;

    struct Proof {
        bytes proof;
        bytes32 beta;
        EcVrf.Hints hints;
    }

    function setUp() public {
        deployAtoma();
        keysJson = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrfSelection.json"));
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrfReplacement.json"));
        blockHash = vm.parseJsonBytes32(json, ".blockHash");
        for (uint256 i = 0; i < 7; ++i) {
            addNode(1);
        }
        task = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(task, nodeIds[i], PRICE);
        }
        vrfKeys = deployVectorVrfKeys();
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            _registerKey(nodeIds[i]);
        }
        vm.prank(admin);
        draws.setPrivateSelection(vrfKeys, WINDOW, 4);
        nextEpoch();
    }

    // ---------------------------------------------------------------- helpers

    function _pair(string memory source, string memory key) internal pure returns (uint256[2] memory point) {
        uint256[] memory values = vm.parseJsonUintArray(source, key);
        point = [values[0], values[1]];
    }

    function _read(string memory source, string memory key) internal pure returns (Proof memory p) {
        p.proof = vm.parseJsonBytes(source, string.concat(key, ".proof"));
        p.beta = vm.parseJsonBytes32(source, string.concat(key, ".beta"));
        p.hints = EcVrf.Hints({
            u: _pair(source, string.concat(key, ".u")),
            sH: _pair(source, string.concat(key, ".sH")),
            cGamma: _pair(source, string.concat(key, ".cGamma"))
        });
    }

    function _registerKey(uint256 nodeId) internal {
        string memory key = string.concat(".nodes[", vm.toString(nodeId - 1), "]");
        Proof memory p = _read(keysJson, string.concat(key, ".possession"));
        vm.prank(operatorOf[nodeId]);
        vrfKeys.registerVrfKey(nodeId, vm.parseJsonBytes(keysJson, string.concat(key, ".publicKey")), p.proof, p.hints);
    }

    function _roundKey(uint256 stackId, uint8 round) internal pure returns (string memory) {
        return string.concat(".stacks[", vm.toString(stackId - 1), "].rounds[", vm.toString(uint256(round) - 1), "]");
    }

    /// Node `nodeId`'s proof on the seed of replacement round `round` of `stackId` (the vectors' block hash).
    function _proof(uint256 stackId, uint8 round, uint256 nodeId) internal view returns (Proof memory) {
        return _read(json, string.concat(_roundKey(stackId, round), ".proofs[", vm.toString(nodeId - 1), "]"));
    }

    function _selected(uint256 stackId, uint256 nodeId) internal view returns (bool) {
        SettlementDraw.Selection memory sel = draws.roundSelectionOf(stackId, ROUND);
        return VrfSortition.isSelected(_proof(stackId, ROUND, nodeId).beta, sel.numerator, sel.denominator);
    }

    /// A settlement whose private first window nobody sat in (its selected were offline), topped up in public to
    /// N = 2; one of the two commits, the other misses its deadline and is timed out: replacement round 2 is armed.
    function _toReplacement(bytes32 salt) internal returns (uint256 stackId, uint256 server, Served memory s) {
        (stackId, server) = buy(task, 10_000);
        s = serve(stackId, 4, salt, 10_000);
        vm.prank(vm.addr(signerKey[server]));
        settlement.settle(stackId, s.root, 10_000, 4, keccak256("transcript"));
        frozenCandidates[stackId] = draws.candidatesFor(task, server);
        vm.roll(block.number + 2);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        vm.warp(block.timestamp + WINDOW + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(draws.topUpRound(stackId), 1, "round 0 topped up in public");
        vm.roll(block.number + 2);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        uint256[] memory ids = attestersOf(stackId);
        assertEq(ids.length, 2, "two public attesters");
        commitAs(stackId, ids[0], s);
        vm.warp(settlement.getSettlement(stackId).deadline + 1);
        settlement.timeoutAttesters(stackId);
        // Its operator restores the timeout slash and its subscription (the slash put it on notice), so a test that
        // tries several stacks keeps enough verifiers.
        vm.prank(operatorOf[ids[1]]);
        nodes.topUp(ids[1], COLLATERAL / 10);
        subscribe(task, ids[1], PRICE);
        assertEq(draws.armedOf(stackId).round, ROUND, "replacement round armed");
        assertEq(draws.armedOf(stackId).count, 1, "one replacement");
    }

    /// Opens the replacement window with the vectors' hash as that of the block after the timeout's.
    function _openOnVectorsBlock(uint256 stackId) internal {
        uint256 seedBlock = draws.armedOf(stackId).armedAt + draws.SEED_DELAY();
        vm.roll(seedBlock);
        vm.setBlockhash(seedBlock, blockHash);
        vm.roll(seedBlock + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(
            draws.roundSelectionOf(stackId, ROUND).seed,
            vm.parseJsonBytes32(json, string.concat(_roundKey(stackId, ROUND), ".seed")),
            "seed"
        );
    }

    /// The round's candidates: frozen, and no attester of the settlement yet.
    function _eligible(uint256 stackId) internal view returns (uint256[] memory out) {
        uint256[] memory c = frozenCandidates[stackId];
        uint256[] memory taken = attestersOf(stackId);
        out = new uint256[](c.length);
        uint256 n;
        for (uint256 i = 0; i < c.length; ++i) {
            if (!_contains(taken, c[i])) out[n++] = c[i];
        }
        assembly ("memory-safe") {
            mstore(out, n)
        }
    }

    function _selectedEligible(uint256 stackId) internal view returns (uint256[] memory out) {
        uint256[] memory e = _eligible(stackId);
        out = new uint256[](e.length);
        uint256 n;
        for (uint256 i = 0; i < e.length; ++i) {
            if (_selected(stackId, e[i])) out[n++] = e[i];
        }
        assembly ("memory-safe") {
            mstore(out, n)
        }
    }

    function _unselectedEligible(uint256 stackId) internal view returns (uint256) {
        uint256[] memory e = _eligible(stackId);
        for (uint256 i = 0; i < e.length; ++i) {
            if (!_selected(stackId, e[i])) return e[i];
        }
        revert("none unselected");
    }

    /// A stack in its open replacement window with at least `selected` selected candidates (and one not).
    function _replacementWith(uint256 selected) internal returns (uint256 stackId, uint256 server, Served memory s) {
        for (uint256 tries = 0; tries < 8; ++tries) {
            (stackId, server, s) = _toReplacement("honest");
            _openOnVectorsBlock(stackId);
            uint256 count = _selectedEligible(stackId).length;
            if (count >= selected && count < _eligible(stackId).length) return (stackId, server, s);
        }
        revert("no stack of the vectors has enough selected replacement candidates");
    }

    function _seat(uint256 stackId, uint256 nodeId, Served memory s) internal {
        bytes32 result = resultOf(settlement.sampledIndices(stackId), s);
        committedResult[stackId][nodeId] = result;
        Proof memory p = _proof(stackId, ROUND, nodeId);
        vm.prank(vm.addr(signerKey[nodeId]));
        draws.selfSelect(
            stackId,
            nodeId,
            frozenCandidates[stackId],
            p.proof,
            p.hints,
            attestationCommitment(nodeId, result, saltOf(stackId, nodeId))
        );
    }

    function _contains(uint256[] memory list, uint256 value) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- secrecy and the honest path

    /// A server watching the chain learns nothing about who replaces the missing attester until that node's seat
    /// lands with its commitment: the window's opening names nobody, the public state is the same for every
    /// candidate, and the seat is the commitment.
    function test_theReplacementWindowNamesNobodyUntilItsMemberCommits() public {
        (uint256 stackId, uint256 server, Served memory s) = _toReplacement("honest");
        uint256[] memory before = attestersOf(stackId);
        vm.recordLogs();
        _openOnVectorsBlock(stackId);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one event");
        assertEq(logs[0].topics[0], SettlementDraw.ReplacementSelectionOpened.selector, "the window opened");
        SettlementDraw.Selection memory sel = draws.roundSelectionOf(stackId, ROUND);
        assertEq(sel.numerator, 1, "one replacement wanted");
        assertEq(sel.denominator, _eligible(stackId).length, "among those not attesters yet");
        assertEq(sel.nodeIds.length, 0, "nobody sits");
        uint256[] memory c = frozenCandidates[stackId];
        for (uint256 i = 0; i < c.length; ++i) {
            assertTrue(!draws.roundAnswered(stackId, ROUND, c[i]), "nothing per candidate");
        }
        assertEq(attestersOf(stackId).length, before.length, "no public replacement");
        uint256[] memory selected = _selectedEligible(stackId);
        assertTrue(selected.length > 0, "stack 1 of the vectors has a selected replacement");
        uint256 member = selected[0];
        vm.recordLogs();
        _seat(stackId, member, s);
        logs = vm.getRecordedLogs();
        assertEq(logs[logs.length - 1].topics[0], SettlementDraw.AttesterSelfSelected.selector, "seat");
        assertTrue(abi.decode(logs[logs.length - 1].data, (bytes32)) != 0, "the seat is its commitment");
        for (uint256 i = 1; i < selected.length; ++i) {
            _seat(stackId, selected[i], s);
        }
        vm.warp(sel.endsAt + 1);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        assertEq(list.length, 3, "one replacement joined");
        assertTrue(list[2].committed, "already committed");
        vm.warp(settlement.getSettlement(stackId).deadline + 1);
        settlement.timeoutAttesters(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Reveal, "the server reveals");
        revealAs(stackId, server, s);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "checked and accepted");
    }

    /// The seed comes from the block after the timeout's: whoever timed the attester out (or built its block)
    /// cannot steer it, and each round has its own.
    function testFuzz_theTimeoutsBlockDoesNotSteerTheSeed(bytes32 armedHash) public {
        (uint256 stackId,,) = _toReplacement("honest");
        vm.setBlockhash(draws.armedOf(stackId).armedAt, armedHash);
        _openOnVectorsBlock(stackId);
        assertTrue(draws.roundSelectionOf(stackId, ROUND).seed != draws.selectionOf(stackId).seed, "fresh seed");
    }

    /// The window cannot open in the block after the timeout (its seed block), only once that hash exists.
    function test_theWindowWaitsForItsSeedBlock() public {
        (uint256 stackId,,) = _toReplacement("honest");
        uint256 seedBlock = draws.armedOf(stackId).armedAt + draws.SEED_DELAY();
        vm.roll(seedBlock);
        vm.expectRevert(abi.encodeWithSelector(DeferredRandom.DrawTooEarly.selector, seedBlock, seedBlock));
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
    }

    // ---------------------------------------------------------------- attackers

    function test_aCandidateOutsideTheThresholdAndThePastAttestersAreRefused() public {
        (uint256 stackId,,) = _replacementWith(1);
        uint256 outside = _unselectedEligible(stackId);
        Proof memory p = _proof(stackId, ROUND, outside);
        vm.prank(vm.addr(signerKey[outside]));
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NotSelected.selector, outside, p.beta));
        draws.selfSelect(stackId, outside, frozenCandidates[stackId], p.proof, p.hints, keccak256("c"));
        // The attester that timed out, and the one that committed, are no candidates of its replacement.
        uint256[] memory past = attestersOf(stackId);
        for (uint256 i = 0; i < past.length; ++i) {
            Proof memory q = _proof(stackId, ROUND, past[i]);
            vm.prank(vm.addr(signerKey[past[i]]));
            vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotCandidate.selector, stackId, past[i]));
            draws.selfSelect(stackId, past[i], frozenCandidates[stackId], q.proof, q.hints, keccak256("c"));
        }
        // A proof on another round's seed does not verify on this one.
        uint256 member = _selectedEligible(stackId)[0];
        Proof memory other = _proof(stackId, ROUND + 1, member);
        vm.prank(vm.addr(signerKey[member]));
        vm.expectRevert();
        draws.selfSelect(stackId, member, frozenCandidates[stackId], other.proof, other.hints, keccak256("c"));
        assertEq(draws.roundSelectionOf(stackId, ROUND).nodeIds.length, 0, "nobody sat");
    }

    /// A key registered after the settlement froze its candidates cannot take a replacement seat: the seed of
    /// every later round is known to its owner before it could choose its key.
    function test_aKeyRegisteredAfterTheFreezeCannotReplace() public {
        uint256 late = addNode(1);
        subscribe(task, late, PRICE);
        nextEpoch();
        uint256 stackId;
        for (uint256 tries = 0; tries < 6; ++tries) {
            (stackId,,) = _toReplacement("honest");
            // Its server, or drawn in public already, it is no candidate of the round: try another stack.
            if (_contains(frozenCandidates[stackId], late) && !_contains(attestersOf(stackId), late)) break;
        }
        assertTrue(_contains(frozenCandidates[stackId], late), "a frozen candidate");
        assertTrue(!_contains(attestersOf(stackId), late), "a candidate of the round");
        _registerKey(late);
        _openOnVectorsBlock(stackId);
        Proof memory p = _proof(stackId, ROUND, late);
        bytes memory tooNew = abi.encodeWithSelector(
            VrfKeyRegistry.VrfKeyTooNew.selector, late, vrfKeys.registeredAt(late), draws.armedOf(stackId).frozenAt
        );
        vm.prank(vm.addr(signerKey[late]));
        vm.expectRevert(tooNew);
        draws.selfSelect(stackId, late, frozenCandidates[stackId], p.proof, p.hints, keccak256("ground"));
    }

    /// Nobody opening the window for 256 blocks does not make the round public (which would name the replacements
    /// to whoever stalled): the round is re-armed for a fresh private seed, and nobody is drawn.
    function test_aStallingPartyCannotForceTheRoundPublic() public {
        (uint256 stackId,,) = _toReplacement("honest");
        uint256[] memory before = attestersOf(stackId);
        vm.roll(block.number + 300);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(draws.armedOf(stackId).armedAt, block.number, "re-armed here");
        assertEq(draws.armedOf(stackId).round, ROUND, "the same round");
        assertTrue(draws.topUpRound(stackId) != ROUND, "no public top-up");
        assertEq(attestersOf(stackId).length, before.length, "nobody drawn");
        assertEq(draws.roundSelectionOf(stackId, ROUND).endsAt, 0, "no window on the stale seed");
        _openOnVectorsBlock(stackId);
        assertTrue(draws.roundSelectionOf(stackId, ROUND).endsAt != 0, "a private window opens");
        assertEq(attestersOf(stackId).length, before.length, "still nobody named");
    }

    /// An offline selected replacement is handled as in round one: the round, short of its count, gets a public
    /// replacement on a block after the window, and the silent node is slashed the timeout share once its proof is
    /// shown; nobody else can be framed.
    function test_anOfflineSelectedReplacementIsToppedUpAndSlashedOnReport() public {
        (uint256 stackId,,) = _replacementWith(1);
        uint256 silent = _selectedEligible(stackId)[0];
        Proof memory p = _proof(stackId, ROUND, silent);
        uint64 endsAt = draws.roundSelectionOf(stackId, ROUND).endsAt;
        uint256[] memory c = frozenCandidates[stackId];
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.SelectionWindowOpen.selector, stackId, endsAt));
        draws.reportSilentReplacement(stackId, ROUND, silent, c, p.proof, p.hints);
        vm.warp(endsAt + 1);
        draws.drawAttesters(stackId, c);
        assertEq(draws.topUpRound(stackId), ROUND, "public top-up armed");
        assertEq(draws.armedOf(stackId).armedAt, block.number, "on a block after the window");
        uint256 unselected = _unselectedEligible(stackId);
        Proof memory u = _proof(stackId, ROUND, unselected);
        vm.expectRevert(abi.encodeWithSelector(VrfKeyRegistry.NotSelected.selector, unselected, u.beta));
        draws.reportSilentReplacement(stackId, ROUND, unselected, c, u.proof, u.hints);
        uint256 before = nodes.getNode(silent).collateral;
        vm.prank(address(0xBEEF));
        draws.reportSilentReplacement(stackId, ROUND, silent, c, p.proof, p.hints);
        assertEq(nodes.getNode(silent).collateral, before - before * 500 / 10_000, "slashed the timeout share");
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotSilent.selector, stackId, silent));
        draws.reportSilentReplacement(stackId, ROUND, silent, c, p.proof, p.hints);
        vm.roll(block.number + 2);
        draws.drawAttesters(stackId, c);
        assertEq(attestersOf(stackId).length, 3, "one public replacement");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "it commits");
    }

    /// More selected than wanted: the lowest output keeps the one seat whatever the order of arrival; a silent
    /// selected node whose output is above the full seat's would not have sat and cannot be reported.
    function test_theLowestOutputKeepsTheSeatAndAHigherSilentOneIsNotReportable() public {
        (uint256 stackId,, Served memory s) = _replacementWith(2);
        uint256[] memory sel = _selectedEligible(stackId);
        (uint256 low, uint256 high) = _proof(stackId, ROUND, sel[0]).beta < _proof(stackId, ROUND, sel[1]).beta
            ? (sel[0], sel[1])
            : (sel[1], sel[0]);
        _seat(stackId, high, s);
        _seat(stackId, low, s);
        SettlementDraw.Selection memory round = draws.roundSelectionOf(stackId, ROUND);
        assertEq(round.nodeIds.length, 1, "one seat");
        assertEq(round.nodeIds[0], low, "the lower output sits");
        for (uint256 i = 2; i < sel.length; ++i) {
            // A third selected one: silent, and above the seat only if its output is.
            if (_proof(stackId, ROUND, sel[i]).beta > _proof(stackId, ROUND, low).beta) {
                vm.warp(round.endsAt + 1);
                Proof memory p = _proof(stackId, ROUND, sel[i]);
                vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotSilent.selector, stackId, sel[i]));
                draws.reportSilentReplacement(stackId, ROUND, sel[i], frozenCandidates[stackId], p.proof, p.hints);
            }
        }
        vm.warp(round.endsAt + 1);
        Proof memory h = _proof(stackId, ROUND, high);
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotSilent.selector, stackId, high));
        draws.reportSilentReplacement(stackId, ROUND, high, frozenCandidates[stackId], h.proof, h.hints);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        uint256[] memory ids = attestersOf(stackId);
        assertEq(ids[ids.length - 1], low, "the lowest output replaces");
    }

    // ---------------------------------------------------------------- the replacement window's data

    /// A replacement candidate that cannot fetch the transcript asks for the sampled leaves on chain in its own
    /// round's window, as a first-window candidate does (any eligible candidate may, so asking names nobody); the
    /// window stretches past the server's data deadline, the server posts the settlement's sampled requests while
    /// it still draws, and the selected replacement seats with a commitment on them; a second ask and one from a
    /// node outside the round are refused.
    function test_aReplacementCandidateAsksForTheDataAndTheSelectedSeatsOnThePostedRequests() public {
        (uint256 stackId, uint256 server, Served memory s) = _replacementWith(1);
        uint256[] memory c = frozenCandidates[stackId];
        uint256 asker = _unselectedEligible(stackId);
        uint256 member = _selectedEligible(stackId)[0];
        uint256 outsider = attestersOf(stackId)[0];
        vm.prank(vm.addr(signerKey[outsider]));
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.NotCandidate.selector, stackId, outsider));
        draws.requestSelectionData(stackId, outsider, c);
        uint64 firstEnd = draws.roundSelectionOf(stackId, ROUND).endsAt;
        vm.recordLogs();
        vm.prank(vm.addr(signerKey[asker]));
        draws.requestSelectionData(stackId, asker, c);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs[0].topics[0], SettlementDraw.SelectionDataRequested.selector, "asked");
        (,, uint256[] memory asked) = abi.decode(logs[0].data, (uint64, uint64, uint256[]));
        assertEq(keccak256(abi.encode(asked)), keccak256(abi.encode(settlement.sampledIndices(stackId))), "its sample");
        SettlementDraw.Selection memory sel = draws.roundSelectionOf(stackId, ROUND);
        assertEq(sel.dataDeadline, block.timestamp + WINDOW, "data deadline");
        assertEq(sel.endsAt, sel.dataDeadline + WINDOW, "the window runs a window past it");
        assertTrue(sel.endsAt > firstEnd, "stretched");
        assertEq(draws.selectionOf(stackId).dataDeadline, 0, "round 0 untouched");
        vm.prank(vm.addr(signerKey[asker]));
        vm.expectRevert(abi.encodeWithSelector(SettlementDraw.DataAlreadyRequested.selector, stackId));
        draws.requestSelectionData(stackId, asker, c);
        postSampled(stackId, server);
        assertTrue(settlement.getSettlement(stackId).dataPosted, "posted while drawing");
        vm.warp(firstEnd + 1);
        _seat(stackId, member, s);
        vm.warp(sel.endsAt + 1);
        draws.drawAttesters(stackId, c);
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        assertEq(list.length, 3, "the selected replacement joined");
        assertEq(list[2].nodeId, member, "it is the selected one");
        assertTrue(list[2].committed, "committed on the posted requests");
        vm.warp(settlement.getSettlement(stackId).deadline + 1);
        settlement.timeoutAttesters(stackId);
        revealAs(stackId, server, s);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Accepted, "checked and accepted");
    }

    /// A server that withholds the data asked for in a replacement window, while its own node is the selected
    /// replacement (it seats on the server's answer): the round does not take the sybil's seat; a public
    /// replacement is drawn on a later block, no selected node is slashed for a silence the server caused, and
    /// the server that keeps withholding from the public replacement is slashed in full, unpaid.
    function test_aServerWithholdingFromTheReplacementWindowIsSlashedAndItsSybilDoesNotReplace() public {
        (uint256 stackId, uint256 server, Served memory s) = _replacementWith(1);
        uint256[] memory c = frozenCandidates[stackId];
        uint256 asker = _unselectedEligible(stackId);
        uint256 sybil = _selectedEligible(stackId)[0];
        vm.prank(vm.addr(signerKey[asker]));
        draws.requestSelectionData(stackId, asker, c);
        _seat(stackId, sybil, s);
        SettlementDraw.Selection memory sel = draws.roundSelectionOf(stackId, ROUND);
        assertEq(sel.nodeIds.length, 1, "the sybil sits");
        vm.warp(sel.endsAt + 1);
        draws.drawAttesters(stackId, c);
        assertEq(attestersOf(stackId).length, 2, "the sybil's seat is not taken");
        assertEq(draws.topUpRound(stackId), ROUND, "a public replacement is armed");
        assertEq(draws.armedOf(stackId).armedAt, block.number, "on a block after the window");
        uint256[] memory selected = _selectedEligible(stackId);
        for (uint256 i = 0; i < selected.length; ++i) {
            // The sybil answered; any other selected one could not recompute: neither is silent.
            Proof memory p = _proof(stackId, ROUND, selected[i]);
            vm.expectRevert(
                selected[i] == sybil
                    ? abi.encodeWithSelector(SettlementDraw.NotSilent.selector, stackId, sybil)
                    : abi.encodeWithSelector(SettlementDraw.SelectionDataWithheld.selector, stackId)
            );
            draws.reportSilentReplacement(stackId, ROUND, selected[i], c, p.proof, p.hints);
        }
        vm.roll(block.number + 2);
        draws.drawAttesters(stackId, c);
        uint256[] memory att = attestersOf(stackId);
        assertEq(att.length, 3, "one public replacement");
        assertTrue(att[2] != sybil, "not the sybil");
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Commit, "it commits");
        declareUnavailableAs(stackId, att[2]);
        vm.warp(settlement.getSettlement(stackId).dataDeadline + 1);
        settlement.failVerification(stackId);
        assertTrue(phaseOf(stackId) == ISettlementManager.Phase.Failed, "not paid");
        assertEq(nodes.getNode(server).collateral, 0, "the withholding server is slashed in full");
    }

    /// Without private selection a replacement round stays the public draw it was.
    function test_withoutKeysReplacementsArePublic() public {
        (uint256 stackId,,) = _toReplacement("honest");
        vm.prank(admin);
        draws.setPrivateSelection(VrfKeyRegistry(address(0)), WINDOW, 4);
        vm.roll(block.number + 2);
        draws.drawAttesters(stackId, frozenCandidates[stackId]);
        assertEq(attestersOf(stackId).length, 3, "drawn in public");
    }
}
