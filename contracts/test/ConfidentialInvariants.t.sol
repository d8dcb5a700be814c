// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRegistry} from "../src/confidential/AttestationRegistry.sol";
import {ISettlementManager} from "../src/interfaces/ISettlementManager.sol";
import {IStackManager} from "../src/interfaces/IStackManager.sol";
import {StackManager} from "../src/stacks/StackManager.sol";
import {ConfidentialSteps} from "./lib/ConfidentialSteps.sol";
import {TestBase} from "./lib/TestBase.sol";

/// @notice Drives a confidential task at random: nodes re-attest (current, unallowed, dev, short-lived), time
/// passes, governance withdraws and restores the measurement and the dev flag, users buy stacks (drawn and from a
/// node), keepers drop subscriptions, nodes settle. It checks every admission against the raw records itself.
contract ConfidentialHandler is ConfidentialSteps {
    uint256 public violations;
    uint256 public opened;
    uint256 public dropped;
    uint256 public settledCount;
    uint256[] internal _stacks;
    uint256[] internal _settled;

    constructor() {
        deployConfidential();
        for (uint256 i = 0; i < 4; ++i) confidentialNode();
        nextEpoch();
    }

    /// Whether the node may serve now, read from the raw record and the allow-list, not from the registry's logic.
    function admitted(uint256 nodeId) public view returns (bool) {
        AttestationRegistry.Attestation memory r = attestations.attestationOf(nodeId);
        if (r.kind == AttestationRegistry.Kind.None || block.timestamp >= r.expiresAt) return false;
        if (
            !attestations.taskMeasurementAllowed(confidential, r.measurement)
                && !attestations.modelMeasurementAllowed(MODEL, r.measurement)
        ) return false;
        return r.kind == AttestationRegistry.Kind.Tdx || attestations.devNetwork()
            || attestations.devAllowedFor(confidential);
    }

    function _node(uint256 seed) internal view returns (uint256) {
        return nodeIds[seed % nodeIds.length];
    }

    function reattest(uint256 seed, uint8 mode, uint64 validity) external {
        uint256 nodeId = _node(seed);
        AttestationRegistry.Kind kind = mode % 3 == 0 ? AttestationRegistry.Kind.Dev : AttestationRegistry.Kind.Tdx;
        bytes32 measurement = mode % 3 == 1 ? OTHER : GOOD;
        attest(nodeId, kind, measurement, uint64(bound(validity, 1, 2 days)));
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 0, 12 hours));
        vm.roll(block.number + 1);
    }

    function govern(bool measurement, bool dev) external {
        vm.startPrank(admin);
        attestations.setTaskMeasurement(confidential, GOOD, measurement);
        attestations.setDevAllowed(confidential, dev);
        vm.stopPrank();
    }

    function subscribeAgain(uint256 seed) external {
        uint256 nodeId = _node(seed);
        vm.prank(operatorOf[nodeId]);
        try tasks.subscribe(confidential, nodeId, PRICE, 1e12, SUB_COLLATERAL) {
            if (!admitted(nodeId)) ++violations;
        } catch {}
    }

    function buy(uint256 seed, bool fromNode) external {
        if (fromNode) {
            uint256 nodeId = _node(seed);
            vm.prank(user);
            try stacks.buyStackFromNode(confidential, nodeId, 1_000, type(uint128).max, 1 days) returns (uint256 id) {
                _opened(id, nodeId);
            } catch {}
            return;
        }
        vm.prank(user);
        try stacks.buyStack(confidential, 1_000, type(uint128).max, 1 days) returns (
            uint256 id, StackManager.Candidate[] memory candidates
        ) {
            for (uint256 i = 0; i < candidates.length; ++i) {
                if (!admitted(candidates[i].nodeId)) ++violations;
            }
            vm.roll(block.number + 1);
            uint256 nodeId = stacks.drawNode(id, candidates);
            if (nodeId != 0) _opened(id, nodeId);
        } catch {}
    }

    function _opened(uint256 stackId, uint256 nodeId) internal {
        if (!admitted(nodeId)) ++violations;
        ++opened;
        _stacks.push(stackId);
    }

    function drop(uint256 seed) external {
        uint256 nodeId = _node(seed);
        bool wasAdmitted = admitted(nodeId);
        try tasks.dropUnattestedAll(nodeId) {
            if (wasAdmitted) ++violations;
            ++dropped;
        } catch {}
    }

    function settle(uint256 seed) external {
        if (_stacks.length == 0) return;
        uint256 stackId = _stacks[seed % _stacks.length];
        IStackManager.Stack memory stack = stacks.getStack(stackId);
        if (stack.status != IStackManager.StackStatus.Active) return;
        Served memory s = serve(stackId, 3, bytes32(seed));
        vm.prank(vm.addr(signerKey[stack.nodeId]));
        try settlement.settle(stackId, s.root, s.units, 3, bytes32(0)) {
            ++settledCount;
            _settled.push(stackId);
        } catch {}
    }

    function settledStacks() external view returns (uint256[] memory) {
        return _settled;
    }

    function contracts() external view returns (address, address) {
        return (address(settlement), address(draws));
    }
}

