// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDisputeSelection} from "../../src/interfaces/IDisputeManager.sol";
import {ISettlementManager} from "../../src/interfaces/ISettlementManager.sol";
import {ITaskRegistry} from "../../src/interfaces/ITaskRegistry.sol";
import {DisputeManager} from "../../src/disputes/DisputeManager.sol";
import {DisputeSelection} from "../../src/disputes/DisputeSelection.sol";
import {SettlementManager} from "../../src/settlement/SettlementManager.sol";
import {EcVrf} from "../../src/vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../../src/vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../../src/vrf/VrfSortition.sol";
import {DisputeSteps} from "./DisputeSteps.sol";

/// @notice A network of seven nodes with VRF keys from packages/core/vectors/vrfSelection.json, a DisputeSelection
/// (window WINDOW, cap 3) wired into the dispute manager, and a settlement dispute whose draw is armed on the
/// vectors' block hash, so that every member's proof is the one packages/core/vectors/vrfDispute.json holds.
abstract contract DisputeSelectionSteps is DisputeSteps {
    bytes32 internal blockHash;
    string internal keysJson;
    string internal json;
    VrfKeyRegistry internal vrfKeys;
    DisputeSelection internal selection;
    uint256 internal verifiedTask;
    /// The fixture's commit window: a committee window is never shorter (`DisputeSelection.open`).
    uint64 internal constant WINDOW = 10 minutes;

    event SelfSelectionGas(uint256 gas);

    struct Proof {
        bytes proof;
        bytes32 beta;
        EcVrf.Hints hints;
    }

    function setUpSelection() internal {
        deployAtoma();
        keysJson = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrfSelection.json"));
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrfDispute.json"));
        blockHash = vm.parseJsonBytes32(json, ".blockHash");
        for (uint256 i = 0; i < 7; ++i) {
            addNode(1);
        }
        verifiedTask = createTask(ITaskRegistry.SecurityLevel.CrossValidation, 1_000_000, 2, 2);
        for (uint256 i = 0; i < nodeIds.length; ++i) {
            subscribe(verifiedTask, nodeIds[i], PRICE);
        }
        if (registersKeysAtSetUp()) {
            for (uint256 i = 0; i < nodeIds.length; ++i) {
                _registerKey(nodeIds[i]);
            }
        }
        nextEpoch();
    }

    /// How many self-selected members the wired selection seats at most.
    function selectionCap() internal view virtual returns (uint8) {
        return 3;
    }

    /// Whether every node registers its VRF key in `setUpSelection` (a test of late keys registers them itself).
    function registersKeysAtSetUp() internal view virtual returns (bool) {
        return true;
    }

    /// The key registry and the selection (window WINDOW, cap 3), wired into the dispute manager.
    function disputeSelection() internal override returns (IDisputeSelection) {
        vrfKeys = deployVectorVrfKeys();
        selection = new DisputeSelection(disputes, vrfKeys, WINDOW, selectionCap());
        return selection;
    }

    // ---------------------------------------------------------------- helpers

    function _pair(string memory source, string memory key) internal view returns (uint256[2] memory point) {
        uint256[] memory values = vm.parseJsonUintArray(source, key);
        point = [values[0], values[1]];
    }

    function _read(string memory source, string memory key) internal view returns (Proof memory p) {
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

    /// Node `nodeId`'s proof on the seed of dispute `disputeId` (as the vectors' armed block gives it).
    function _proof(uint256 disputeId, uint256 nodeId) internal view returns (Proof memory) {
        return
            _read(
                json, string.concat(".disputes[", vm.toString(disputeId - 1), "].proofs[", vm.toString(nodeId - 1), "]")
            );
    }

    /// A settlement dispute (the server settled outputs its attesters did not compute), its seed block's hash the
    /// vectors', and its selection window open.
    function _openDispute() internal returns (uint256 disputeId, uint256 server) {
        (disputeId, server,,) = _openDisputeOf();
    }

    /// As `_openDispute`, with the stack and what the server settled (the evidence is posted before the window).
    function _openDisputeOf()
        internal
        returns (uint256 disputeId, uint256 server, uint256 stackId, Served memory claimed)
    {
        (disputeId, server, stackId, claimed) = _dispute();
        postEvidence(disputeId, stackId, server, claimed);
        _seedBlock(disputeId);
        vm.roll(block.number + 1);
        selection.open(disputeId);
    }

    /// The completed evidence armed the draw: mines the block after it (the seed block) with the vectors' hash.
    function _seedBlock(uint256 disputeId) internal {
        uint256 seedBlock = disputes.getDispute(disputeId).drawBlock + 1;
        if (block.number < seedBlock) vm.roll(seedBlock);
        vm.setBlockhash(seedBlock, blockHash);
    }

    /// A settlement dispute (the server settled outputs its attesters did not compute), its draw armed, the block
    /// after (the seed block) mined with the vectors' hash, before its evidence is posted.
    function _dispute() internal returns (uint256 disputeId, uint256 server, uint256 stackId, Served memory claimed) {
        (stackId, server) = buy(verifiedTask, 1_000_000);
        claimed = serve(stackId, 4, "cheat", 1_000_000);
        settleAs(stackId, server, claimed.root, 1_000_000, 4);
        Served memory honest = serve(stackId, 4, "honest", 1_000_000);
        uint256[] memory idx = settlement.sampledIndices(stackId);
        SettlementManager.Attester[] memory list = settlement.attestersOf(stackId);
        for (uint256 i = 0; i < list.length; ++i) {
            commitResult(stackId, list[i].nodeId, resultOf(idx, honest));
        }
        vm.prank(vm.addr(signerKey[server]));
        settlement.reveal(stackId, revealOf(idx, claimed));
        beforeDisputeOpens(stackId, server);
        openAttestations(stackId);
        assertTrue(settlement.getSettlement(stackId).phase == ISettlementManager.Phase.Disputed, "disputed");
        disputeId = disputes.disputeCount();
        uint256 seedBlock = disputes.getDispute(disputeId).drawBlock + 1;
        if (block.number < seedBlock) vm.roll(seedBlock);
        vm.setBlockhash(seedBlock, blockHash);
    }

    /// Called just before the attesters open and the dispute (its candidates frozen) is created.
    function beforeDisputeOpens(uint256 stackId, uint256 server) internal virtual {}

    function _candidates(uint256 disputeId) internal view returns (uint64[] memory) {
        return disputes.candidatesOf(disputeId);
    }

    function _selected(uint256 disputeId, uint256 nodeId) internal view returns (bool) {
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        return VrfSortition.isSelected(_proof(disputeId, nodeId).beta, sel.numerator, sel.denominator);
    }

    /// The frozen candidates whose VRF output falls under the dispute's threshold.
    function _selectedCandidates(uint256 disputeId) internal view returns (uint256[] memory ids) {
        uint64[] memory c = _candidates(disputeId);
        ids = new uint256[](c.length);
        uint256 n;
        for (uint256 i = 0; i < c.length; ++i) {
            if (_selected(disputeId, c[i])) ids[n++] = c[i];
        }
        assembly ("memory-safe") {
            mstore(ids, n)
        }
    }

    function _isParty(uint256 disputeId, uint256 nodeId) internal view returns (bool) {
        DisputeManager.Party[] memory parties = disputes.partiesOf(disputeId);
        for (uint256 i = 0; i < parties.length; ++i) {
            if (parties[i].nodeId == nodeId) return true;
        }
        return false;
    }

    function _find(uint256 disputeId, bool wantSelected) internal view returns (uint256) {
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length; ++i) {
            if (_selected(disputeId, c[i]) == wantSelected) return c[i];
        }
        return 0;
    }

    /// Two selected candidates of dispute `disputeId`, the one with the lower VRF output first.
    function _twoSelected(uint256 disputeId) internal view returns (uint256 low, uint256 high) {
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length && high == 0; ++i) {
            if (!_selected(disputeId, c[i])) continue;
            if (low == 0) low = c[i];
            else high = c[i];
        }
        assertTrue(high != 0, "two selected on dispute 1");
        if (_proof(disputeId, low).beta > _proof(disputeId, high).beta) (low, high) = (high, low);
    }

    function _sit(uint256 disputeId, uint256 nodeId, Proof memory p, bytes32 commitment) internal {
        vm.prank(vm.addr(signerKey[nodeId]));
        selection.selfSelect(disputeId, nodeId, p.proof, p.hints, commitment);
    }

    /// Calls `drawCommittee` as nodes do, two blocks apart, until the committee sits (at most four calls: the
    /// selection's fallback arms the public draw first).
    function drawUntilSeated(uint256 disputeId) internal {
        for (uint256 i = 0; i < 4 && !disputes.getDispute(disputeId).drawn; ++i) {
            vm.roll(block.number + 2);
            disputes.drawCommittee(disputeId);
        }
    }
}
