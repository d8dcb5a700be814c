// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./TestBase.sol";

/// @notice The adversary of the invariant suite: it calls any external function of the deployed contracts, from
/// any address the adversary controls, with arguments drawn at random but shaped by the function's ABI so they
/// decode (ids are small numbers half the time, so they hit live stacks, nodes and disputes). The function list
/// is read from forge's build artifacts, so a function added to a contract is attacked without editing this file.
contract AnyCallHandler is TestBase {
    struct Target {
        address target;
        bytes4 selector;
        string signature;
    }

    Target[] internal _functions;
    address[] internal _callers;
    address[] internal _addresses;

    /// External functions the artifacts list (kept or not).
    uint256 public considered;
    uint256 public calls;
    uint256 public succeeded;
    mapping(bytes4 selector => uint256) public successesOf;

    /// `artifacts[i]` is the path of `targets[i]`'s forge artifact, relative to the project root
    /// (`out/X.sol/X.json`). `callers` are the addresses the adversary controls; `addresses` are what it may pass
    /// as an address argument (everyone, honest or not).
    constructor(
        address[] memory targets,
        string[] memory artifacts,
        address[] memory callers,
        address[] memory addresses
    ) {
        require(targets.length == artifacts.length, "one artifact per target");
        for (uint256 i = 0; i < targets.length; ++i) _load(targets[i], artifacts[i]);
        _callers = callers;
        _addresses = addresses;
    }

    function functionCount() external view returns (uint256) {
        return _functions.length;
    }

    function functionAt(uint256 i) external view returns (address, bytes4, string memory) {
        Target storage f = _functions[i];
        return (f.target, f.selector, f.signature);
    }

    /// One adversarial call: which function, who sends it, and a seed for every argument.
    function callAny(uint256 which, uint256 sender, uint256 seed) external {
        Target storage f = _functions[which % _functions.length];
        bytes memory data = abi.encodePacked(f.selector, _encodeArguments(f.signature, seed));
        ++calls;
        vm.prank(_callers[sender % _callers.length]);
        (bool ok,) = f.target.call(data);
        if (ok) {
            ++succeeded;
            ++successesOf[f.selector];
        }
    }

    // ---------------------------------------------------------------- loading the ABI

    function _load(address target, string memory artifact) internal {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/", artifact));
        string[] memory signatures = vm.parseJsonKeys(json, ".methodIdentifiers");
        for (uint256 i = 0; i < signatures.length; ++i) {
            string memory signature = signatures[i];
            if (!_keep(signature, json)) continue;
            _functions.push(Target(target, bytes4(keccak256(bytes(signature))), signature));
        }
    }

    /// Whether the adversary calls `signature` (of the artifact `json`): all of them here; a subclass may leave
    /// out views. Called from the constructor, before a subclass's own constructor has run.
    function _keep(string memory, string memory) internal virtual returns (bool) {
        ++considered;
        return true;
    }

    // ---------------------------------------------------------------- argument encoding

    struct Rng {
        uint256 seed;
        uint256 counter;
    }

    function _next(Rng memory rng) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(rng.seed, rng.counter++)));
    }

    function _encodeArguments(string memory signature, uint256 seed) internal view returns (bytes memory) {
        bytes memory s = bytes(signature);
        uint256 open;
        while (s[open] != "(") ++open;
        string[] memory types = _splitTuple(_slice(s, open, s.length));
        Rng memory rng = Rng(seed, 0);
        return _encodeTuple(types, rng);
    }

    /// ABI encoding of a tuple of `types`: static parts inline, dynamic parts behind offsets.
    function _encodeTuple(string[] memory types, Rng memory rng) internal view returns (bytes memory) {
        bytes[] memory parts = new bytes[](types.length);
        bool[] memory dynamic = new bool[](types.length);
        uint256 headSize;
        for (uint256 i = 0; i < types.length; ++i) {
            (parts[i], dynamic[i]) = _encode(types[i], rng);
            headSize += dynamic[i] ? 32 : parts[i].length;
        }
        bytes memory head;
        bytes memory tail;
        for (uint256 i = 0; i < types.length; ++i) {
            if (dynamic[i]) {
                head = abi.encodePacked(head, headSize + tail.length);
                tail = abi.encodePacked(tail, parts[i]);
            } else {
                head = abi.encodePacked(head, parts[i]);
            }
        }
        return abi.encodePacked(head, tail);
    }

    function _encode(string memory t, Rng memory rng) internal view returns (bytes memory, bool) {
        bytes memory b = bytes(t);
        if (b[b.length - 1] == "]") {
            uint256 open = b.length - 1;
            while (b[open] != "[") --open;
            string memory element = string(_slice(b, 0, open));
            if (open + 2 == b.length) {
                uint256 length = _next(rng) % 4;
                string[] memory items = new string[](length);
                for (uint256 i = 0; i < length; ++i) items[i] = element;
                return (abi.encodePacked(length, _encodeTuple(items, rng)), true);
            }
            uint256 fixedLength = _parseUint(_slice(b, open + 1, b.length - 1));
            string[] memory fixedItems = new string[](fixedLength);
            for (uint256 i = 0; i < fixedLength; ++i) fixedItems[i] = element;
            return _tupleOf(fixedItems, rng);
        }
        if (b[0] == "(") return _tupleOf(_splitTuple(b), rng);
        if (_eq(b, "bytes") || _eq(b, "string")) {
            uint256 length = _next(rng) % 3 == 0 ? 0 : _next(rng) % 97;
            bytes memory content = new bytes(length);
            for (uint256 i = 0; i < length; ++i) content[i] = bytes1(uint8(_next(rng)));
            return (abi.encodePacked(length, content, new bytes((32 - (length % 32)) % 32)), true);
        }
        return (abi.encode(_word(b, rng)), false);
    }

    function _tupleOf(string[] memory types, Rng memory rng) internal view returns (bytes memory, bool) {
        bool dynamic;
        for (uint256 i = 0; i < types.length; ++i) dynamic = dynamic || _isDynamic(bytes(types[i]));
        return (_encodeTuple(types, rng), dynamic);
    }

    function _isDynamic(bytes memory t) internal pure returns (bool) {
        if (_eq(t, "bytes") || _eq(t, "string")) return true;
        if (t[t.length - 1] == "]") {
            if (t[t.length - 2] == "[") return true;
            uint256 open = t.length - 1;
            while (t[open] != "[") --open;
            return _isDynamic(_slice(t, 0, open));
        }
        if (t[0] == "(") {
            string[] memory inner = _splitTuple(t);
            for (uint256 i = 0; i < inner.length; ++i) if (_isDynamic(bytes(inner[i]))) return true;
        }
        return false;
    }

    /// One 32-byte word for an elementary static type, valid for that type.
    function _word(bytes memory t, Rng memory rng) internal view virtual returns (uint256) {
        uint256 r = _next(rng);
        if (_eq(t, "address")) return uint256(uint160(_addresses[r % _addresses.length]));
        if (_eq(t, "bool")) return r & 1;
        if (_startsWith(t, "uint")) {
            uint256 bits = t.length == 4 ? 256 : _parseUint(_slice(t, 4, t.length));
            uint256 mode = r % 4;
            uint256 value = mode < 2 ? (r >> 8) % 10 : mode == 2 ? (r >> 8) % 1_000_000 : r >> 8;
            return bits == 256 ? value : value & ((uint256(1) << bits) - 1);
        }
        if (_startsWith(t, "int")) return (r >> 8) % 100;
        if (_startsWith(t, "bytes")) {
            uint256 size = _parseUint(_slice(t, 5, t.length));
            if (r % 4 == 0) return 0;
            return size == 32 ? r : (r >> (256 - 8 * size)) << (256 - 8 * size);
        }
        return r;
    }

    // ---------------------------------------------------------------- string helpers

    /// The top-level comma-separated types inside "(a,b,(c,d)[])".
    function _splitTuple(bytes memory s) internal pure returns (string[] memory types) {
        uint256 close = s.length - 1;
        while (s[close] != ")") --close;
        uint256 count;
        uint256 depth;
        if (close > 1) count = 1;
        for (uint256 i = 1; i < close; ++i) {
            if (s[i] == "(") ++depth;
            else if (s[i] == ")") --depth;
            else if (s[i] == "," && depth == 0) ++count;
        }
        types = new string[](count);
        uint256 start = 1;
        uint256 k;
        depth = 0;
        for (uint256 i = 1; i <= close && count > 0; ++i) {
            if (i < close && s[i] == "(") ++depth;
            else if (i < close && s[i] == ")") --depth;
            else if (i == close || (s[i] == "," && depth == 0)) {
                types[k++] = string(_slice(s, start, i));
                start = i + 1;
            }
        }
    }

    function _slice(bytes memory s, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        out = new bytes(to - from);
        for (uint256 i = from; i < to; ++i) out[i - from] = s[i];
    }

    function _eq(bytes memory a, string memory b) internal pure returns (bool) {
        return keccak256(a) == keccak256(bytes(b));
    }

    function _startsWith(bytes memory a, string memory prefix) internal pure returns (bool) {
        bytes memory p = bytes(prefix);
        if (a.length < p.length) return false;
        for (uint256 i = 0; i < p.length; ++i) if (a[i] != p[i]) return false;
        return true;
    }

    function _parseUint(bytes memory digits) internal pure returns (uint256 value) {
        for (uint256 i = 0; i < digits.length; ++i) value = value * 10 + (uint8(digits[i]) - 48);
    }
}
