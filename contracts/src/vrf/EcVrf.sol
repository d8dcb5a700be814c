// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Verifier of ECVRF proofs on secp256k1 with SHA-256 and try-and-increment hash-to-curve (the RFC 9381
/// layout with suite byte 0xFE), matching packages/core/src/vrf/ecvrf.ts. A proof is Gamma (33 bytes compressed)
/// || c (16) || s (32).
/// @dev The EVM has no secp256k1 multiplication, so the prover hands in the products the check needs (U = s·G − c·Y,
/// s·H, c·Gamma) as hints, and each hint is checked with one ecrecover: ecrecover(e, v, r, σ) returns the address
/// of r⁻¹·(σ·R − e·G), where R is the point with x = r and y parity v. With R = Y, σ = −c·Yx and e = −s·Yx it is the
/// address of s·G − c·Y; with e = 0 and σ = k·Px it is the address of k·P. A hint whose address matches is the true
/// point unless keccak-160 collides. V = s·H − c·Gamma is then one affine addition. ecrecover cannot take R with
/// x ≥ n: a key, H or Gamma like that is refused (probability about 2^-128 for honest ones).
library EcVrf {
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes1 internal constant SUITE = 0xfe;
    uint256 internal constant PROOF_BYTES = 81;
    /// (P + 1) / 4: a^SQRT_EXP is a square root of a whenever one exists, since P ≡ 3 (mod 4).
    uint256 private constant SQRT_EXP = 0x3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFBFFFFF0C;

    /// Products the verifier checks instead of computing, as affine (x, y).
    struct Hints {
        uint256[2] u;
        uint256[2] sH;
        uint256[2] cGamma;
    }

    /// Not a 33-byte compressed SEC1 point (prefix 0x02/0x03, x < p), or a proof that is not 81 bytes.
    error VrfBadEncoding();
    /// The coordinates name no point of secp256k1.
    error VrfNotOnCurve(uint256 x, uint256 y);
    /// A proof scalar outside its range: c = 0, or s = 0 or s ≥ n.
    error VrfBadScalar();
    /// A point whose x is ≥ n, which the ecrecover check cannot take.
    error VrfUnsupportedPoint(uint256 x);
    /// Hint `which` (0: U, 1: s·H, 2: c·Gamma) is not the product it claims to be.
    error VrfHintMismatch(uint256 which);
    /// The proof's challenge does not match: it does not prove an output for this key and input.
    error VrfProofInvalid();

    /// The point of a 33-byte compressed encoding, refusing every non-canonical one.
    function decodePoint(bytes memory encoded) internal view returns (uint256 x, uint256 y) {
        if (encoded.length != 33) revert VrfBadEncoding();
        return _decompress(encoded, 0);
    }

    /// The 32-byte output of a proof (without verifying it).
    function proofToHash(bytes memory proof) internal view returns (bytes32) {
        (uint256 gx, uint256 gy,,) = decodeProof(proof);
        return _gammaToHash(gx, gy);
    }

    function decodeProof(bytes memory proof) internal view returns (uint256 gx, uint256 gy, uint256 c, uint256 s) {
        if (proof.length != PROOF_BYTES) revert VrfBadEncoding();
        (gx, gy) = _decompress(proof, 0);
        assembly ("memory-safe") {
            c := shr(128, mload(add(proof, 65)))
            s := mload(add(proof, 81))
        }
        if (c == 0 || s == 0 || s >= N) revert VrfBadScalar();
    }

    /// The output `beta` that `proof` proves for `publicKey` (affine) on `alpha`; reverts unless the proof verifies.
    function verify(uint256[2] memory publicKey, bytes memory alpha, bytes memory proof, Hints memory hints)
        internal
        view
        returns (bytes32 beta)
    {
        _requireOnCurve(publicKey[0], publicKey[1]);
        uint256[4] memory decoded; // Gamma x, Gamma y, c, s
        (decoded[0], decoded[1], decoded[2], decoded[3]) = decodeProof(proof);
        bytes memory pk = _compress(publicKey[0], publicKey[1]);
        uint256[2] memory h;
        (h[0], h[1]) = encodeToCurve(pk, alpha);
        _checkHints(publicKey, h, decoded, hints);
        if (_challenge(pk, h, decoded, hints) != decoded[2]) revert VrfProofInvalid();
        return _gammaToHash(decoded[0], decoded[1]);
    }

    /// Each hint against its ecrecover-computed address: U = s·G − c·Y, s·H, c·Gamma.
    function _checkHints(uint256[2] memory y, uint256[2] memory h, uint256[4] memory decoded, Hints memory hints)
        private
        pure
    {
        if (y[0] >= N) revert VrfUnsupportedPoint(y[0]);
        address u = ecrecover(
            bytes32(N - mulmod(decoded[3], y[0], N)),
            _parity(y[1]),
            bytes32(y[0]),
            bytes32(N - mulmod(decoded[2], y[0], N))
        );
        if (u == address(0) || u != _address(hints.u)) revert VrfHintMismatch(0);
        if (_mulAddress(decoded[3], h[0], h[1]) != _address(hints.sH)) revert VrfHintMismatch(1);
        if (_mulAddress(decoded[2], decoded[0], decoded[1]) != _address(hints.cGamma)) revert VrfHintMismatch(2);
    }

    /// ECVRF_challenge_generation over Y, H, Gamma, U and V = s·H − c·Gamma: the top 16 bytes of the SHA-256.
    function _challenge(bytes memory pk, uint256[2] memory h, uint256[4] memory decoded, Hints memory hints)
        private
        view
        returns (uint256)
    {
        (uint256 vx, uint256 vy) = _subtract(hints.sH, hints.cGamma);
        bytes memory points = bytes.concat(
            pk,
            _compress(h[0], h[1]),
            _compress(decoded[0], decoded[1]),
            _compress(hints.u[0], hints.u[1]),
            _compress(vx, vy)
        );
        return uint256(sha256(abi.encodePacked(SUITE, bytes1(0x02), points, bytes1(0x00)))) >> 128;
    }

    /// ECVRF_encode_to_curve_try_and_increment, salted with the compressed public key.
    function encodeToCurve(bytes memory pk, bytes memory alpha) internal view returns (uint256 x, uint256 y) {
        for (uint256 ctr = 0; ctr < 256; ++ctr) {
            x = uint256(sha256(abi.encodePacked(SUITE, bytes1(0x01), pk, alpha, uint8(ctr), bytes1(0x00))));
            if (x >= P) continue;
            uint256 a = addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
            y = _expmod(a, SQRT_EXP);
            if (mulmod(y, y, P) != a) continue;
            if (y & 1 == 1) y = P - y;
            return (x, y);
        }
        // 256 misses in a row: probability 2^-256.
        revert VrfProofInvalid();
    }

    function _decompress(bytes memory data, uint256 offset) private view returns (uint256 x, uint256 y) {
        uint8 prefix = uint8(data[offset]);
        if (prefix != 2 && prefix != 3) revert VrfBadEncoding();
        assembly ("memory-safe") {
            x := mload(add(add(data, 33), offset))
        }
        if (x >= P) revert VrfBadEncoding();
        uint256 a = addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
        y = _expmod(a, SQRT_EXP);
        if (mulmod(y, y, P) != a) revert VrfNotOnCurve(x, y);
        if ((y & 1) != prefix - 2) y = P - y;
    }

    function _requireOnCurve(uint256 x, uint256 y) private pure {
        if (x >= P || y >= P || mulmod(y, y, P) != addmod(mulmod(mulmod(x, x, P), x, P), 7, P)) {
            revert VrfNotOnCurve(x, y);
        }
    }

    function _compress(uint256 x, uint256 y) private pure returns (bytes memory) {
        return abi.encodePacked(bytes1(y & 1 == 1 ? 0x03 : 0x02), bytes32(x));
    }

    function _gammaToHash(uint256 gx, uint256 gy) private pure returns (bytes32) {
        return sha256(abi.encodePacked(SUITE, bytes1(0x03), _compress(gx, gy), bytes1(0x00)));
    }

    function _parity(uint256 y) private pure returns (uint8) {
        return y & 1 == 1 ? 28 : 27;
    }

    function _address(uint256[2] memory point) private pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(point[0], point[1])))));
    }

    /// The address of k·(px, py), by ecrecover with a zero message hash.
    function _mulAddress(uint256 k, uint256 px, uint256 py) private pure returns (address a) {
        if (px >= N) revert VrfUnsupportedPoint(px);
        a = ecrecover(bytes32(0), _parity(py), bytes32(px), bytes32(mulmod(k, px, N)));
        if (a == address(0)) revert VrfProofInvalid();
    }

    /// a − b in affine coordinates; equal x (a sum at infinity, or a doubling) never occurs for an honest proof.
    function _subtract(uint256[2] memory a, uint256[2] memory b) private view returns (uint256 x, uint256 y) {
        if (a[0] == b[0]) revert VrfProofInvalid();
        uint256 negBy = P - b[1];
        uint256 lambda = mulmod(addmod(negBy, P - a[1], P), _expmod(addmod(b[0], P - a[0], P), P - 2), P);
        x = addmod(mulmod(lambda, lambda, P), P - addmod(a[0], b[0], P), P);
        y = addmod(mulmod(lambda, addmod(a[0], P - x, P), P), P - a[1], P);
    }

    /// base^exponent mod P through the modexp precompile (0x05).
    function _expmod(uint256 base, uint256 exponent) private view returns (uint256 result) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, 0x20)
            mstore(add(m, 0x20), 0x20)
            mstore(add(m, 0x40), 0x20)
            mstore(add(m, 0x60), base)
            mstore(add(m, 0x80), exponent)
            mstore(add(m, 0xa0), P)
            if iszero(staticcall(gas(), 0x05, m, 0xc0, m, 0x20)) { revert(0, 0) }
            result := mload(m)
        }
    }
}