interface ISettlementView {
    function getSettlement(uint256 stackId) external view returns (ISettlementManager.Settlement memory);
    function attesterIdsOf(uint256 stackId) external view returns (uint256[] memory);
}

contract ConfidentialInvariantsTest is TestBase {
    ConfidentialHandler internal handler;

    function setUp() public {
        handler = new ConfidentialHandler();
        targetContract(address(handler));
    }

    /// No node subscribed, was frozen as a candidate or was bound to a confidential stack without a current,
    /// allowed attestation at that moment; no keeper dropped a node that was admitted.
    function invariant_noConfidentialWorkWithoutACurrentAllowedAttestation() public view {
        assertEq(handler.violations(), 0, "admissions without an attestation");
    }

    /// No confidential settlement is ever sampled: no attester draw armed, no attester, accepted at once.
    function invariant_noConfidentialStackIsEverSampled() public view {
        (address settlementAddress,) = handler.contracts();
        ISettlementView settlement = ISettlementView(settlementAddress);
        uint256[] memory settled = handler.settledStacks();
        for (uint256 i = 0; i < settled.length; ++i) {
            ISettlementManager.Phase phase = settlement.getSettlement(settled[i]).phase;
            assertTrue(
                phase == ISettlementManager.Phase.Accepted || phase == ISettlementManager.Phase.Finalized,
                "accepted without sampling"
            );
            assertEq(settlement.attesterIdsOf(settled[i]).length, 0, "no attesters");
        }
    }
}

/// @notice The handler must reach purchases, drops and settlements, or the invariants prove little.
contract ConfidentialHandlerReachTest is TestBase {
    function test_handlerReachesPurchasesDropsAndSettlements() public {
        ConfidentialHandler handler = new ConfidentialHandler();
        for (uint256 step = 0; step < 300; ++step) {
            uint256 r = uint256(keccak256(abi.encode("confidential", step)));
            uint256 action = r % 8;
            if (action == 0) handler.reattest(r >> 8, uint8(r >> 16), uint64(r >> 24));
            else if (action == 1) handler.warp(r >> 8);
            else if (action == 2 && (r >> 8) % 4 == 0) handler.govern((r >> 9) % 3 != 0, (r >> 10) % 2 == 0);
            else if (action == 3) handler.subscribeAgain(r >> 8);
            else if (action == 4 || action == 5) handler.buy(r >> 8, (r >> 9) % 2 == 0);
            else if (action == 6) handler.drop(r >> 8);
            else handler.settle(r >> 8);
        }
        assertEq(handler.violations(), 0, "no violation");
        assertGe(handler.opened(), 10, "stacks opened");
        assertGe(handler.dropped(), 1, "subscriptions dropped");
        assertGe(handler.settledCount(), 3, "settlements");
    }
}
