// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VrfHarness} from "../src/test/VrfHarness.sol";
import {EcVrf} from "../src/vrf/EcVrf.sol";
import {VrfSortition} from "../src/vrf/VrfSortition.sol";
import {TestBase} from "./lib/TestBase.sol";

/// @notice EcVrf against the shared vectors of @atoma/core (packages/core/vectors/vrf.json) and against forgeries:
/// proofs for another key or seed, swapped outputs, forged hints, points off the curve, non-canonical encodings.
contract VrfTest is TestBase {
    string internal json;
    VrfHarness internal harness;

    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    struct Case {
        bytes publicKey;
        uint256[2] publicKeyPoint;
        bytes alpha;
        bytes proof;
        EcVrf.Hints hints;
    }

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrf.json"));
        harness = new VrfHarness();
    }

    function _key(string memory prefix, uint256 index, string memory suffix) internal pure returns (string memory) {
        return string.concat(prefix, "[", vm.toString(index), "]", suffix);
    }

    function _pair(string memory key) internal view returns (uint256[2] memory point) {
        uint256[] memory values = vm.parseJsonUintArray(json, key);
        point = [values[0], values[1]];
    }

    function _case(string memory prefix, uint256 i) internal view returns (Case memory c) {
        c.publicKey = vm.parseJsonBytes(json, _key(prefix, i, ".publicKey"));
        c.publicKeyPoint = _pair(_key(prefix, i, ".publicKeyPoint"));
        c.alpha = vm.parseJsonBytes(json, _key(prefix, i, ".alpha"));
        c.proof = vm.parseJsonBytes(json, _key(prefix, i, ".proof"));
        c.hints = EcVrf.Hints({
            u: _pair(_key(prefix, i, ".u")),
            sH: _pair(_key(prefix, i, ".sH")),
            cGamma: _pair(_key(prefix, i, ".cGamma"))
        });
    }

    function test_vectorsVerify() public view {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".proofs", i, "")); ++i) {
            Case memory c = _case(".proofs", i);
            bytes32 beta = vm.parseJsonBytes32(json, _key(".proofs", i, ".beta"));
            assertEq(harness.verify(c.publicKey, c.alpha, c.proof, c.hints), beta, "beta");
            assertEq(harness.proofToHash(c.proof), beta, "proofToHash");
            (uint256 x, uint256 y) = harness.decodePoint(c.publicKey);
            assertEq(x, c.publicKeyPoint[0], "x");
            assertEq(y, c.publicKeyPoint[1], "y");
            ++count;
        }
        assertEq(count, 5, "vector count");
    }

    /// The figure `npm run bench -- vrf` reports as gas_vrf_verify, held under a ceiling here.
    function test_verifyGas() public view {
        Case memory c = _case(".proofs", 2);
        (, uint256 gasUsed) = harness.measureVerify(c.publicKeyPoint, c.alpha, c.proof, c.hints);
        assertLe(gasUsed, 60_000, "verification gas");
        assertGe(gasUsed, 10_000, "verification gas implausibly low");
    }

    function test_forgeriesWithTrueHintsFailTheChallenge() public {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".forgeries", i, "")); ++i) {
            Case memory c = _case(".forgeries", i);
            vm.expectRevert(EcVrf.VrfProofInvalid.selector);
            harness.verify(c.publicKey, c.alpha, c.proof, c.hints);
            ++count;
        }
        assertEq(count, 3, "forgery count");
    }

    function test_proofForAnotherSeedFailsOnItsHints() public {
        Case memory c = _case(".proofs", 2);
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfHintMismatch.selector, 1));
        harness.verify(c.publicKey, bytes("another seed"), c.proof, c.hints);
    }

    function test_proofUnderAnotherKeyFailsOnItsHints() public {
        Case memory c = _case(".proofs", 2);
        Case memory other = _case(".proofs", 3);
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfHintMismatch.selector, 0));
        harness.verify(other.publicKey, c.alpha, c.proof, c.hints);
    }

    function test_forgedHintsAreRefused() public {
        Case memory c = _case(".proofs", 0);
        EcVrf.Hints memory h = c.hints;
        h.u[1] = P - h.u[1];
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfHintMismatch.selector, 0));
        harness.verify(c.publicKey, c.alpha, c.proof, h);
        h = _case(".proofs", 0).hints;
        h.sH = h.cGamma;
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfHintMismatch.selector, 1));
        harness.verify(c.publicKey, c.alpha, c.proof, h);
        h = _case(".proofs", 0).hints;
        h.cGamma[0] += 1;
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfHintMismatch.selector, 2));
        harness.verify(c.publicKey, c.alpha, c.proof, h);
    }

    function test_pointsOffTheCurveAreRefused() public {
        Case memory c = _case(".proofs", 0);
        // x = 5: 5³ + 7 is not a square mod p.
        bytes memory offCurve = abi.encodePacked(bytes1(0x02), bytes32(uint256(5)));
        vm.expectRevert();
        harness.decodePoint(offCurve);
        vm.expectRevert();
        harness.verify(offCurve, c.alpha, c.proof, c.hints);
        uint256[2] memory bent = [c.publicKeyPoint[0], c.publicKeyPoint[1] + 1];
        vm.expectRevert(abi.encodeWithSelector(EcVrf.VrfNotOnCurve.selector, bent[0], bent[1]));
        harness.measureVerify(bent, c.alpha, c.proof, c.hints);
        bytes memory gammaOff = bytes.concat(offCurve, _slice(c.proof, 33, 81));
        vm.expectRevert();
        harness.proofToHash(gammaOff);
    }

    function test_nonCanonicalEncodingsAreRefused() public {
        Case memory c = _case(".proofs", 0);
        vm.expectRevert(EcVrf.VrfBadEncoding.selector);
        harness.decodePoint(bytes.concat(bytes1(0x04), _slice(c.publicKey, 1, 33)));
        vm.expectRevert(EcVrf.VrfBadEncoding.selector);
        harness.decodePoint(abi.encodePacked(bytes1(0x02), bytes32(P)));
        vm.expectRevert(EcVrf.VrfBadEncoding.selector);
        harness.decodePoint(bytes.concat(c.publicKey, bytes1(0)));
        vm.expectRevert(EcVrf.VrfBadEncoding.selector);
        harness.proofToHash(bytes.concat(c.proof, bytes1(0)));
        vm.expectRevert(EcVrf.VrfBadEncoding.selector);
        harness.proofToHash(_slice(c.proof, 0, 80));

        bytes memory head = _slice(c.proof, 0, 49);
        uint256 s = uint256(bytes32(_slice(c.proof, 49, 81)));
        if (s <= type(uint256).max - N) {
            vm.expectRevert(EcVrf.VrfBadScalar.selector);
            harness.verify(c.publicKey, c.alpha, bytes.concat(head, bytes32(s + N)), c.hints);
        }
        vm.expectRevert(EcVrf.VrfBadScalar.selector);
        harness.proofToHash(bytes.concat(head, bytes32(0)));
        vm.expectRevert(EcVrf.VrfBadScalar.selector);
        harness.proofToHash(bytes.concat(_slice(c.proof, 0, 33), bytes16(0), bytes32(s)));
    }

    function testFuzz_anyChangedProofByteIsRefused(uint256 index, uint8 mask) public {
        Case memory c = _case(".proofs", 2);
        index = bound(index, 0, 80);
        if (mask == 0) mask = 1;
        c.proof[index] = bytes1(uint8(c.proof[index]) ^ mask);
        vm.expectRevert();
        harness.verify(c.publicKey, c.alpha, c.proof, c.hints);
    }

    function testFuzz_anyOtherSeedIsRefused(bytes memory alpha) public {
        Case memory c = _case(".proofs", 2);
        vm.assume(keccak256(alpha) != keccak256(c.alpha));
        vm.expectRevert();
        harness.verify(c.publicKey, alpha, c.proof, c.hints);
    }

    function testFuzz_decodedPointsAreOnTheCurve(uint256 x, bool odd) public view {
        bytes memory encoded = abi.encodePacked(bytes1(odd ? 0x03 : 0x02), bytes32(x));
        try harness.decodePoint(encoded) returns (uint256 px, uint256 py) {
            assertEq(px, x, "x");
            assertEq(py & 1, odd ? 1 : 0, "parity");
            assertEq(mulmod(py, py, P), addmod(mulmod(mulmod(x, x, P), x, P), 7, P), "on curve");
        } catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            assertTrue(
                selector == EcVrf.VrfBadEncoding.selector || selector == EcVrf.VrfNotOnCurve.selector, "named error"
            );
        }
    }

    function _slice(bytes memory data, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        out = new bytes(to - from);
        for (uint256 i = from; i < to; ++i) {
            out[i - from] = data[i];
        }
    }
}

