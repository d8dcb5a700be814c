// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AttestationRecord} from "../src/common/AttestationRecord.sol";
import {TestBase} from "./lib/TestBase.sol";

/// @notice The attestation record encodings against the shared vectors of the core package
/// (packages/core/vectors/attestation.json): the allow-list entry governance records and the hash a client
/// computes from the evidence it fetched are the same bytes.
contract AttestationVectorsTest is TestBase {
    string internal json;

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/attestation.json"));
    }

    function _at(string memory list, uint256 i, string memory field) internal pure returns (string memory) {
        return string.concat(".", list, "[", vm.toString(i), "].", field);
    }

    function test_measurementHashesMatchTheSharedVectors() public view {
        uint256 checked;
        string[5] memory names = ["mrTd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"];
        for (uint256 i = 0; vm.keyExistsJson(json, _at("measurements", i, "hash")); ++i) {
            bytes[5] memory registers;
            for (uint256 r = 0; r < 5; ++r) {
                registers[r] = vm.parseJsonBytes(json, _at("measurements", i, string.concat("registers.", names[r])));
            }
            uint8 kind = uint8(vm.parseJsonUint(json, _at("measurements", i, "kindId")));
            assertEq(
                AttestationRecord.measurementHash(kind, registers),
                vm.parseJsonBytes32(json, _at("measurements", i, "hash")),
                "measurement"
            );
            // Another kind over the same registers is another measurement.
            assertTrue(
                AttestationRecord.measurementHash(kind == 1 ? 2 : 1, registers)
                    != vm.parseJsonBytes32(json, _at("measurements", i, "hash")),
                "kind bound"
            );
            ++checked;
        }
        assertEq(checked, 4, "every measurement vector");
    }

    function test_evidenceHashesMatchTheSharedVectors() public view {
        uint256 checked;
        for (uint256 i = 0; vm.keyExistsJson(json, _at("evidence", i, "hash")); ++i) {
            assertEq(
                AttestationRecord.evidenceHash(
                    uint8(vm.parseJsonUint(json, _at("evidence", i, "kindId"))),
                    vm.parseJsonBytes(json, _at("evidence", i, "quote"))
                ),
                vm.parseJsonBytes32(json, _at("evidence", i, "hash")),
                "evidence"
            );
            ++checked;
        }
        assertEq(checked, 4, "every evidence vector");
    }

    function test_aRegisterOfTheWrongSizeIsRefused() public {
        bytes[5] memory registers;
        for (uint256 r = 0; r < 5; ++r) registers[r] = new bytes(48);
        registers[3] = new bytes(47);
        vm.expectRevert(abi.encodeWithSelector(AttestationRecord.InvalidRegister.selector, 47));
        this.hashOf(registers);
    }

    function hashOf(bytes[5] memory registers) external pure returns (bytes32) {
        return AttestationRecord.measurementHash(1, registers);
    }
}
