// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice The compute units of a response's result bytes (the canonical JSON of its reproducible result, whose
/// hash is the response hash): prompt plus completion tokens of its usage object. Canonical JSON sorts keys, so
/// the usage object is always the last member and the bytes end in
/// `,"usage":{"completion_tokens":C,"prompt_tokens":P,"total_tokens":T}}` (chat and completions) or
/// `,"usage":{"prompt_tokens":P,"total_tokens":T}}` (embeddings); this reads that tail backwards. The invalid-request
/// result `{"object":"atoma.invalid_request"}` has 0 units.
library ResultUnits {
    error UnreadableResult();

    bytes internal constant INVALID_REQUEST = '{"object":"atoma.invalid_request"}';

    function unitsOf(bytes memory b) internal pure returns (uint256) {
        if (keccak256(b) == keccak256(INVALID_REQUEST)) return 0;
        uint256 end = _literal(b, b.length, "}}");
        (, end) = _number(b, end);
        end = _literal(b, end, ',"total_tokens":');
        uint256 prompt;
        (prompt, end) = _number(b, end);
        end = _literal(b, end, '"prompt_tokens":');
        uint256 completion;
        if (end > 0 && b[end - 1] == ",") {
            (completion, end) = _number(b, end - 1);
            end = _literal(b, end, '"completion_tokens":');
        }
        _literal(b, end, ',"usage":{');
        return prompt + completion;
    }

    /// Checks that `lit` ends at `end`; returns where it starts.
    function _literal(bytes memory b, uint256 end, bytes memory lit) private pure returns (uint256 start) {
        if (end < lit.length) revert UnreadableResult();
        start = end - lit.length;
        for (uint256 i = 0; i < lit.length; ++i) {
            if (b[start + i] != lit[i]) revert UnreadableResult();
        }
    }

    /// Reads the canonical decimal integer (1 to 19 digits, no leading zero) that ends at `end`.
    function _number(bytes memory b, uint256 end) private pure returns (uint256 value, uint256 start) {
        start = end;
        while (start > 0 && end - start < 20 && b[start - 1] >= "0" && b[start - 1] <= "9") --start;
        uint256 digits = end - start;
        if (digits == 0 || digits > 19 || (digits > 1 && b[start] == "0")) revert UnreadableResult();
        for (uint256 i = start; i < end; ++i) {
            value = value * 10 + (uint8(b[i]) - 48);
        }
    }
}
