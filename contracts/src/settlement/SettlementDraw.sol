// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {DeferredRandom} from "../common/DeferredRandom.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {ISettlementDraw} from "../interfaces/ISettlementDraw.sol";
import {ISettlementManager} from "../interfaces/ISettlementManager.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";
import {EcVrf} from "../vrf/EcVrf.sol";
import {VrfKeyRegistry} from "../vrf/VrfKeyRegistry.sol";
import {VrfSortition} from "../vrf/VrfSortition.sol";

/// @title SettlementDraw: whether a settlement is checked, and by whom, drawn where its server cannot steer it.
/// @notice A settlement (or a timeout of its attesters) arms a draw on its block and freezes the candidates: the
/// task's eligible subscribers in the server's echelon, never the server. `drawAttesters`, which anyone may call
/// in a later block, seeds the draw with the armed block's hash: with probability p the settlement is sampled, and
/// the attesters are drawn uniformly among the frozen candidates that can still attest (a node that joined,
/// subscribed or was topped up after the trigger is not among them; one whose exit notice has ended is passed
/// over, one still in its notice is not: leaving a task keeps a node a checking candidate for the notice). A draw left
/// for more than 256 blocks has lost its seed: it is re-armed on the current block, and a first draw that
/// expired samples the settlement with certainty, so a server that waits only makes its check certain.
///
/// Private self-selection (docs/vrf.md, issue 16), once governance sets a VRF key registry: the first draw is not
/// public. `drawAttesters`, from the second block after the armed one, only opens a selection window on the seed
/// `VrfSortition.seed("atoma.vrf.attest", stackId, blockhash(armed block + SEED_DELAY))` (a block after the one
/// that holds the settlement, so its includer cannot grind it); every candidate whose VRF key was registered
/// before the freeze evaluates its own VRF on it, and one whose output falls under p·N/n (N/n for a settlement that
/// must be checked; n counts only those candidates, the only ones that can sit, and none at all makes the draw
/// public at rate p) selects itself with `selfSelect`, carrying its VRF proof and its (non-zero) attestation
/// commitment at once. Nobody but the node can tell whether it was selected, so the server learns that it is
/// checked only when a selected attester has already committed. A candidate that cannot fetch the transcript
/// asks for the sampled requests on chain (`requestSelectionData`: any candidate may, so asking reveals nothing),
/// which stretches the window past the server's data deadline. The window closes at `endsAt` only, never early;
/// past `selectionCap` the lowest VRF outputs sit. After it `drawAttesters` hands the self-selected attesters,
/// committed, to the settlement manager. Nobody selected: an ordinary settlement is not checked (probability
/// (1 − pN/n)^n ≤ e^(−pN), the sampling itself). A settlement that must be checked (p = 1, or a first draw that
/// expired: threshold N/n) with fewer than N seated gets public attesters up to N, drawn on a block after the
/// window. So does any settlement whose sampled requests were asked for and never posted (then N public attesters
/// join whoever seated, who may be the server's own: it refused the data to everyone else), and the public path
/// slashes a server that keeps withholding in full. A selected node that stays silent is slashed the timeout share
/// once anyone shows its proof (`reportSilentSelection`). Replacement rounds (a drawn attester missed its commit)
/// self-select too, each in a window of its own (`ReplacementSelectionOpened`): seed from the block after the timeout,
/// threshold count/n over the frozen candidates not attesters yet, at most `count` seats (the lowest outputs), keys
/// older than the freeze, silence reportable (`reportSilentReplacement`), and a public top-up on a later block only
/// when fewer than `count` sit. A seed left past the horizon re-arms the round privately, never in public.
contract SettlementDraw is ISettlementDraw, AtomaAccess, ReentrancyGuardTransient {
    uint256 internal constant PPM = 1_000_000;
    /// The selection seed is the hash of this many blocks after the armed one: never the settlement's own block.
    uint256 public constant SEED_DELAY = 1;
    /// The shortest selection window: the node's transcript fetch timeout (30 s) and as much again for the rest.
    uint64 public constant MIN_SELECTION_WINDOW = 60;

    struct Armed {
        /// The settlement's block, where `AttesterCandidatesFrozen` lists the candidates.
        uint64 frozenAt;
        uint64 armedAt;
        /// 0 for the first draw, then one more per replacement draw.
        uint8 round;
        /// Replacements wanted (a first draw wants the task's attesters).
        uint8 count;
        /// The first draw expired once: the settlement is sampled whatever the seed.
        bool certain;
        bytes32 candidatesHash;
    }

    ISettlementManager public immutable settlementManager;
    IStackManager public immutable stackManager;
    ITaskRegistry public immutable taskRegistry;
    INodeRegistry public immutable nodeRegistry;

    mapping(uint256 stackId => Armed) internal _armed;

    /// The VRF keys of private self-selection; unset, every first draw is public.
    VrfKeyRegistry public vrfKeys;
    /// Seconds a selection window stays open.
    uint64 public selectionWindow;
    /// The most attesters that may select themselves for one settlement (the committee-size bound).
    uint8 public selectionCap;

    mapping(uint256 stackId => Selection) internal _selections;
    /// The VRF output of each seated node, in `Selection.nodeIds` order (the cap keeps the lowest).
    mapping(uint256 stackId => bytes32[]) internal _betas;
    /// The node proved its selection (seated, or kept out by the cap) or was slashed for its silence.
    mapping(uint256 stackId => mapping(uint256 nodeId => bool)) public answered;

    /// Private replacement rounds (round ≥ 1): each its own window, seed, seats and answers (round 0 above).
    mapping(uint256 stackId => mapping(uint8 round => Selection)) internal _roundSelections;
    mapping(uint256 stackId => mapping(uint8 round => bytes32[])) internal _roundBetas;
    mapping(uint256 stackId => mapping(uint8 round => mapping(uint256 nodeId => bool))) public roundAnswered;
    /// The round whose draw is a public top-up (after a window that seated too few); 0: none.
    mapping(uint256 stackId => uint8) public topUpRound;

    /// The frozen attester candidates of a settlement (what `drawAttesters` must be given).
    event AttesterCandidatesFrozen(uint256 indexed stackId, uint256[] candidates);
    event AttesterDrawArmed(uint256 indexed stackId, uint64 armedAt, uint8 round, uint8 count);
    event AttesterDrawRearmed(uint256 indexed stackId, uint64 armedAt, bool certain);

    /// The selection window of `stackId` opened on `seed`: a candidate whose VRF output on it is below
    /// numerator/denominator may select itself until `endsAt`.
    event SelectionOpened(uint256 indexed stackId, bytes32 seed, uint64 endsAt, uint256 numerator, uint256 denominator);
    /// The private window of replacement round `round` opened (see `SelectionOpened`); it names nobody.
    event ReplacementSelectionOpened(
        uint256 indexed stackId, uint8 round, bytes32 seed, uint64 endsAt, uint256 numerator, uint256 denominator
    );
    /// `nodeId` proved that it selected itself, and committed `commitment` (SettlementManager.commitAttestation's).
    event AttesterSelfSelected(uint256 indexed stackId, uint256 indexed nodeId, bytes32 commitment);
    /// `nodeId` proved its selection but `selectionCap` lower outputs sit: it does not (it is not silent either).
    event AttesterUnseated(uint256 indexed stackId, uint256 indexed nodeId);
    /// Candidate `nodeId` asked for the sampled requests (at `requestIndices`) on chain: the server posts them
    /// by `dataDeadline`; the window now ends at `endsAt`.
    event SelectionDataRequested(
        uint256 indexed stackId, uint256 indexed nodeId, uint64 dataDeadline, uint64 endsAt, uint256[] requestIndices
    );
    /// The window closed with fewer than N seated on a settlement that must be checked, or with its sampled
    /// requests withheld: a public draw is armed.
    event SelectionFallback(uint256 indexed stackId, uint64 armedAt);
    /// `nodeId` was selected (its proof shown by `reporter`) and never proved it in the window: slashed `taken`.
    event SilentSelectionSlashed(uint256 indexed stackId, uint256 indexed nodeId, address reporter, uint256 taken);
    event PrivateSelectionSet(address vrfKeys, uint64 window, uint8 cap);

    error NothingToDraw(uint256 stackId);
    error WrongCandidates(uint256 stackId);
    /// No selection window is open for `stackId` (not private, not opened yet, or closed).
    error SelectionNotOpen(uint256 stackId);
    error SelectionWindowOpen(uint256 stackId, uint64 endsAt);
    error AlreadySelected(uint256 stackId, uint256 nodeId);
    /// `nodeId` is not among the settlement's frozen candidates that can still attest (the server never is).
    error NotCandidate(uint256 stackId, uint256 nodeId);
    error NotNodeActor(uint256 nodeId, address caller);
    /// A seat needs a non-zero attestation commitment (a seat without one would name an attester before it commits).
    error NoCommitment(uint256 stackId);
    error DataAlreadyRequested(uint256 stackId);
    /// `nodeId` proved its selection in the window, or was reported already.
    error NotSilent(uint256 stackId, uint256 nodeId);
    /// The sampled requests were asked for and never posted: nobody could recompute, so nobody was silent.
    error SelectionDataWithheld(uint256 stackId);

    constructor(
        address admin,
        ISettlementManager settlementManager_,
        IStackManager stackManager_,
        ITaskRegistry taskRegistry_,
        INodeRegistry nodeRegistry_
    ) AtomaAccess(admin) {
        if (
            address(settlementManager_) == address(0) || address(stackManager_) == address(0)
                || address(taskRegistry_) == address(0) || address(nodeRegistry_) == address(0)
        ) revert ZeroAddress();
        settlementManager = settlementManager_;
        stackManager = stackManager_;
        taskRegistry = taskRegistry_;
        nodeRegistry = nodeRegistry_;
    }

    /// Turns private self-selection on (a key registry) or off (address 0). The window (twice over when the data
    /// is asked for) must close well within the keeper slack the settlement manager's span allows the draw
    /// (`SettlementManager.KEEPER_SLACK`, 1 hour), and leave a candidate its transcript fetch and more.
    function setPrivateSelection(VrfKeyRegistry keys, uint64 window, uint8 cap) external onlyRole(GOVERNOR_ROLE) {
        _check(window >= MIN_SELECTION_WINDOW && window <= 15 minutes, "selectionWindow", window);
        _check(cap >= 1 && cap <= 32, "selectionCap", cap);
        vrfKeys = keys;
        selectionWindow = window;
        selectionCap = cap;
        emit PrivateSelectionSet(address(keys), window, cap);
    }

    // ---------------------------------------------------------------- the settlement manager

    function arm(uint256 stackId, uint256 taskId, uint256 serverNodeId) external onlyRole(PROTOCOL_ROLE) {
        uint256[] memory candidates = candidatesFor(taskId, serverNodeId);
        _armed[stackId] = Armed({
            frozenAt: uint64(block.number),
            armedAt: uint64(block.number),
            round: 0,
            count: 0,
            certain: false,
            candidatesHash: keccak256(abi.encode(candidates))
        });
        emit AttesterCandidatesFrozen(stackId, candidates);
        emit AttesterDrawArmed(stackId, uint64(block.number), 0, 0);
    }

    function armReplacement(uint256 stackId, uint8 count) external onlyRole(PROTOCOL_ROLE) {
        Armed storage a = _armed[stackId];
        a.armedAt = uint64(block.number);
        a.round += 1;
        a.count = count;
        emit AttesterDrawArmed(stackId, uint64(block.number), a.round, count);
    }

    // ---------------------------------------------------------------- anyone

    /// Runs the armed draw of `stackId` with its frozen `candidates` (as `AttesterCandidatesFrozen` listed them),
    /// in a block after it was armed; re-arms it instead when its block is more than 256 blocks old.
    function drawAttesters(uint256 stackId, uint256[] calldata candidates) external nonReentrant {
        Armed storage a = _armed[stackId];
        if (a.armedAt == 0) revert NothingToDraw(stackId);
        if (a.round == 0 && (address(vrfKeys) != address(0) || _selections[stackId].endsAt != 0)) {
            return _drawPrivately(stackId, a, candidates);
        }
        if (_privateRound(stackId, a)) return _drawReplacementPrivately(stackId, a, candidates);
        bool fallback_ = a.round != 0 && topUpRound[stackId] == a.round;
        (uint256 seed, bool expired) = DeferredRandom.seed(a.armedAt, keccak256(abi.encode(stackId, a.round)));
        if (expired) {
            a.armedAt = uint64(block.number);
            if (a.round == 0) a.certain = true;
            emit AttesterDrawRearmed(stackId, uint64(block.number), a.certain);
            return;
        }
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        a.armedAt = 0;
        if (fallback_) return _drawFallback(stackId, a, candidates, seed);
        ITaskRegistry.Task memory task = taskRegistry.getTask(stackManager.getStack(stackId).taskId);
        bool first = a.round == 0;
        bool sampled = !first || a.certain || seed % PPM < task.replicationPpm;
        uint256 wanted = !first ? a.count : sampled ? task.attesters : 1;
        uint256[] memory chosen = _choose(stackId, candidates, seed, wanted, new uint256[](0));
        bool available = chosen.length > 0;
        if (!sampled) {
            assembly ("memory-safe") {
                mstore(chosen, 0)
            }
        }
        settlementManager.applyDraw(stackId, seed, sampled, available, task.sampleSize, chosen, new bytes32[](0));
    }

    /// Node `nodeId` selects itself as an attester of `stackId` in its open window: `proof` (with `hints`) is its
    /// VRF proof on the window's seed, under its key registered before the freeze, with an output under the
    /// window's threshold; `commitment` is its attestation commitment (as `SettlementManager.commitAttestation`
    /// takes it, never zero). Opens the window if nobody has. Past `selectionCap` seats, the node sits only when
    /// its output is below the highest seated one, which it displaces (`AttesterUnseated`): who sits does not
    /// depend on who came first.
    function selfSelect(
        uint256 stackId,
        uint256 nodeId,
        uint256[] calldata candidates,
        bytes calldata proof,
        EcVrf.Hints calldata hints,
        bytes32 commitment
    ) external nonReentrant {
        uint8 round = _enter(stackId, nodeId, candidates);
        if (commitment == 0) revert NoCommitment(stackId);
        Armed storage a = _armed[stackId];
        Selection storage sel = _sel(stackId, round);
        bytes32 beta =
            vrfKeys.proveSelectionAt(nodeId, a.frozenAt, sel.seed, proof, hints, sel.numerator, sel.denominator);
        _seat(stackId, round, nodeId, beta, commitment, round == 0 ? selectionCap : a.count);
    }

    /// The round whose open window `nodeId` may prove its selection in (opening it if nobody has); marks it answered.
    function _enter(uint256 stackId, uint256 nodeId, uint256[] calldata candidates) internal returns (uint8 round) {
        Armed storage a = _armed[stackId];
        round = a.round;
        Selection storage sel = _sel(stackId, round);
        if (sel.endsAt == 0 && a.armedAt != 0 && address(vrfKeys) != address(0)) {
            if (round == 0
                    ? _open(stackId, a, candidates)
                    : _privateRound(stackId, a) && _openReplacement(stackId, a, candidates)) {
                revert SelectionNotOpen(stackId);
            }
        }
        _inWindow(stackId, a, sel, nodeId, candidates);
        mapping(uint256 => bool) storage ans = _answered(stackId, round);
        if (ans[nodeId]) revert AlreadySelected(stackId, nodeId);
        ans[nodeId] = true;
    }

    /// Seats `nodeId` (output `beta`) in round `round`; past `cap` seats, only in place of a higher output.
    function _seat(uint256 stackId, uint8 round, uint256 nodeId, bytes32 beta, bytes32 commitment, uint256 cap)
        internal
    {
        Selection storage sel = _sel(stackId, round);
        bytes32[] storage betas = round == 0 ? _betas[stackId] : _roundBetas[stackId][round];
        uint256 count = sel.nodeIds.length;
        if (count < cap) {
            sel.nodeIds.push(uint64(nodeId));
            sel.commitments.push(commitment);
            betas.push(beta);
            emit AttesterSelfSelected(stackId, nodeId, commitment);
            return;
        }
        uint256 worst;
        for (uint256 i = 1; i < count; ++i) {
            if (betas[i] > betas[worst]) worst = i;
        }
        if (beta >= betas[worst]) {
            emit AttesterUnseated(stackId, nodeId);
            return;
        }
        emit AttesterUnseated(stackId, sel.nodeIds[worst]);
        sel.nodeIds[worst] = uint64(nodeId);
        sel.commitments[worst] = commitment;
        betas[worst] = beta;
        emit AttesterSelfSelected(stackId, nodeId, commitment);
    }

    /// Candidate `nodeId` cannot fetch the transcript of `stackId` while its window is open (the first draw's, or
    /// a replacement round's): the server must post the sampled requests (`SettlementEvidence.postSampledRequest`)
    /// within one more window, and the selection window then runs one window past that deadline. Any candidate of
    /// the round may ask, selected or not, and every candidate's node asks when its fetch fails, before it
    /// evaluates its VRF: asking tells nobody who is selected. Withheld, the round's seats never decide alone.
    function requestSelectionData(uint256 stackId, uint256 nodeId, uint256[] calldata candidates)
        external
        nonReentrant
    {
        Armed storage a = _armed[stackId];
        Selection storage sel = _sel(stackId, a.round);
        _inWindow(stackId, a, sel, nodeId, candidates);
        if (sel.dataDeadline != 0) revert DataAlreadyRequested(stackId);
        uint64 deadline = uint64(block.timestamp) + selectionWindow;
        sel.dataDeadline = deadline;
        if (deadline + selectionWindow > sel.endsAt) sel.endsAt = deadline + selectionWindow;
        (uint256[] memory indices,) = dataAsked(stackId);
        emit SelectionDataRequested(stackId, nodeId, deadline, sel.endsAt, indices);
    }

    /// After the window of `stackId`, anyone holding node `nodeId`'s VRF proof on its seed shows that the node was
    /// selected and never proved it: the node is slashed the timeout share, as a drawn attester that does not
    /// commit is, and with the same split (no party gains from it). Not when the sampled requests were asked
    /// for and never posted (nobody could recompute).
    function reportSilentSelection(
        uint256 stackId,
        uint256 nodeId,
        uint256[] calldata candidates,
        bytes calldata proof,
        EcVrf.Hints calldata hints
    ) external nonReentrant {
        _reportSilent(stackId, 0, nodeId, candidates, proof, hints);
    }

    /// `reportSilentSelection` for the private window of replacement round `round` (≥ 1). Nobody is framed: a node
    /// that was an attester of the settlement when reported was no candidate of the round, and one whose output is
    /// not below the highest of a full round's seats would not have sat (`NotSilent`).
    function reportSilentReplacement(
        uint256 stackId,
        uint8 round,
        uint256 nodeId,
        uint256[] calldata candidates,
        bytes calldata proof,
        EcVrf.Hints calldata hints
    ) external nonReentrant {
        if (round == 0) revert SelectionNotOpen(stackId);
        _reportSilent(stackId, round, nodeId, candidates, proof, hints);
    }

    function _reportSilent(
        uint256 stackId,
        uint8 round,
        uint256 nodeId,
        uint256[] calldata candidates,
        bytes calldata proof,
        EcVrf.Hints calldata hints
    ) internal {
        Armed storage a = _armed[stackId];
        Selection storage sel = _sel(stackId, round);
        if (sel.endsAt == 0) revert SelectionNotOpen(stackId);
        if (block.timestamp <= sel.endsAt) revert SelectionWindowOpen(stackId, sel.endsAt);
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        if (!_contains(candidates, nodeId)) revert NotCandidate(stackId, nodeId);
        mapping(uint256 => bool) storage ans = _answered(stackId, round);
        if (ans[nodeId]) revert NotSilent(stackId, nodeId);
        if (_withheld(stackId, round)) revert SelectionDataWithheld(stackId);
        if (round != 0 && _contains(settlementManager.attesterIdsOf(stackId), nodeId)) {
            revert NotSilent(stackId, nodeId);
        }
        bytes32 beta =
            vrfKeys.proveSelectionAt(nodeId, a.frozenAt, sel.seed, proof, hints, sel.numerator, sel.denominator);
        if (round != 0 && sel.nodeIds.length >= a.count) {
            // The round's seats were full: seats only pass to lower outputs, so one above them all would not have sat.
            bytes32[] storage betas = _roundBetas[stackId][round];
            bool lower;
            for (uint256 i = 0; i < betas.length; ++i) {
                if (beta < betas[i]) lower = true;
            }
            if (!lower) revert NotSilent(stackId, nodeId);
        }
        ans[nodeId] = true;
        uint256 taken = nodeRegistry.slashTimeout(nodeId, address(0));
        emit SilentSelectionSlashed(stackId, nodeId, msg.sender, taken);
    }

    // ---------------------------------------------------------------- views

    function selectionOf(uint256 stackId) external view returns (Selection memory) {
        return _selections[stackId];
    }

    /// The private window of round `round` of `stackId` (0: the first draw's, as `selectionOf`).
    function roundSelectionOf(uint256 stackId, uint8 round) external view returns (Selection memory) {
        return _sel(stackId, round);
    }

    /// The sampled requests the open round's window asked the server for, and its deadline to post them (zero:
    /// not asked): the first window's seed's sample, or a replacement round's settlement's own.
    function dataAsked(uint256 stackId) public view returns (uint256[] memory indices, uint256 deadline) {
        uint8 round = _armed[stackId].round;
        deadline = _sel(stackId, round).dataDeadline;
        indices = round == 0 ? selectionIndices(stackId) : settlementManager.sampledIndices(stackId);
    }

    /// The request indices the window's seed samples (those the settlement manager samples once it closes).
    function selectionIndices(uint256 stackId) public view returns (uint256[] memory) {
        ISettlementManager.Settlement memory st = settlementManager.getSettlement(stackId);
        uint256 size = taskRegistry.getTask(stackManager.getStack(stackId).taskId).sampleSize;
        if (size > st.requestCount) size = st.requestCount;
        return sampleIndices(uint128(uint256(_selections[stackId].seed)), st.requestCount, size);
    }

    /// The selection threshold numerator/denominator for `candidateCount` candidates that can select themselves
    /// (keys registered before the freeze): p·N/n, or N/n when the settlement must be checked (capped at 1).
    function selectionThreshold(uint256 taskId, uint256 candidateCount, bool certain)
        public
        view
        returns (uint256 numerator, uint256 denominator)
    {
        ITaskRegistry.Task memory task = taskRegistry.getTask(taskId);
        numerator = certain ? task.attesters : uint256(task.replicationPpm) * task.attesters;
        denominator = certain ? candidateCount : PPM * candidateCount;
        if (numerator > denominator) numerator = denominator;
    }

    /// The attester candidates a settlement by `serverNodeId` on `taskId` would freeze now: the task's subscribers
    /// that can check (`INodeRegistry.NodeState.checkable`: a timeout slash does not take a node out) in the
    /// server's echelon, other than the server, those in their exit notice included.
    function candidatesFor(uint256 taskId, uint256 serverNodeId) public view returns (uint256[] memory) {
        uint256[] memory exclude = new uint256[](1);
        exclude[0] = serverNodeId;
        return taskRegistry.draw(
            ITaskRegistry.Draw({
                taskId: taskId,
                echelon: nodeRegistry.echelonOf(serverNodeId),
                count: type(uint256).max,
                maxPrice: type(uint256).max,
                units: 0,
                exclude: exclude,
                seed: 0,
                checking: true
            })
        );
    }

    /// `count` distinct request indices in [0, requestCount) drawn from `seed`, in the order attesters commit to
    /// them (`SettlementManager.sampledIndices`).
    function sampleIndices(uint256 seed, uint256 requestCount, uint256 count)
        public
        pure
        returns (uint256[] memory indices)
    {
        uint256 n = requestCount;
        indices = new uint256[](count);
        if (n <= 256) {
            uint256[] memory all = new uint256[](n);
            for (uint256 i = 0; i < n; ++i) {
                all[i] = i;
            }
            for (uint256 i = 0; i < count; ++i) {
                uint256 j = i + uint256(keccak256(abi.encode(seed, "index", i))) % (n - i);
                (all[i], all[j]) = (all[j], all[i]);
                indices[i] = all[i];
            }
            return indices;
        }
        uint256 found;
        for (uint256 j = 0; found < count; ++j) {
            uint256 candidate = uint256(keccak256(abi.encode(seed, "index", j))) % n;
            bool seen;
            for (uint256 k = 0; k < found; ++k) {
                if (indices[k] == candidate) {
                    seen = true;
                    break;
                }
            }
            if (!seen) indices[found++] = candidate;
        }
    }

    function armedOf(uint256 stackId) external view returns (Armed memory) {
        return _armed[stackId];
    }

    // ---------------------------------------------------------------- internals

    /// The first draw under private selection: opens the window, or closes it (`SelectionWindowOpen` before).
    function _drawPrivately(uint256 stackId, Armed storage a, uint256[] calldata candidates) internal {
        Selection storage sel = _selections[stackId];
        if (sel.endsAt == 0) {
            _open(stackId, a, candidates);
            return;
        }
        // Closed at `endsAt` only: a full cap never closes it early (a late honest proof still counts).
        if (block.timestamp <= sel.endsAt) revert SelectionWindowOpen(stackId, sel.endsAt);
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        uint256 taskId = stackManager.getStack(stackId).taskId;
        ITaskRegistry.Task memory task = taskRegistry.getTask(taskId);
        (uint256[] memory ids, bytes32[] memory commitments) = _seated(stackId, taskId, 0);
        // The sampled requests were asked for and never posted: no honest selected node could recompute, so whoever
        // seated may be the server's own, holding the data it refused the rest. The seated never decide alone then:
        // N public attesters join them, whose path makes the server post or lose its collateral (docs/vrf.md).
        bool withheld = _withheld(stackId, 0);
        if (withheld || ((a.certain || task.replicationPpm >= PPM) && ids.length < task.attesters)) {
            // Must be checked (p = 1, or the first draw expired) and fewer than N seated: whoever seated may be
            // the server's own, seated last once no honest node had; public attesters up to N, on a later block.
            _armPublic(stackId, a, 1, withheld ? task.attesters : uint8(task.attesters - ids.length));
            return;
        }
        a.armedAt = 0;
        settlementManager.applyDraw(
            stackId, uint128(uint256(sel.seed)), ids.length > 0, true, task.sampleSize, ids, commitments
        );
    }

    /// The sampled requests of `stackId` were asked for in the window of `round` and not all posted by their
    /// deadline (they cannot be posted after it while the settlement draws, so this stays true once it closed).
    function _withheld(uint256 stackId, uint8 round) internal view returns (bool) {
        return _sel(stackId, round).dataDeadline != 0 && !settlementManager.getSettlement(stackId).dataPosted;
    }

    /// The public draw after a window that seated fewer than N on a settlement that must be checked, or whose
    /// sampled requests were withheld: those seated (still able to attest) keep their seats and commitments, and
    /// public attesters join them, up to N (N of them beside the seated after a withheld window); all check the
    /// window seed's sample.
    function _drawFallback(uint256 stackId, Armed storage a, uint256[] calldata candidates, uint256 seed) internal {
        uint256 taskId = stackManager.getStack(stackId).taskId;
        uint8 round = settlementManager.attesterIdsOf(stackId).length == 0 ? 0 : a.round;
        (uint256[] memory seated, bytes32[] memory commitments) = _seated(stackId, taskId, round);
        // A replacement round's top-up: up to the replacements wanted.
        uint256 target = round == 0 ? taskRegistry.getTask(taskId).attesters : a.count;
        bool withheld = _withheld(stackId, round);
        if (withheld && round != 0) {
            // A replacement round whose data was withheld: its seated (perhaps the server's own, holding what it
            // refused the rest) give way to `count` public replacements (no more may join); the server must post
            // for them or lose its collateral.
            return _applyFallback(stackId, taskId, _choose(stackId, candidates, seed, target, seated), new bytes32[](0));
        }
        uint256 wanted = withheld ? target : target > seated.length ? target - seated.length : 0;
        uint256[] memory drawn = _choose(stackId, candidates, seed, wanted, seated);
        uint256[] memory chosen = new uint256[](seated.length + drawn.length);
        for (uint256 i = 0; i < seated.length; ++i) {
            chosen[i] = seated[i];
        }
        for (uint256 i = 0; i < drawn.length; ++i) {
            chosen[seated.length + i] = drawn[i];
        }
        _applyFallback(stackId, taskId, chosen, commitments);
    }

    function _applyFallback(uint256 stackId, uint256 taskId, uint256[] memory chosen, bytes32[] memory commitments)
        internal
    {
        settlementManager.applyDraw(
            stackId,
            uint128(uint256(_selections[stackId].seed)),
            true,
            chosen.length > 0,
            taskRegistry.getTask(taskId).sampleSize,
            chosen,
            commitments
        );
    }

    /// The self-selected of `stackId` that can still attest, with their commitments (one slashed or gone since
    /// it sat is left out, as a public draw would pass it over).
    function _seated(uint256 stackId, uint256 taskId, uint8 round)
        internal
        view
        returns (uint256[] memory ids, bytes32[] memory commitments)
    {
        Selection storage sel = _sel(stackId, round);
        uint256 count = sel.nodeIds.length;
        ids = new uint256[](count);
        commitments = new bytes32[](count);
        uint256 kept;
        for (uint256 i = 0; i < count; ++i) {
            if (!_canAttest(taskId, sel.nodeIds[i])) continue;
            ids[kept] = sel.nodeIds[i];
            commitments[kept++] = sel.commitments[i];
        }
        assembly ("memory-safe") {
            mstore(ids, kept)
            mstore(commitments, kept)
        }
    }

    /// Reverts unless the window of `stackId` is open and `nodeId`, acting through the caller, is among its frozen
    /// `candidates` and can still attest.
    function _inWindow(
        uint256 stackId,
        Armed storage a,
        Selection storage sel,
        uint256 nodeId,
        uint256[] calldata candidates
    ) internal view {
        if (sel.endsAt == 0 || block.timestamp > sel.endsAt || a.armedAt == 0) {
            revert SelectionNotOpen(stackId);
        }
        if (!nodeRegistry.isNodeActor(nodeId, msg.sender)) revert NotNodeActor(nodeId, msg.sender);
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        // A replacement round's candidates are those not attesters of the settlement already (timed out included).
        if (
            !_contains(candidates, nodeId) || !_canAttest(stackManager.getStack(stackId).taskId, nodeId)
                || (a.round != 0 && _contains(settlementManager.attesterIdsOf(stackId), nodeId))
        ) revert NotCandidate(stackId, nodeId);
    }

    /// Opens the selection window of `stackId` on the hash of the block `SEED_DELAY` after the armed one; returns
    /// true instead when that hash is gone (re-armed on this block: a first draw that expired must then be
    /// checked, q = N/n).
    function _open(uint256 stackId, Armed storage a, uint256[] calldata candidates) internal returns (bool expired) {
        uint256 seedBlock = a.armedAt + SEED_DELAY;
        if (block.number <= seedBlock) revert DeferredRandom.DrawTooEarly(seedBlock, block.number);
        if (block.number - seedBlock > DeferredRandom.HORIZON) {
            a.armedAt = uint64(block.number);
            a.certain = true;
            emit AttesterDrawRearmed(stackId, uint64(block.number), true);
            return true;
        }
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        if (candidates.length == 0) {
            // Nobody could attest: the settlement manager fails it as unverifiable.
            a.armedAt = 0;
            settlementManager.applyDraw(stackId, 0, false, false, 0, new uint256[](0), new bytes32[](0));
            return false;
        }
        Selection storage sel = _selections[stackId];
        sel.seed = VrfSortition.seed("atoma.vrf.attest", bytes32(stackId), blockhash(seedBlock));
        // Only a candidate whose key predates the freeze can ever sit (`VrfKeyTooNew`): the threshold counts those
        // alone, so P(nobody selected) = (1 − q)^usable stays under e^(−pN) whatever share of them hold no key.
        uint256 usable;
        for (uint256 i = 0; i < candidates.length; ++i) {
            if (vrfKeys.keyUsableAt(candidates[i], a.frozenAt)) ++usable;
        }
        uint256 taskId = stackManager.getStack(stackId).taskId;
        if (usable == 0) {
            _publicInstead(stackId, a, sel.seed, taskRegistry.getTask(taskId));
            return false;
        }
        sel.endsAt = uint64(block.timestamp) + selectionWindow;
        (uint256 num, uint256 den) = selectionThreshold(taskId, usable, a.certain);
        sel.numerator = uint128(num);
        sel.denominator = uint128(den);
        emit SelectionOpened(stackId, sel.seed, sel.endsAt, num, den);
    }

    /// Arms round `round` of `stackId` as a public draw of `count` attesters on this block (its seed a later block's).
    function _armPublic(uint256 stackId, Armed storage a, uint8 round, uint8 count) internal {
        a.armedAt = uint64(block.number);
        a.round = round;
        a.count = count;
        topUpRound[stackId] = round;
        emit SelectionFallback(stackId, uint64(block.number));
        emit AttesterDrawArmed(stackId, uint64(block.number), round, count);
    }

    /// No candidate of the first draw holds a key older than the freeze, so nobody can select itself: the draw is
    /// public instead, at the task's rate. Sampled (or certain) on the window's seed, N public attesters are drawn
    /// on a later block, as after a window that seated too few; not sampled, the settlement is accepted unchecked.
    function _publicInstead(uint256 stackId, Armed storage a, bytes32 seed, ITaskRegistry.Task memory task) internal {
        if (!a.certain && uint256(seed) % PPM >= task.replicationPpm) {
            a.armedAt = 0;
            settlementManager.applyDraw(
                stackId, uint128(uint256(seed)), false, true, task.sampleSize, new uint256[](0), new bytes32[](0)
            );
            return;
        }
        _armPublic(stackId, a, 1, task.attesters);
    }

    /// A replacement round (≥ 1) drawn by private self-selection: keys are set, and it is no public top-up.
    function _privateRound(uint256 stackId, Armed storage a) internal view returns (bool) {
        return a.round != 0 && address(vrfKeys) != address(0) && topUpRound[stackId] != a.round;
    }

    function _sel(uint256 stackId, uint8 round) internal view returns (Selection storage) {
        return round == 0 ? _selections[stackId] : _roundSelections[stackId][round];
    }

    function _answered(uint256 stackId, uint8 round) internal view returns (mapping(uint256 => bool) storage) {
        return round == 0 ? answered[stackId] : roundAnswered[stackId][round];
    }

    /// A replacement round under private selection: opens its window, or closes it (`SelectionWindowOpen` before).
    /// The seated (still able to attest, at most the count wanted) replace the missing, already committed; fewer
    /// than wanted get public replacements up to the count, drawn on a block after the window (as round one's
    /// top-up): a replacement must be made, so the round's threshold is count/n, as for a must-check settlement.
    function _drawReplacementPrivately(uint256 stackId, Armed storage a, uint256[] calldata candidates) internal {
        Selection storage sel = _roundSelections[stackId][a.round];
        if (sel.endsAt == 0) {
            _openReplacement(stackId, a, candidates);
            return;
        }
        if (block.timestamp <= sel.endsAt) revert SelectionWindowOpen(stackId, sel.endsAt);
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        (uint256[] memory ids, bytes32[] memory commitments) =
            _seated(stackId, stackManager.getStack(stackId).taskId, a.round);
        if (ids.length < a.count || _withheld(stackId, a.round)) return _armPublic(stackId, a, a.round, a.count);
        a.armedAt = 0;
        settlementManager.applyDraw(stackId, 0, true, true, 0, ids, commitments);
    }

    /// Opens the window of the armed replacement round on the hash of the block `SEED_DELAY` after the one whose
    /// timeout armed it, over the frozen candidates that are not attesters of the settlement yet; threshold
    /// count/n. Returns true instead when that hash is gone: re-armed on this block, for a fresh private seed (never
    /// a public draw, which would name the replacements to whoever stalled).
    function _openReplacement(uint256 stackId, Armed storage a, uint256[] calldata candidates)
        internal
        returns (bool expired)
    {
        uint256 seedBlock = a.armedAt + SEED_DELAY;
        if (block.number <= seedBlock) revert DeferredRandom.DrawTooEarly(seedBlock, block.number);
        if (block.number - seedBlock > DeferredRandom.HORIZON) {
            a.armedAt = uint64(block.number);
            emit AttesterDrawRearmed(stackId, uint64(block.number), a.certain);
            return true;
        }
        if (keccak256(abi.encode(candidates)) != a.candidatesHash) revert WrongCandidates(stackId);
        uint256[] memory taken = settlementManager.attesterIdsOf(stackId);
        uint256 free;
        uint256 eligible;
        for (uint256 i = 0; i < candidates.length; ++i) {
            if (_contains(taken, candidates[i])) continue;
            ++free;
            if (vrfKeys.keyUsableAt(candidates[i], a.frozenAt)) ++eligible;
        }
        if (free == 0) {
            // Nobody left to replace them: the committed are revealed against (or nobody checked at all).
            a.armedAt = 0;
            settlementManager.applyDraw(stackId, 0, true, true, 0, new uint256[](0), new bytes32[](0));
            return false;
        }
        // The threshold counts only the free candidates whose keys predate the freeze (the only ones that can sit);
        // none: the round's replacements are drawn in public from the free ones, on a later block.
        if (eligible == 0) {
            _armPublic(stackId, a, a.round, a.count);
            return false;
        }
        Selection storage sel = _roundSelections[stackId][a.round];
        sel.seed = VrfSortition.seed("atoma.vrf.replace", keccak256(abi.encode(stackId, a.round)), blockhash(seedBlock));
        sel.endsAt = uint64(block.timestamp) + selectionWindow;
        uint256 num = a.count < eligible ? a.count : eligible;
        sel.numerator = uint128(num);
        sel.denominator = uint128(eligible);
        emit ReplacementSelectionOpened(stackId, a.round, sel.seed, sel.endsAt, num, eligible);
    }

    /// Up to `wanted` candidates, in the seed's order, that can still attest and are neither attesters of the
    /// settlement already nor in `exclude`.
    function _choose(
        uint256 stackId,
        uint256[] calldata candidates,
        uint256 seed,
        uint256 wanted,
        uint256[] memory exclude
    ) internal view returns (uint256[] memory chosen) {
        uint256[] memory taken = settlementManager.attesterIdsOf(stackId);
        uint256 taskId = stackManager.getStack(stackId).taskId;
        chosen = new uint256[](wanted);
        uint256 found;
        uint256[] memory order = DeferredRandom.identity(candidates.length);
        for (uint256 i = 0; i < order.length && found < wanted; ++i) {
            DeferredRandom.step(order, seed, i);
            uint256 nodeId = candidates[order[i]];
            if (_contains(taken, nodeId) || _contains(exclude, nodeId) || !_canAttest(taskId, nodeId)) continue;
            chosen[found++] = nodeId;
        }
        assembly ("memory-safe") {
            mstore(chosen, found)
        }
    }

    function _canAttest(uint256 taskId, uint256 nodeId) internal view returns (bool) {
        uint256[] memory one = new uint256[](1);
        one[0] = nodeId;
        INodeRegistry.NodeState memory state = nodeRegistry.nodeStates(one)[0];
        ITaskRegistry.Subscription memory sub = taskRegistry.getSubscription(taskId, nodeId);
        return state.checkable && (sub.active || block.timestamp < sub.exitAt);
    }

    function _contains(uint256[] memory list, uint256 value) internal pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }
}
