// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AtomaAccess} from "../common/AtomaAccess.sol";
import {AtomaTypedData} from "../common/AtomaTypedData.sol";
import {DeferredRandom} from "../common/DeferredRandom.sol";
import {Units} from "../common/Units.sol";
import {IAtomaVault} from "../interfaces/IAtomaVault.sol";
import {IDisputeParams} from "../interfaces/IDisputeManager.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IStackManager} from "../interfaces/IStackManager.sol";
import {ITaskRegistry} from "../interfaces/ITaskRegistry.sol";

/// @notice What the stack manager reads of the settlement manager: its longest time from a settlement to a
/// dispute's committee being frozen, and the dispute manager, whose committee minimum a verified sale must leave
/// room for.
interface ISettlementSpan {
    function settlementSpan() external view returns (uint256);
    function disputeManager() external view returns (address);
}

/// @title StackManager: users buy stacks of compute units for a task, served by a node picked one of three ways.
/// @notice A stack's serving node is picked in one of the protocol's three ways, and once picked it is the stack's
/// only serving node: settlement, receipts and the node's API all identify it by `Stack.nodeId`.
/// - **Drawn at random** (`buyStack`, then `drawNode`). A purchase takes two calls. `buyStack` freezes the
///   candidates (the task's eligible subscribers with a price at most the buyer's cap and room for the units, each
///   with its price at that moment; on a verified task only those whose echelon holds enough other nodes to attest
///   and to judge a dispute), locks the escrow at the highest candidate price, and arms the draw on its block.
///   `drawNode`, which anyone may call in a later block, draws the node uniformly among the frozen candidates with
///   the armed block's hash (`DeferredRandom`), so the buyer cannot steer it; if the drawn node can no longer
///   serve, the purchase is cancelled and refunded in full (never passed to another candidate, which anyone
///   filling the nodes ranked ahead could steer).
/// - **Drawn at random among a list the buyer names** (`buyStackAmong`, then `drawListed`): as above, but the
///   buyer names the candidates (`candidatesFor`, read for free) and the purchase reads none of them; the draw
///   checks the node it draws, alone, by the same rules now and at most at its listed price (and, on a verified
///   task, the checkers its caller names), and cancels and refunds the purchase when it fails them.
/// - **A set drawn at random, one member chosen by the buyer** (`buyStackFromSet`, `drawSet`, `chooseFromSet`).
///   The purchase freezes the candidates as above; `drawSet`, anyone's call in a later block, draws up to
///   `setSize` distinct members among them the same way; the owner then binds the stack to one member before it
///   serves. Nothing is reserved on any member until that choice, and the choice is made once; a chosen member
///   that can no longer serve cancels and refunds the purchase, and the owner may cancel it before choosing.
/// - **A node the buyer chooses** (`buyStackFromNode`): any node the draw could have drawn at that moment (a
///   candidate as above, price at most the cap, room for the units), opened in the same call.
/// The escrow is then price × units plus the verification surcharge of the task's security level (which pays the
/// attesters if the settlement is sampled and is refunded otherwise), and the excess goes back to the buyer. A
/// stack not drawn (or its set member not chosen) within `DRAW_LIMIT` of its purchase is cancelled and refunded by
/// the next call that touches it. Every stack's path from its purchase to the moment a dispute of its settlement
/// freezes its committee (draw limit, the longest duration and settle window ever allowed, then
/// `SettlementManager.settlementSpan`) fits the task registry's exit notice: the nodes counted as its checkers
/// when it is sold stay checking candidates that long even if they leave; parameters that would break this are
/// refused here and in the settlement manager. This contract is the EIP-712 verifying contract of the owner's
/// request signatures and the node's response signatures (domain "Atoma", version "1").
/// On a confidential task (security level 3) every way of picking a node takes only nodes the attestation registry
/// accepts at that moment (`TaskRegistry.attested`): at the purchase, and again when the drawn or chosen node is
/// bound, so an attestation that expired in between cancels and refunds the purchase. Such stacks carry no
/// surcharge and are never sampled (the settlement manager samples level 1 only).
contract StackManager is IStackManager, AtomaAccess, EIP712, ReentrancyGuardTransient {
    uint256 internal constant BPS = 10_000;
    /// A purchase whose node is not drawn within this is cancelled (the candidates draw within blocks).
    uint256 public constant DRAW_LIMIT = 1 hours;
    /// The most members a set purchase may ask for: bounds the set draw and the set its owner passes back.
    uint8 public constant MAX_SET_SIZE = 16;
    /// The most candidates a listed purchase (`buyStackAmong`) may name (the task registry's own bound on a task's
    /// subscribers): bounds its draw's memory and hashing.
    uint256 public constant MAX_LISTED = 512;
    /// Heads a listed purchase's candidates hash (`keccak256(abi.encode(LISTED, candidates))`), so `drawNode`/`drawSet`
    /// never accept its list nor `drawListed` theirs: their encodings begin with the offset word 0x20 or 0x40, which
    /// this tag is not, and no `setSize` a set purchase may carry (nor any `uint8`) can stand for it.
    bytes32 internal constant LISTED = keccak256("atoma.listed");

    /// A node the draw may pick, with the price it asked when the stack was bought (the stack's price if drawn).
    struct Candidate {
        uint64 nodeId;
        uint128 pricePerMillion;
    }

    /// What a purchase fixed besides the stack (`getPurchase`; stored in the stack's own slots, `Record`): its
    /// block, when its draw was armed (the purchase block, or for a walked or set purchase a later one if it
    /// expired), its duration, the minimum charge and the verification surcharge in force (0 on an unverified
    /// task), and the hash of the frozen candidates (with the set size, for a set purchase; once its set is drawn,
    /// the hash of the set; 0 once the stack is bound to its node or cancelled). Once the stack is bound, only its
    /// duration and minimum charge are kept (the block, times and surcharge read 0).
    struct Purchase {
        uint64 boughtAt;
        uint64 armedAt;
        /// 48 bits keep the purchase in one slot; `maxDuration` is bounded far below that by the exit notice.
        uint48 duration;
        uint16 minChargeBps;
        /// The surcharge locked at the purchase: a later change of `surchargeBps` does not reach this stack.
        uint16 surchargeBps;
        /// The purchase's time: the node must be drawn within `DRAW_LIMIT` of it.
        uint48 boughtTime;
        bytes32 candidatesHash;
    }

    struct Params {
        uint64 minDuration;
        uint64 maxDuration;
        /// Seconds after expiry (or the owner's close) within which the node must submit its settlement.
        uint64 settleWindow;
        uint64 maxUnits;
        /// Verification surcharge of security level 1, in bps of the stack's price.
        uint16 surchargeBps;
        /// The part of a stack's price the owner pays however little it uses, to the treasury: reserving capacity
        /// costs something, so buying up the honest nodes' capacity and leaving it unused does not pay.
        uint16 minChargeBps;
        /// Nodes a dispute committee needs at least: with a task's attesters, how many other nodes must share a
        /// node's echelon for it to be drawn on a verified task (fewer, and its work could not be checked). The
        /// dispute manager's own minimum, read at each purchase, applies when it is higher (`minCommittee()`).
        uint8 minCommittee;
    }

    ITaskRegistry public immutable taskRegistry;
    INodeRegistry public immutable nodeRegistry;
    IModelRegistry public immutable modelRegistry;
    IAtomaVault public immutable vault;
    Params public params;
    /// The settlement manager, whose `settlementSpan` counts in the exit notice's budget (wired once).
    ISettlementSpan public settlement;
    /// The longest `maxDuration` and `settleWindow` ever set: a stack in flight may have been sold under them.
    uint64 public longestDuration;
    uint64 public longestSettleWindow;

    /// A stack as stored: three slots, the pending purchase's fields and its frozen candidates included (issue 15:
    /// a purchase writes three fresh slots, not five). `getStack` gives it as `IStackManager.Stack`. Until its node
    /// is bound (`nodeId` 0: node ids start at 1), the binding's words hold the purchase: `expiresAt` its time (the
    /// low 48 bits) and the surcharge it locked (the next 16), `closedAt` the block its draw is armed on, and,
    /// while it is pending (`Pending`, `Choosing`), the price and escrow words together the hash of its frozen
    /// candidates or drawn set (`_frozenOf`; the escrow it locked is the vault's, `escrowOf`). A cancelled
    /// purchase keeps its purchase words, with the price word 0 and the escrow word the refund. `minChargeBps` and
    /// `duration` stay for the stack's life. Task ids are the task registry's sequential ids (`_newStack` refuses
    /// one above 32 bits); a value too wide for its field is refused (`FieldOverflow`), never truncated.
    struct Record {
        address owner;
        uint32 taskId;
        StackStatus status;
        uint8 securityLevel;
        uint16 minChargeBps;
        uint32 duration;
        uint64 nodeId;
        uint64 units;
        uint64 expiresAt;
        uint64 closedAt;
        uint128 pricePerMillion;
        uint128 escrow;
    }

    uint256 public stackCount;
    mapping(uint256 stackId => Record) internal _stacks;
    /// The block a walked or set purchase was made in, kept only once its draw is re-armed on a later block
    /// (`closedAt` holds the purchase block until then): a listed purchase is never re-armed.
    mapping(uint256 stackId => uint64) internal _boughtAtIfRearmed;

    event StackRequested(
        uint256 indexed stackId,
        address indexed owner,
        uint256 indexed taskId,
        uint64 units,
        uint256 locked,
        uint64 armedAt,
        Candidate[] candidates
    );
    /// A purchase from a set: with its `StackRequested`, the size of the set `drawSet` will draw.
    event NodeSetRequested(uint256 indexed stackId, uint8 setSize);
    /// The set a purchase drew: its owner binds the stack to one member (`chooseFromSet`).
    event NodeSetDrawn(uint256 indexed stackId, Candidate[] set);
    event NodeDrawRearmed(uint256 indexed stackId, uint64 armedAt);
    event StackCancelled(uint256 indexed stackId, uint256 refunded);
    event StackBought(
        uint256 indexed stackId,
        address indexed owner,
        uint256 indexed nodeId,
        uint256 taskId,
        uint64 units,
        uint128 pricePerMillion,
        uint256 escrow,
        uint64 expiresAt
    );
    event StackClosed(uint256 indexed stackId, uint256 indexed nodeId, uint256 settleDeadline);
    event ParamsUpdated(Params params);

    error UnknownStack(uint256 stackId);
    error NotStackOwner(uint256 stackId, address caller);
    error StackNotActive(uint256 stackId);
    error TaskUnavailable(uint256 taskId);
    error InvalidUnits(uint64 units, uint64 maxUnits);
    error InvalidDuration(uint64 duration);
    error NoEligibleNode(uint256 taskId);
    /// On a verified task, no candidate's echelon holds `needed` other eligible nodes: its work could not be checked.
    error TooFewVerifiers(uint256 taskId, uint256 needed);
    error StackNotPending(uint256 stackId);
    error InvalidSetSize(uint256 setSize, uint256 max);
    /// The stack is not waiting for its owner to choose a member of its drawn set.
    error StackNotChoosing(uint256 stackId);
    error NotInSet(uint256 stackId, uint256 nodeId);
    /// The buyer chose a node the draw could not have drawn now: not a candidate under the cap with room.
    error NodeNotOffered(uint256 taskId, uint256 nodeId);
    error WrongCandidates(uint256 stackId);
    /// A listed purchase's candidates must be 1 to `MAX_LISTED`, in strictly increasing node order, each priced at
    /// most the cap.
    error BadCandidateList(uint256 taskId);
    error NotServingNode(uint256 stackId, address caller);
    error SettlementTooLate(uint256 stackId, uint256 deadline);
    error UnitsExceedStack(uint64 units, uint64 bought);
    /// A stack's path to its dispute committee (`needed` seconds) would outlast the exit notice.
    error ExitNoticeTooShort(uint256 needed, uint256 notice);
    /// A value does not fit the `bits` of the field it is stored in (a time, a price or an escrow out of range).
    error FieldOverflow(uint256 value, uint256 bits);

    constructor(
        address admin,
        ITaskRegistry taskRegistry_,
        INodeRegistry nodeRegistry_,
        IModelRegistry modelRegistry_,
        IAtomaVault vault_,
        Params memory params_
    ) AtomaAccess(admin) EIP712("Atoma", "1") {
        if (
            address(taskRegistry_) == address(0) || address(nodeRegistry_) == address(0)
                || address(modelRegistry_) == address(0) || address(vault_) == address(0)
        ) revert ZeroAddress();
        taskRegistry = taskRegistry_;
        nodeRegistry = nodeRegistry_;
        modelRegistry = modelRegistry_;
        vault = vault_;
        _setParams(params_);
    }

    function setParams(Params calldata params_) external onlyRole(GOVERNOR_ROLE) {
        _setParams(params_);
        if (address(settlement) != address(0)) checkExitNotice(settlement.settlementSpan());
    }

    /// Links the settlement manager once; the exit notice must cover the path with its windows.
    function wire(ISettlementSpan settlement_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(settlement) != address(0)) revert AlreadyWired();
        if (address(settlement_) == address(0)) revert ZeroAddress();
        settlement = settlement_;
        checkExitNotice(settlement_.settlementSpan());
    }

    /// The longest time from a purchase to its settlement: the draw limit, the longest duration and settle window.
    function longestToSettle() public view returns (uint256) {
        return DRAW_LIMIT + longestDuration + longestSettleWindow;
    }

    /// Reverts unless a purchase, settled `span` seconds before its dispute committee is frozen at the latest,
    /// fits the task registry's exit notice.
    function checkExitNotice(uint256 span) public view {
        uint256 needed = longestToSettle() + span;
        uint256 notice = taskRegistry.exitNotice();
        if (needed > notice) revert ExitNoticeTooShort(needed, notice);
    }

    /// The committee a verified sale must leave room for: the larger of this contract's `minCommittee` and the
    /// dispute manager's, read now, so that no governance setting of either can sell a stack whose dispute is bound
    /// to end without a committee (item 4).
    function minCommittee() public view returns (uint256 least) {
        least = params.minCommittee;
        if (address(settlement) == address(0)) return least;
        address disputes = settlement.disputeManager();
        if (disputes == address(0)) return least;
        (, uint256 theirs) = IDisputeParams(disputes).params();
        if (theirs > least) least = theirs;
    }

    function _setParams(Params memory p) internal {
        _check(p.minDuration >= 60 && p.minDuration <= p.maxDuration, "minDuration", p.minDuration);
        _check(p.maxDuration <= 365 days, "maxDuration", p.maxDuration);
        _check(p.settleWindow >= 60 && p.settleWindow <= 30 days, "settleWindow", p.settleWindow);
        _check(p.maxUnits >= 1 && p.maxUnits <= 1e15, "maxUnits", p.maxUnits);
        _check(p.surchargeBps <= 5_000, "surchargeBps", p.surchargeBps);
        _check(p.minChargeBps <= 5_000, "minChargeBps", p.minChargeBps);
        _check(p.minCommittee >= 1 && p.minCommittee <= 32, "minCommittee", p.minCommittee);
        params = p;
        if (p.maxDuration > longestDuration) longestDuration = p.maxDuration;
        if (p.settleWindow > longestSettleWindow) longestSettleWindow = p.settleWindow;
        emit ParamsUpdated(p);
    }

    /// The key of a stack's escrow in the vault.
    function escrowKey(uint256 stackId) public pure returns (bytes32) {
        return bytes32(stackId);
    }

    /// Buys `units` compute units on `taskId` at a price per million of at most `maxPricePerMillion`, valid for
    /// `duration` seconds from the draw. Freezes the candidates, pulls the escrow at the highest candidate price
    /// from the caller (approve the vault first) and arms the draw: call `drawNode` in a later block.
    function buyStack(uint256 taskId, uint64 units, uint128 maxPricePerMillion, uint64 duration)
        external
        nonReentrant
        returns (uint256 stackId, Candidate[] memory candidates)
    {
        return _request(taskId, units, maxPricePerMillion, duration, 0);
    }

    /// As `buyStack`, but the later draw (`drawSet`, anyone's call) draws a set of up to `setSize` distinct
    /// candidates (2 to `MAX_SET_SIZE`), and the owner binds the stack to one of them (`chooseFromSet`).
    function buyStackFromSet(uint256 taskId, uint64 units, uint128 maxPricePerMillion, uint64 duration, uint8 setSize)
        external
        nonReentrant
        returns (uint256 stackId, Candidate[] memory candidates)
    {
        if (setSize < 2 || setSize > MAX_SET_SIZE) revert InvalidSetSize(setSize, MAX_SET_SIZE);
        (stackId, candidates) = _request(taskId, units, maxPricePerMillion, duration, setSize);
        emit NodeSetRequested(stackId, setSize);
    }

    /// As `buyStack`, but the buyer names the candidates (as `candidatesFor` lists them now, in increasing node
    /// order) instead of the purchase walking the task's subscribers: nothing is read per candidate here. Each is
    /// checked when, and only if, it is drawn (`drawListed`): by every rule `candidatesFor` applies, against the
    /// node's state at the draw, and at most at the price listed for it. The list is frozen by its hash, so nobody
    /// but the buyer shapes it, and the buyer only for its own purchase: naming fewer nodes narrows its own draw,
    /// which choosing a node outright (`buyStackFromNode`) already allows. Locks the escrow at the highest listed
    /// price (each at most `maxPricePerMillion`).
    function buyStackAmong(
        uint256 taskId,
        uint64 units,
        uint128 maxPricePerMillion,
        uint64 duration,
        Candidate[] calldata candidates
    ) external nonReentrant returns (uint256 stackId) {
        (Params memory p, ITaskRegistry.Task memory task) = _checkTerms(taskId, units, duration);
        uint256 n = candidates.length;
        if (n == 0) revert NoEligibleNode(taskId);
        if (n > MAX_LISTED) revert BadCandidateList(taskId);
        uint128 highest;
        {
            uint256 previous;
            for (uint256 i = 0; i < n; ++i) {
                Candidate calldata c = candidates[i];
                if (c.nodeId <= previous || c.pricePerMillion > maxPricePerMillion) revert BadCandidateList(taskId);
                previous = c.nodeId;
                if (c.pricePerMillion > highest) highest = c.pricePerMillion;
            }
        }
        (stackId, n) = _newStack(
            taskId, units, duration, p, uint8(task.securityLevel), highest, _listedHash(candidates)
        );
        // `n` is now the escrow locked (a stack variable reused: one more would be too deep for the compiler).
        _logListed(stackId, taskId, units, n, candidates);
    }

    /// `emit StackRequested(stackId, msg.sender, taskId, units, locked, uint64(block.number), candidates)`, with the
    /// names copied from the calldata as they lie (checked clean by `buyStackAmong`'s loop) instead of through the
    /// ABI encoder (issue 15): the same topics and data.
    function _logListed(uint256 stackId, uint256 taskId, uint64 units, uint256 locked, Candidate[] calldata candidates)
        internal
    {
        bytes32 topic = StackRequested.selector;
        assembly ("memory-safe") {
            let p := mload(0x40)
            let size := mul(candidates.length, 0x40)
            mstore(p, and(units, 0xffffffffffffffff))
            mstore(add(p, 0x20), locked)
            mstore(add(p, 0x40), number())
            mstore(add(p, 0x60), 0x80)
            mstore(add(p, 0x80), candidates.length)
            calldatacopy(add(p, 0xa0), candidates.offset, size)
            log4(p, add(size, 0xa0), topic, stackId, caller(), taskId)
        }
    }

    /// Draws the node of a listed purchase (`buyStackAmong`) among its `candidates`, as `drawNode` does, then checks
    /// the drawn node alone by the purchase's rules now, at a price at most the one listed (a node that raised its
    /// price since, left, filled up or fell below the task's reputation cancels and refunds the purchase, never
    /// passing it on). On a verified task the drawn node's echelon must hold the attesters and a committee besides
    /// it: `checkers` may name that many such nodes (in increasing order, eligible active subscribers of the task
    /// at its reputation, in the drawn node's echelon, not the node), each checked here, so the task's subscribers
    /// need not be walked; a list with fewer names, or one with a name that fails, walks them instead
    /// (`candidatesFor`'s count). Anyone may call it (the buyer, a listed node binding itself, anyone), in any
    /// block after the purchase: the draw is seeded by the purchase block's hash alone, so whoever resolves it and
    /// whenever, within the horizon, the same node is drawn. Once that hash is gone (256 blocks) the purchase is
    /// cancelled and refunded in full, never re-armed: nobody can wait out a draw to have it made again.
    function drawListed(uint256 stackId, Candidate[] calldata candidates, uint256[] calldata checkers)
        external
        nonReentrant
        returns (uint256 nodeId)
    {
        (Record storage stack, uint256 seed, bool due) =
            _dueDraw(stackId, _listedHash(candidates), true);
        if (!due) return 0;
        uint256[] memory order = DeferredRandom.identity(candidates.length);
        DeferredRandom.step(order, seed, 0);
        Candidate calldata c = candidates[order[0]];
        if (!_servesListed(stack, c, checkers)) return _cancel(stackId, stack);
        _open(stackId, stack, c, _escrowInVault(stackId));
        return c.nodeId;
    }

    /// `keccak256(abi.encode(LISTED, candidates))`, hashed from the calldata as it lies (issue 15: the ABI encoder's
    /// copy of the list cost the purchase and the draw each a few thousand gas). The same bytes for a clean list:
    /// `Candidate` is static, so the encoding is the tag, the offset 0x40, the length and the words as sent. A list
    /// with dirty bits hashes differently, so it is refused at the draw (`WrongCandidates`), and the purchase reads
    /// every name (`buyStackAmong`'s loop), which reverts on dirty bits before this.
    function _listedHash(Candidate[] calldata candidates) internal pure returns (bytes32 h) {
        bytes32 tag = LISTED;
        assembly ("memory-safe") {
            let p := mload(0x40)
            let size := mul(candidates.length, 0x40)
            mstore(p, tag)
            mstore(add(p, 0x20), 0x40)
            mstore(add(p, 0x40), candidates.length)
            calldatacopy(add(p, 0x60), candidates.offset, size)
            h := keccak256(p, add(size, 0x60))
        }
    }

    /// Whether the node `c` drawn for a listed purchase can take it now, at most at its listed price (`_offered`),
    /// its checkers named (`_namedCheckers`) or counted.
    function _servesListed(Record storage stack, Candidate calldata c, uint256[] calldata checkers)
        internal
        view
        returns (bool offered)
    {
        uint256 taskId = stack.taskId;
        ITaskRegistry.Task memory task = taskRegistry.getTask(taskId);
        (, offered) = _offered(taskId, task, c.nodeId, stack.units, c.pricePerMillion, false);
        if (!offered || task.securityLevel != ITaskRegistry.SecurityLevel.CrossValidation) return offered;
        uint256 needed = uint256(task.attesters) + minCommittee();
        if (checkers.length >= needed && _namedCheckers(taskId, task, c.nodeId, checkers, needed)) return true;
        return _checked(taskId, task, _stateOf(c.nodeId).echelon);
    }

    function _stateOf(uint256 nodeId) internal view returns (INodeRegistry.NodeState memory) {
        uint256[] memory one = new uint256[](1);
        one[0] = nodeId;
        return nodeRegistry.nodeStates(one)[0];
    }

    /// Whether the first `needed` of `checkers` are all good: distinct (increasing), not `nodeId`, each an active
    /// subscriber of the task, eligible, at its reputation, in `nodeId`'s echelon. A false one only makes the draw
    /// count the subscribers instead (`_servesListed`), so a named checker that leaves just before the draw cannot
    /// stall the purchase.
    function _namedCheckers(
        uint256 taskId,
        ITaskRegistry.Task memory task,
        uint256 nodeId,
        uint256[] calldata checkers,
        uint256 needed
    ) internal view returns (bool) {
        uint256[] memory ids = new uint256[](needed + 1);
        ids[0] = nodeId;
        uint256 previous;
        for (uint256 i = 0; i < needed; ++i) {
            uint256 id = checkers[i];
            if (id <= previous || id == nodeId) return false;
            previous = id;
            ids[i + 1] = id;
        }
        // One call for every name's subscription, reading only whether it is active.
        if (!taskRegistry.allActive(taskId, checkers[:needed])) return false;
        INodeRegistry.NodeState[] memory states = nodeRegistry.nodeStates(ids);
        for (uint256 i = 1; i <= needed; ++i) {
            INodeRegistry.NodeState memory s = states[i];
            if (!s.eligible || s.reputation < task.minReputation || s.echelon != states[0].echelon) return false;
        }
        return true;
    }

    /// Buys a stack served by `nodeId`, which must be a node the draw could draw now: an eligible subscriber of
    /// the task at a price at most `maxPricePerMillion` with room for `units` (and, on a verified task, enough
    /// peers to check it). Active at once, at the node's price, valid for `duration` seconds.
    function buyStackFromNode(
        uint256 taskId,
        uint256 nodeId,
        uint64 units,
        uint128 maxPricePerMillion,
        uint64 duration
    ) external nonReentrant returns (uint256 stackId) {
        (Params memory p, ITaskRegistry.Task memory task) = _checkTerms(taskId, units, duration);
        uint8 level = uint8(task.securityLevel);
        bool verified = level == uint8(ITaskRegistry.SecurityLevel.CrossValidation);
        // On a confidential task, a node without an accepted attestation is refused with the registry's reason.
        if (level == uint8(ITaskRegistry.SecurityLevel.Confidential)) taskRegistry.checkAttested(taskId, nodeId);
        uint128 price = _offer(taskId, task, nodeId, units, maxPricePerMillion, verified);
        uint256 locked;
        (stackId, locked) = _newStack(taskId, units, duration, p, level, price, bytes32(0));
        _open(stackId, _stacks[stackId], Candidate({nodeId: uint64(nodeId), pricePerMillion: price}), locked);
    }

    /// The price of `nodeId` if it is one of `candidatesFor(taskId, units, maxPricePerMillion)` (the same rules,
    /// checked for the one node); reverts `NodeNotOffered` otherwise.
    function _offer(
        uint256 taskId,
        ITaskRegistry.Task memory task,
        uint256 nodeId,
        uint64 units,
        uint128 maxPricePerMillion,
        bool verified
    ) internal view returns (uint128 price) {
        bool offered;
        (price, offered) = _offered(taskId, task, nodeId, units, maxPricePerMillion, verified);
        if (!offered) revert NodeNotOffered(taskId, nodeId);
    }

    /// Whether `nodeId` passes `candidatesFor`'s rules now (at a price at most `maxPricePerMillion`), and its price.
    /// A drawn or chosen node is checked again with them (at any price: it keeps the price it was frozen with).
    function _offered(
        uint256 taskId,
        ITaskRegistry.Task memory task,
        uint256 nodeId,
        uint64 units,
        uint128 maxPricePerMillion,
        bool verified
    ) internal view returns (uint128, bool) {
        ITaskRegistry.Subscription memory sub = taskRegistry.getSubscription(taskId, nodeId);
        INodeRegistry.NodeState memory state = _stateOf(nodeId);
        bool offered = sub.active && sub.pricePerMillion <= maxPricePerMillion && _hasRoom(sub, units)
            && state.eligible && state.reputation >= task.minReputation;
        // On a verified task its echelon must hold the attesters and a committee besides it, as in the draw's pool.
        if (offered && verified) {
            offered = _checked(taskId, task, state.echelon);
        }
        // On a confidential task it must hold an attestation the registry accepts now.
        if (offered && task.securityLevel == ITaskRegistry.SecurityLevel.Confidential) {
            offered = taskRegistry.attested(taskId, nodeId);
        }
        return (sub.pricePerMillion, offered);
    }

    /// Whether `echelon` holds, besides one node of it, the task's attesters and a committee among the subscribers
    /// that may take new work (the pool the draw's candidates are counted in).
    function _checked(uint256 taskId, ITaskRegistry.Task memory task, uint32 echelon) internal view returns (bool) {
        return _peers(taskRegistry.offers(taskId, 0, 0), echelon) - 1 >= uint256(task.attesters) + minCommittee();
    }

    /// The node drawn or chosen for a pending stack can still take it, by the purchase's rules (`_offered`); on a
    /// verified task its echelon's checkers are counted again only when `recount` (the choice, which may come up
    /// to `DRAW_LIMIT` after the purchase; the count walks every subscriber, so the draw, within blocks, skips it).
    function _serves(Record storage stack, uint256 nodeId, bool recount) internal view returns (bool offered) {
        (, offered) = _offered(
            stack.taskId,
            taskRegistry.getTask(stack.taskId),
            nodeId,
            stack.units,
            type(uint128).max,
            recount && stack.securityLevel == uint8(ITaskRegistry.SecurityLevel.CrossValidation)
        );
    }

    /// Checks a purchase's units, duration and task; returns the parameters in force and the task's security
    /// level (any but 2, whose requests go through the consensus contract).
    function _checkTerms(uint256 taskId, uint64 units, uint64 duration)
        internal
        view
        returns (Params memory p, ITaskRegistry.Task memory task)
    {
        p = params;
        if (units == 0 || units > p.maxUnits) revert InvalidUnits(units, p.maxUnits);
        if (duration < p.minDuration || duration > p.maxDuration) revert InvalidDuration(duration);
        task = taskRegistry.getTask(taskId);
        if (
            !task.active || task.securityLevel == ITaskRegistry.SecurityLevel.Consensus
                || !modelRegistry.isActive(task.modelId)
        ) revert TaskUnavailable(taskId);
    }

    /// The first step of a drawn purchase (`setSize` 0: one node; else a set): freezes the candidates, locks the
    /// escrow at the highest of their prices and arms the draw.
    function _request(uint256 taskId, uint64 units, uint128 maxPricePerMillion, uint64 duration, uint8 setSize)
        internal
        returns (uint256 stackId, Candidate[] memory candidates)
    {
        (Params memory p, ITaskRegistry.Task memory task) = _checkTerms(taskId, units, duration);
        candidates = _candidates(taskId, task, units, maxPricePerMillion);
        uint128 highest;
        for (uint256 i = 0; i < candidates.length; ++i) {
            if (candidates[i].pricePerMillion > highest) highest = candidates[i].pricePerMillion;
        }
        bytes32 frozen =
            setSize == 0 ? keccak256(abi.encode(candidates)) : keccak256(abi.encode(candidates, setSize));
        uint256 locked;
        (stackId, locked) = _newStack(taskId, units, duration, p, uint8(task.securityLevel), highest, frozen);
        emit StackRequested(stackId, msg.sender, taskId, units, locked, uint64(block.number), candidates);
    }

    /// Records a pending stack bought by the caller and locks its escrow at `price` (plus the surcharge of a
    /// verified task).
    function _newStack(
        uint256 taskId,
        uint64 units,
        uint64 duration,
        Params memory p,
        uint8 level,
        uint128 price,
        bytes32 candidatesHash
    ) internal returns (uint256 stackId, uint256 locked) {
        bool verified = level == uint8(ITaskRegistry.SecurityLevel.CrossValidation);
        if (taskId > type(uint32).max) revert TaskUnavailable(taskId);
        stackId = ++stackCount;
        uint16 surcharge = verified ? p.surchargeBps : 0;
        locked = _locked(units, price, surcharge);
        // Pending: the binding's words hold the purchase (`Record`). `maxDuration` (at most 365 days) fits 32 bits,
        // `surchargeBps` (at most 5,000) 16.
        _stacks[stackId] = Record({
            owner: msg.sender,
            taskId: uint32(taskId),
            status: StackStatus.Pending,
            securityLevel: level,
            minChargeBps: p.minChargeBps,
            duration: uint32(duration),
            nodeId: 0,
            units: units,
            expiresAt: uint64(_fit(block.timestamp, 48)) | uint64(surcharge) << 48,
            closedAt: uint64(block.number),
            pricePerMillion: uint128(uint256(candidatesHash) >> 128),
            escrow: uint128(uint256(candidatesHash))
        });
        vault.lock(escrowKey(stackId), msg.sender, locked);
    }

    /// What a purchase locks at `price` with the surcharge `surchargeBps`: at the purchase, at the highest
    /// candidate price, and again at the draw from the same frozen candidates (the escrow is the vault's while
    /// pending, `Record`). Refused (`FieldOverflow`) when it does not fit the stack's 128-bit escrow word.
    function _locked(uint64 units, uint128 price, uint16 surchargeBps) internal pure returns (uint256 locked) {
        uint256 cost = Units.cost(units, price);
        locked = _fit(cost + cost * surchargeBps / BPS, 128);
    }

    /// What the vault holds for a stack: while it is pending, all that its purchase locked.
    function _escrowInVault(uint256 stackId) internal view returns (uint256) {
        return vault.escrowOf(escrowKey(stackId));
    }

    /// `value`, reverting `FieldOverflow` when it needs more than `bits` bits.
    function _fit(uint256 value, uint256 bits) internal pure returns (uint256) {
        if (value >> bits != 0) revert FieldOverflow(value, bits);
        return value;
    }

    /// A pending stack's frozen candidates (or drawn set) hash: its price and escrow words together (`Record`).
    function _frozenOf(Record storage stack) internal view returns (bytes32) {
        return bytes32(uint256(stack.pricePerMillion) << 128 | stack.escrow);
    }

    function _setFrozen(Record storage stack, bytes32 frozen) internal {
        stack.pricePerMillion = uint128(uint256(frozen) >> 128);
        stack.escrow = uint128(uint256(frozen));
    }

    /// A pending stack's purchase time and locked surcharge, in its `expiresAt` word (`Record`).
    function _boughtTimeOf(Record storage stack) internal view returns (uint256) {
        return uint48(stack.expiresAt);
    }

    function _surchargeOf(Record storage stack) internal view returns (uint16) {
        return uint16(stack.expiresAt >> 48);
    }

    function _pending(StackStatus status) internal pure returns (bool) {
        return status == StackStatus.Pending || status == StackStatus.Choosing;
    }

    /// Draws the serving node of a pending stack among its frozen `candidates` (as `StackRequested` listed them),
    /// in a block after the purchase. Anyone may call it. Returns the node, or 0 when the draw had expired (more
    /// than 256 blocks: it is re-armed on this block, call again later), or the drawn node cannot serve the stack
    /// any more, or `DRAW_LIMIT` has passed since the purchase (in these two, the stack is cancelled and the owner
    /// refunded in full). A drawn node that cannot serve never hands the stack to another candidate: anyone who
    /// can fill the nodes ranked ahead once the hash is known could otherwise steer the draw to its own.
    function drawNode(uint256 stackId, Candidate[] calldata candidates) external nonReentrant returns (uint256 nodeId) {
        (Record storage stack, uint256 seed, bool due) = _dueDraw(stackId, keccak256(abi.encode(candidates)), false);
        if (!due) return 0;
        uint256[] memory order = DeferredRandom.identity(candidates.length);
        DeferredRandom.step(order, seed, 0);
        Candidate calldata c = candidates[order[0]];
        if (!_serves(stack, c.nodeId, false)) return _cancel(stackId, stack);
        _open(stackId, stack, c, _escrowInVault(stackId));
        return c.nodeId;
    }

    /// Draws the set of a pending set purchase: the first `setSize` of its frozen `candidates` (as
    /// `StackRequested` and `NodeSetRequested` listed them) in the seeded order `drawNode` draws by, whether or
    /// not they can still serve (none is passed over, for the reason `drawNode` gives). Anyone may call it, in a
    /// block after the purchase. Returns the set (its owner then calls `chooseFromSet`), or none when the draw was
    /// re-armed or the stack cancelled (as for `drawNode`).
    function drawSet(uint256 stackId, Candidate[] calldata candidates, uint8 setSize)
        external
        nonReentrant
        returns (Candidate[] memory set)
    {
        if (setSize < 2 || setSize > MAX_SET_SIZE) revert InvalidSetSize(setSize, MAX_SET_SIZE);
        (Record storage stack, uint256 seed, bool due) =
            _dueDraw(stackId, keccak256(abi.encode(candidates, setSize)), false);
        if (!due) return set;
        uint256 size = setSize < candidates.length ? setSize : candidates.length;
        set = new Candidate[](size);
        uint256[] memory order = DeferredRandom.identity(candidates.length);
        for (uint256 i = 0; i < size; ++i) {
            DeferredRandom.step(order, seed, i);
            set[i] = candidates[order[i]];
        }
        _setFrozen(stack, keccak256(abi.encode(set)));
        stack.status = StackStatus.Choosing;
        emit NodeSetDrawn(stackId, set);
    }

    /// The owner binds its stack to `nodeId`, a member of its drawn `set` (as `NodeSetDrawn` listed it), at the
    /// price that member asked at the purchase. Once only: the stack is then served by that node alone. When that
    /// member cannot serve it any more (by the purchase's rules, `_offered`), the stack is cancelled and refunded
    /// in full instead (returns 0): the owner is never left with only the members a third party chose to leave it.
    /// Past `DRAW_LIMIT` from the purchase anyone may call it, and it cancels and refunds the stack.
    function chooseFromSet(uint256 stackId, Candidate[] calldata set, uint256 nodeId)
        external
        nonReentrant
        returns (uint256)
    {
        Record storage stack = _existing(stackId);
        if (stack.status != StackStatus.Choosing) revert StackNotChoosing(stackId);
        if (block.timestamp > _boughtTimeOf(stack) + DRAW_LIMIT) return _cancel(stackId, stack);
        if (stack.owner != msg.sender) revert NotStackOwner(stackId, msg.sender);
        if (keccak256(abi.encode(set)) != _frozenOf(stack)) revert WrongCandidates(stackId);
        for (uint256 i = 0; i < set.length; ++i) {
            if (set[i].nodeId != nodeId) continue;
            if (!_serves(stack, nodeId, true)) return _cancel(stackId, stack);
            _open(stackId, stack, set[i], _escrowInVault(stackId));
            return nodeId;
        }
        revert NotInSet(stackId, nodeId);
    }

    /// The owner cancels its stack while it waits for its choice of a member (`Choosing`): refunded in full.
    function cancelChoice(uint256 stackId) external nonReentrant {
        Record storage stack = _existing(stackId);
        if (stack.status != StackStatus.Choosing) revert StackNotChoosing(stackId);
        if (stack.owner != msg.sender) revert NotStackOwner(stackId, msg.sender);
        _cancel(stackId, stack);
    }

    /// The seed of a pending stack's draw (the hash of the block it is armed on, `closedAt` while pending), and
    /// `due` false when the draw ended in this call instead: `DRAW_LIMIT` passed since the purchase (its time,
    /// `expiresAt` while pending: cancelled and refunded, whatever the kind), or the armed block's hash is gone: a
    /// listed purchase (`cancelExpired`) is then cancelled and refunded, a walked or set purchase re-armed on this
    /// block. The caller's `candidatesHash` (tagged by its kind, `LISTED`) must be the frozen one before the expiry
    /// is acted on, so the action is the purchase's own kind's, never the entry point's (review M-1: `drawNode` on
    /// a listed purchase re-armed it, `drawListed` on a walked or set one cancelled it).
    function _dueDraw(uint256 stackId, bytes32 candidatesHash, bool cancelExpired)
        internal
        returns (Record storage stack, uint256 seed, bool due)
    {
        stack = _existing(stackId);
        if (stack.status != StackStatus.Pending) revert StackNotPending(stackId);
        if (block.timestamp > _boughtTimeOf(stack) + DRAW_LIMIT) {
            _cancel(stackId, stack);
            return (stack, 0, false);
        }
        if (candidatesHash != _frozenOf(stack)) revert WrongCandidates(stackId);
        bool expired;
        (seed, expired) = DeferredRandom.seed(stack.closedAt, bytes32(stackId));
        if (!expired) return (stack, seed, true);
        if (cancelExpired) {
            _cancel(stackId, stack);
        } else {
            if (_boughtAtIfRearmed[stackId] == 0) _boughtAtIfRearmed[stackId] = stack.closedAt;
            stack.closedAt = uint64(block.number);
            emit NodeDrawRearmed(stackId, uint64(block.number));
        }
    }

    /// Cancels a pending stack and refunds its escrow in full; its price and escrow words, the frozen hash while
    /// it was pending, then read 0 and the refund (`Record`).
    function _cancel(uint256 stackId, Record storage stack) internal returns (uint256) {
        stack.status = StackStatus.Closed;
        uint256 refunded = vault.refund(escrowKey(stackId), stack.owner);
        stack.pricePerMillion = 0;
        stack.escrow = uint128(refunded);
        emit StackCancelled(stackId, refunded);
        return 0;
    }

    /// The candidates `buyStack` would freeze now: eligible subscribers of the task (active, past their
    /// registration epoch, collateral and reputation at the minimum) with a price at most `maxPricePerMillion`
    /// and room for `units`; on a verified task, only those whose echelon holds at least the task's attesters
    /// plus `minCommittee()` other eligible subscribers; on a confidential task, only those the attestation
    /// registry accepts now (the task registry's draw leaves the others out). Reverts `NoEligibleNode` or
    /// `TooFewVerifiers` when none.
    function candidatesFor(uint256 taskId, uint64 units, uint128 maxPricePerMillion)
        public
        view
        returns (Candidate[] memory)
    {
        return _candidates(taskId, taskRegistry.getTask(taskId), units, maxPricePerMillion);
    }

    function _candidates(uint256 taskId, ITaskRegistry.Task memory task, uint64 units, uint128 maxPricePerMillion)
        internal
        view
        returns (Candidate[] memory candidates)
    {
        // One pass over the subscribers (`TaskRegistry.offers`): the pool, each with its price, echelon and room.
        ITaskRegistry.Offer[] memory pool = taskRegistry.offers(taskId, units, maxPricePerMillion);
        bool verified = task.securityLevel == ITaskRegistry.SecurityLevel.CrossValidation;
        uint256 needed = verified ? uint256(task.attesters) + minCommittee() : 0;
        candidates = new Candidate[](pool.length);
        uint256 found;
        bool priced;
        for (uint256 i = 0; i < pool.length; ++i) {
            ITaskRegistry.Offer memory o = pool[i];
            if (!o.offered) continue;
            priced = true;
            if (verified && _peers(pool, o.echelon) - 1 < needed) continue;
            candidates[found++] = Candidate({nodeId: o.nodeId, pricePerMillion: o.pricePerMillion});
        }
        if (found == 0) {
            if (priced) revert TooFewVerifiers(taskId, needed);
            revert NoEligibleNode(taskId);
        }
        assembly ("memory-safe") {
            mstore(candidates, found)
        }
    }

    /// How many of `pool` (the task's subscribers that may take new work: eligible, at its reputation, not
    /// leaving, at any price and capacity) are in `echelon`.
    function _peers(ITaskRegistry.Offer[] memory pool, uint32 echelon) internal pure returns (uint256 n) {
        for (uint256 i = 0; i < pool.length; ++i) {
            if (pool[i].echelon == echelon) ++n;
        }
    }

    /// Room for `units` more within the subscription's capacity and the collateral that backs it (as
    /// `TaskRegistry.draw` requires: the reserved units' cost at the subscription's price, at most its collateral).
    function _hasRoom(ITaskRegistry.Subscription memory sub, uint64 units) internal pure returns (bool) {
        uint256 reserved = uint256(sub.reserved) + units;
        return reserved <= sub.capacity && Units.cost(reserved, sub.pricePerMillion) <= sub.collateral;
    }

    /// Binds the stack to `c` at its frozen price, with the surcharge locked at the purchase (so the escrow never
    /// exceeds what was `locked`: `c`'s price is at most the highest candidate price it was locked at; a higher
    /// one underflows and reverts).
    function _open(uint256 stackId, Record storage stack, Candidate memory c, uint256 locked) internal {
        uint256 escrow = _locked(stack.units, c.pricePerMillion, _surchargeOf(stack));
        uint256 excess = locked - escrow;
        uint64 expiresAt = uint64(block.timestamp) + stack.duration;
        stack.status = StackStatus.Active;
        stack.nodeId = c.nodeId;
        stack.pricePerMillion = c.pricePerMillion;
        stack.escrow = uint128(escrow);
        stack.expiresAt = expiresAt;
        stack.closedAt = 0;
        taskRegistry.reserve(stack.taskId, c.nodeId, stack.units);
        nodeRegistry.addObligation(c.nodeId);
        if (excess != 0) vault.release(escrowKey(stackId), stack.owner, excess);
        emit StackBought(
            stackId, stack.owner, c.nodeId, stack.taskId, stack.units, c.pricePerMillion, escrow, expiresAt
        );
    }

    /// The owner asks the node to settle now: the stack stops serving and the settlement deadline starts.
    function closeStack(uint256 stackId) external {
        Record storage stack = _existing(stackId);
        if (stack.owner != msg.sender) revert NotStackOwner(stackId, msg.sender);
        if (stack.status != StackStatus.Active || stack.closedAt != 0) revert StackNotActive(stackId);
        stack.closedAt = uint64(block.timestamp);
        emit StackClosed(stackId, stack.nodeId, settleDeadline(stackId));
    }

    // ---------------------------------------------------------------- protocol

    /// The node (`caller` must act for it) submits its settlement of `units`, by the deadline: the stack serves
    /// no more (its `closedAt` marks the end of service, when the owner had not closed it) and its capacity is
    /// freed. Returns the stack, so the settlement needs no second call.
    function markSettling(uint256 stackId, address caller, uint64 units)
        external
        onlyRole(PROTOCOL_ROLE)
        returns (Stack memory stack)
    {
        Record storage stored = _existing(stackId);
        if (stored.status != StackStatus.Active) revert StackNotActive(stackId);
        stack = _view(stored);
        if (!nodeRegistry.isNodeActor(stack.nodeId, caller)) revert NotServingNode(stackId, caller);
        uint256 deadline = settleDeadline(stackId);
        if (block.timestamp > deadline) revert SettlementTooLate(stackId, deadline);
        if (units > stack.units) revert UnitsExceedStack(units, stack.units);
        stored.status = StackStatus.Settling;
        if (stack.closedAt == 0) stored.closedAt = uint64(block.timestamp);
        taskRegistry.release(stack.taskId, stack.nodeId, stack.units);
    }

    /// The stack's escrow is paid out: the node's obligation ends, with a reputation point when it was honest.
    function markClosed(uint256 stackId, bool honest) external onlyRole(PROTOCOL_ROLE) {
        Record storage stack = _existing(stackId);
        StackStatus previous = stack.status;
        if (previous == StackStatus.Closed) revert StackNotActive(stackId);
        stack.status = StackStatus.Closed;
        if (previous == StackStatus.Active) taskRegistry.release(stack.taskId, stack.nodeId, stack.units);
        nodeRegistry.releaseObligation(stack.nodeId, honest);
    }

    // ---------------------------------------------------------------- views

    /// The stack `stackId`; while pending, its escrow is the one locked in the vault.
    function getStack(uint256 stackId) external view returns (Stack memory stack) {
        stack = _view(_stacks[stackId]);
        if (_pending(stack.status)) stack.escrow = uint128(_escrowInVault(stackId));
    }

    /// A stored stack as `IStackManager.Stack`: before its node is bound, the binding's fields read 0 (and while
    /// pending, the escrow too: its word holds the frozen hash).
    function _view(Record storage stored) internal pure returns (Stack memory stack) {
        Record memory r = stored;
        stack.owner = r.owner;
        stack.taskId = r.taskId;
        stack.status = r.status;
        stack.securityLevel = r.securityLevel;
        stack.units = r.units;
        if (!_pending(r.status)) stack.escrow = r.escrow;
        if (r.nodeId == 0) return stack;
        stack.nodeId = r.nodeId;
        stack.expiresAt = r.expiresAt;
        stack.closedAt = r.closedAt;
        stack.pricePerMillion = r.pricePerMillion;
    }

    function getPurchase(uint256 stackId) external view returns (Purchase memory purchase) {
        Record storage r = _stacks[stackId];
        purchase.duration = r.duration;
        purchase.minChargeBps = r.minChargeBps;
        if (_pending(r.status)) purchase.candidatesHash = bytes32(uint256(r.pricePerMillion) << 128 | r.escrow);
        if (r.nodeId != 0) return purchase;
        uint64 rearmed = _boughtAtIfRearmed[stackId];
        purchase.boughtAt = rearmed != 0 ? rearmed : r.closedAt;
        purchase.armedAt = r.closedAt;
        purchase.surchargeBps = uint16(r.expiresAt >> 48);
        purchase.boughtTime = uint48(r.expiresAt);
    }

    /// The minimum charge of a drawn stack: `minChargeBps` (as in force when it was bought) of its price.
    function minCharge(uint256 stackId) external view returns (uint256) {
        Stack memory stack = _view(_stacks[stackId]);
        return Units.cost(stack.units, stack.pricePerMillion) * _stacks[stackId].minChargeBps / BPS;
    }

    /// Unix time by which the node must submit its settlement: expiry (or the owner's close) plus the window.
    function settleDeadline(uint256 stackId) public view returns (uint256) {
        Stack memory stack = _view(_stacks[stackId]);
        uint256 end = stack.closedAt != 0 && stack.closedAt < stack.expiresAt ? stack.closedAt : stack.expiresAt;
        return end + params.settleWindow;
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function requestDigest(AtomaTypedData.Request calldata request) public view returns (bytes32) {
        return _hashTypedDataV4(AtomaTypedData.hashRequest(request));
    }

    function responseDigest(AtomaTypedData.Response calldata response) public view returns (bytes32) {
        return _hashTypedDataV4(AtomaTypedData.hashResponse(response));
    }

    /// The signer of an owner's request signature, or the zero address when the signature is malformed.
    function recoverRequestSigner(AtomaTypedData.Request calldata request, bytes calldata signature)
        external
        view
        returns (address signer)
    {
        (signer,,) = ECDSA.tryRecoverCalldata(requestDigest(request), signature);
    }

    /// The signer of a node's response signature, or the zero address when the signature is malformed.
    function recoverResponseSigner(AtomaTypedData.Response calldata response, bytes calldata signature)
        external
        view
        returns (address signer)
    {
        (signer,,) = ECDSA.tryRecoverCalldata(responseDigest(response), signature);
    }

    function _existing(uint256 stackId) internal view returns (Record storage stack) {
        stack = _stacks[stackId];
        if (stack.status == StackStatus.None) revert UnknownStack(stackId);
    }
}