/// @notice VrfSortition against the same vectors: seeds and the threshold test, including its edges.
contract VrfSortitionTest is TestBase {
    string internal json;

    function setUp() public {
        json = vm.readFile(string.concat(vm.projectRoot(), "/../packages/core/vectors/vrf.json"));
    }

    function _key(string memory prefix, uint256 index, string memory suffix) internal pure returns (string memory) {
        return string.concat(prefix, "[", vm.toString(index), "]", suffix);
    }

    function test_seedVectors() public view {
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".seeds", i, "")); ++i) {
            bytes32 seed = VrfSortition.seed(
                vm.parseJsonString(json, _key(".seeds", i, ".purpose")),
                vm.parseJsonBytes32(json, _key(".seeds", i, ".settlementId")),
                vm.parseJsonBytes32(json, _key(".seeds", i, ".laterBlockHash"))
            );
            assertEq(seed, vm.parseJsonBytes32(json, _key(".seeds", i, ".seed")), "seed");
            ++count;
        }
        assertEq(count, 2, "seed count");
    }

    function test_selectionVectors() public view {
        uint256 selected;
        uint256 count;
        for (uint256 i = 0; vm.keyExistsJson(json, _key(".selections", i, "")); ++i) {
            bool expected = vm.parseJsonUint(json, _key(".selections", i, ".selected")) == 1;
            bool got = VrfSortition.isSelected(
                vm.parseJsonBytes32(json, _key(".selections", i, ".beta")),
                vm.parseJsonUint(json, _key(".selections", i, ".numerator")),
                vm.parseJsonUint(json, _key(".selections", i, ".denominator"))
            );
            assertTrue(got == expected, string.concat("selection ", vm.toString(i)));
            if (got) ++selected;
            ++count;
        }
        assertEq(count, 45, "selection count");
        assertGe(selected, 5, "too few selections to test anything");
    }

    /// β < 2^256·num/den exactly, checked against the division-free test for any output and fraction.
    function testFuzz_selectionMatchesTheFraction(bytes32 beta, uint256 numerator, uint256 denominator) public pure {
        denominator = bound(denominator, 1, type(uint128).max);
        numerator = bound(numerator, 0, denominator);
        bool got = VrfSortition.isSelected(beta, numerator, denominator);
        uint256 b = uint256(beta);
        // b < 2^256·num/den ⟺ the high word of b·den is below num; the reference computes that word in 128-bit halves.
        uint256 bHigh = b >> 128;
        uint256 bLow = b & type(uint128).max;
        uint256 lowProduct = bLow * denominator; // < 2^256
        uint256 highProduct = bHigh * denominator; // < 2^256
        uint256 carry = lowProduct >> 128;
        uint256 top = (highProduct + carry) >> 128; // the high 256-bit word of b·den
        assertTrue(got == (top < numerator), "division-free test");
    }
}
