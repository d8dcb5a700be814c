// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DisputeManager} from "../../src/disputes/DisputeManager.sol";
import {DisputeSelection} from "../../src/disputes/DisputeSelection.sol";
import {VrfSortition} from "../../src/vrf/VrfSortition.sol";
import {DisputeSelectionSteps} from "./DisputeSelectionSteps.sol";

/// @notice Steps of a dispute whose first draw round fails and whose second round selects in private: round 1's seed
/// block is mined with the vectors' `roundBlockHash`, so every proof on its window is the one
/// packages/core/vectors/vrfDispute.json holds under `rounds`.
abstract contract DisputeRoundSteps is DisputeSelectionSteps {
    uint256 internal constant HORIZON = 256;

    /// Node `nodeId`'s proof on round 1's window of dispute `disputeId` (disputes 1 and 2 in the vectors).
    function _roundProof(uint256 disputeId, uint256 nodeId) internal view returns (Proof memory) {
        return
            _read(
                json, string.concat(".rounds[", vm.toString(disputeId - 1), "].proofs[", vm.toString(nodeId - 1), "]")
            );
    }

    /// Whether the current window (round 1 once it opened) selects `nodeId` on its round-1 proof.
    function _roundSelected(uint256 disputeId, uint256 nodeId) internal view returns (bool) {
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        return VrfSortition.isSelected(_roundProof(disputeId, nodeId).beta, sel.numerator, sel.denominator);
    }

    /// A round-1 candidate that round 1 selects (`want`) or not, 0 if none; `skip` is never returned.
    function _findInRound(uint256 disputeId, bool want, uint256 skip) internal view returns (uint256) {
        uint64[] memory c = _candidates(disputeId);
        for (uint256 i = 0; i < c.length; ++i) {
            if (c[i] != skip && _roundSelected(disputeId, c[i]) == want) return c[i];
        }
        return 0;
    }

    /// Lets round 0 fail the way a server that keeps every keeper away makes it fail: the window closes (or never
    /// opens), each seed that follows expires unread, and the round ends without a committee.
    function _waitOutRoundZero(uint256 disputeId) internal {
        DisputeSelection.Selection memory sel = selection.selectionOf(disputeId);
        if (sel.endsAt != 0 && block.timestamp <= sel.endsAt) vm.warp(sel.endsAt + 1);
        for (uint256 i = 0; i < 6 && disputes.getDispute(disputeId).drawRound == 0; ++i) {
            vm.roll(uint256(disputes.getDispute(disputeId).drawBlock) + 2 + HORIZON);
            disputes.drawCommittee(disputeId);
        }
        DisputeManager.Dispute memory d = disputes.getDispute(disputeId);
        assertEq(d.drawRound, 1, "round 0 failed");
        assertTrue(!d.drawn && d.status == DisputeManager.Status.Open, "to be drawn again");
    }

    /// After `redrawDelay`: snapshots and arms round 1 (block `armed`), mines its seed block with the vectors' round
    /// hash, and opens round 1's window through the manager, as a node moving the dispute on does.
    function _armRoundOne(uint256 disputeId) internal returns (uint256 armed) {
        vm.warp(disputes.getDispute(disputeId).drawNotBefore);
        disputes.drawCommittee(disputeId);
        armed = disputes.getDispute(disputeId).drawBlock;
        assertEq(armed, block.number, "round 1 armed");
    }

    function _openRoundOne(uint256 disputeId, uint256 armed) internal {
        vm.roll(armed + 2);
        vm.setBlockhash(armed + 1, vm.parseJsonBytes32(json, ".roundBlockHash"));
        disputes.drawCommittee(disputeId);
    }

    function _sitInRound(uint256 disputeId, uint256 nodeId, bytes32 commitment) internal {
        _sit(disputeId, nodeId, _roundProof(disputeId, nodeId), commitment);
    }
}
