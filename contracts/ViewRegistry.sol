// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IViewRegistry} from "./interfaces/IViewRegistry.sol";
import {BlsLib} from "./libraries/BlsLib.sol";
import {View, ViewLib} from "./libraries/ViewLib.sol";

/// @title ViewRegistry
/// @notice The view list of one chain, on chain: for every other registered chain, its committee, one word
/// per accepted view (the accumulator through its newest block, which commits to every block hash below),
/// its bond, and what is left of its slashed bond for the users a fork harmed. A committee signs with ECDSA (one
/// signature per member) or, chosen at registration, with BLS12-381 (one aggregate signature and a bitmap of its
/// signers, checked through the EIP-2537 precompiles at a cost that hardly grows with the committee).
contract ViewRegistry is IViewRegistry, Ownable {
    using ViewLib for View;

    /// @notice Largest window size accepted: bounds the gas of one view.
    uint64 public constant MAX_K = 256;
    /// @notice Largest committee accepted.
    uint256 public constant MAX_COMMITTEE = 256;
    /// @notice A fork must cost its committee at least this share of its bond, in basis points: the reporter's
    /// reward plus the compensation pool (which the colluders can reach through claims of their own
    /// contracts) never exceed the rest, which is burned (kept here with no way out).
    uint256 public constant MIN_BURN_BPS = 5_000;

    /// @dev Slot 0 holds what every Gateway call reads: gateway, frozen, height (and the threshold and scheme). A
    /// chain is registered when it has a Gateway.
    struct Chain {
        address gateway;
        bool frozen;
        uint64 height; // newest accepted height
        uint16 threshold;
        bool bls; // the committee signs with BLS12-381 aggregates, not ECDSA
        uint64 k;
        uint64 frozenAt; // this chain's block number at the freeze
        uint256 bond;
        uint256 pool; // set aside at the freeze for compensation
        uint256 paid; // paid out of the pool
        address[] committee;
        mapping(address signer => bool) isMember;
        mapping(uint64 height => bytes32 accThrough) accepted;
        /// BLS only: contracts whose code holds the aggregate of all keys, then each member's negated key
        /// (BlsLib.sumKeys), read for a few thousand gas where storage would cost 2,100 a word.
        address[3] keyTables;
    }

    /// @notice Share of a slashed bond paid to whoever proved the fork, in basis points.
    uint256 public immutable slashRewardBps;
    /// @notice Share of a slashed bond kept to compensate harmed users, in basis points; also the share of a
    /// bond that open contracts may be worth, so that every claim can be paid in full.
    uint256 public immutable poolBps;

    mapping(uint64 chainId => Chain) private _chains;
    address private _gateway;
    /// @dev keccak256 of BLS public keys whose proof of possession was checked.
    mapping(bytes32 keyHash => bool) private _provenKeys;

    constructor(address owner_, uint256 slashRewardBps_, uint256 poolBps_) Ownable(owner_) {
        require(
            poolBps_ > 0 && slashRewardBps_ + poolBps_ <= 10_000 - MIN_BURN_BPS,
            ViewRegistryInvalidShares(slashRewardBps_, poolBps_)
        );
        slashRewardBps = slashRewardBps_;
        poolBps = poolBps_;
    }

    /// @inheritdoc IViewRegistry
    function registerChain(ChainRegistration calldata r, View calldata genesis, bytes[] calldata signatures)
        external
        payable
        onlyOwner
    {
        Chain storage c = _registerCommittee(r, true);
        _registerGenesis(r, c, genesis, signatures);
    }

    /// @inheritdoc IViewRegistry
    function proveBlsKey(bytes calldata key, bytes calldata proof) external {
        BlsLib.Check result = BlsLib.checkPossession(key, proof);
        require(result != BlsLib.Check.Infinity, ViewRegistryInfinityPoint());
        require(result != BlsLib.Check.InvalidPoint, ViewRegistryInvalidPoint());
        require(result == BlsLib.Check.Valid, ViewRegistryInvalidProofOfPossession());
        bytes32 keyHash = keccak256(key);
        _provenKeys[keyHash] = true;
        emit BlsKeyProven(keyHash, key);
    }

    /// @inheritdoc IViewRegistry
    function registerBlsChain(
        ChainRegistration calldata r,
        bytes[] calldata keys,
        View calldata genesis,
        bytes[] calldata signatures
    ) external payable onlyOwner {
        Chain storage c = _registerCommittee(r, false);
        uint256 q = r.committee.length;
        require(keys.length == q, ViewRegistryInvalidCommittee());
        bytes memory entries = new bytes((q + 1) * BlsLib.G2_POINT);
        bytes memory all = new bytes(BlsLib.G2_POINT);
        for (uint256 i = 0; i < q; ++i) {
            bytes memory key = keys[i];
            bytes32 keyHash = keccak256(key);
            require(_provenKeys[keyHash], ViewRegistryKeyWithoutProof(i));
            // One key listed twice would count its holder twice: refused, marked in transient storage per chain.
            bytes32 mark = keccak256(abi.encode(r.chainId, keyHash));
            bool seen;
            assembly ("memory-safe") {
                seen := tload(mark)
                tstore(mark, 1)
            }
            require(!seen, ViewRegistryDuplicateKey(i));
            all = BlsLib.addG2(all, key);
            bytes memory negated = BlsLib.negateG2(key);
            assembly ("memory-safe") {
                mcopy(add(add(entries, 0x20), mul(add(i, 1), 256)), add(negated, 0x20), 256)
            }
        }
        require(!BlsLib.isInfinity(all), ViewRegistryInfinityPoint());
        assembly ("memory-safe") {
            mcopy(add(entries, 0x20), add(all, 0x20), 256)
        }
        uint256 perTable = BlsLib.KEYS_PER_TABLE * BlsLib.G2_POINT;
        for (uint256 t = 0; t * perTable < entries.length; ++t) {
            uint256 from = t * perTable;
            uint256 to = from + perTable < entries.length ? from + perTable : entries.length;
            bytes memory chunk = new bytes(to - from);
            assembly ("memory-safe") {
                mcopy(add(chunk, 0x20), add(add(entries, 0x20), from), sub(to, from))
            }
            c.keyTables[t] = BlsLib.deployTable(chunk);
        }
        c.bls = true;
        _registerGenesis(r, c, genesis, signatures);
    }

    /// @dev Checks a registration and stores its committee, threshold, window and Gateway; `signsByAddress` (ECDSA) also
    /// marks each member for the signature checks, which a BLS committee, checked by bitmap, never reads.
    function _registerCommittee(ChainRegistration calldata r, bool signsByAddress) private returns (Chain storage c) {
        c = _chains[r.chainId];
        require(c.k == 0, ViewRegistryChainAlreadyRegistered(r.chainId));
        require(r.chainId != block.chainid, ViewRegistryCannotRegisterSelf(r.chainId));
        require(r.gateway != address(0), ViewRegistryInvalidGateway());
        require(r.k > 0 && r.k <= MAX_K, ViewRegistryInvalidWindow(r.k));
        uint256 q = r.committee.length;
        require(q > 0 && q <= MAX_COMMITTEE, ViewRegistryInvalidCommittee());
        require(r.rDenominator > 0, ViewRegistryInvalidThreshold(0, q));
        uint256 threshold = (uint256(r.rNumerator) * q + r.rDenominator - 1) / r.rDenominator;
        require(threshold > 0 && threshold <= q, ViewRegistryInvalidThreshold(threshold, q));

        address previous;
        for (uint256 i = 0; i < q; ++i) {
            address member = r.committee[i];
            require(member > previous, ViewRegistryInvalidCommittee()); // ascending: no zero, no duplicate
            if (signsByAddress) c.isMember[member] = true;
            c.committee.push(member);
            previous = member;
        }
        c.gateway = r.gateway;
        c.k = r.k;
        c.threshold = uint16(threshold);
        emit ChainRegistered(r.chainId, r.gateway, q, threshold, r.k);
    }

    /// @dev Accepts the genesis view of a chain just registered, and its first bond.
    function _registerGenesis(
        ChainRegistration calldata r,
        Chain storage c,
        View calldata genesis,
        bytes[] calldata signatures
    ) private {
        View memory g = genesis;
        require(g.chainId == r.chainId, ViewRegistryWrongChain(r.chainId, g.chainId));
        require(g.wellFormed(r.k), ViewRegistryMalformedView(g.height, g.hashes.length));
        _verifyQuorum(c, g.digest(r.gateway), signatures);
        _accept(c, genesis, signatures, g.accThrough());
        if (msg.value > 0) _addBond(r.chainId, c);
    }

    /// @inheritdoc IViewRegistry
    function setGateway(address gateway) external onlyOwner {
        require(_gateway == address(0) && gateway != address(0), ViewRegistryGatewayAlreadySet());
        _gateway = gateway;
        emit GatewaySet(gateway);
    }

    /// @inheritdoc IViewRegistry
    function postBond(uint64 chainId) external payable {
        Chain storage c = _registered(chainId);
        require(!c.frozen, ViewRegistryChainFrozen(chainId));
        _addBond(chainId, c);
    }

    /// @inheritdoc IViewRegistry
    function submitView(View calldata view_, bytes[] calldata signatures, bytes32[] calldata bridge)
        external
        returns (UpdateResult)
    {
        return _submit(view_, signatures, bridge, msg.sender);
    }

    /// @inheritdoc IViewRegistry
    function submitViewFor(View calldata view_, bytes[] calldata signatures, bytes32[] calldata bridge, address reporter)
        external
        returns (UpdateResult)
    {
        require(msg.sender == _gateway, ViewRegistryOnlyGateway(msg.sender));
        return _submit(view_, signatures, bridge, reporter);
    }

    /// @inheritdoc IViewRegistry
    function submitForkEvidence(View calldata a, bytes[] calldata sigA, View calldata b, bytes[] calldata sigB)
        external
    {
        View memory va = a;
        View memory vb = b;
        require(va.chainId == vb.chainId, ViewRegistryWrongChain(va.chainId, vb.chainId));
        Chain storage c = _checkedSigned(va, sigA);
        _checkedSigned(vb, sigB);
        require(va.relate(vb) == ViewLib.Relation.Conflicting, ViewRegistryNotConflicting());
        emit ForkProven(va.chainId, a, sigA, b, sigB);
        _freeze(va.chainId, c, msg.sender);
    }

    /// @inheritdoc IViewRegistry
    function compensate(uint64 chainId, address to, uint256 amount) external {
        require(msg.sender == _gateway, ViewRegistryOnlyGateway(msg.sender));
        Chain storage c = _registered(chainId);
        uint256 left = c.pool - c.paid;
        require(amount <= left, ViewRegistryPoolExhausted(chainId, amount, left));
        c.paid += amount;
        emit CompensationPaid(chainId, to, amount);
        Address.sendValue(payable(to), amount);
    }

    /// @inheritdoc IViewRegistry
    function digestOf(View calldata view_) external view returns (bytes32) {
        View memory v = view_;
        return v.digest(_registered(v.chainId).gateway);
    }

    /// @inheritdoc IViewRegistry
    function accThrough(uint64 chainId, uint64 height) external view returns (bytes32) {
        return _chains[chainId].accepted[height];
    }

    /// @inheritdoc IViewRegistry
    function latestHeight(uint64 chainId) external view returns (uint64) {
        return _registered(chainId).height;
    }

    /// @inheritdoc IViewRegistry
    function counterparty(uint64 chainId) external view returns (Counterparty memory) {
        Chain storage c = _registered(chainId);
        return Counterparty({
            gateway: c.gateway,
            frozen: c.frozen,
            frozenAt: c.frozenAt,
            height: c.height,
            capacity: (c.bond * poolBps) / 10_000
        });
    }

    /// @inheritdoc IViewRegistry
    function provingContext(uint64 chainId, uint64 height)
        external
        view
        returns (address gateway, bool frozen, uint64 latest, bytes32 accepted)
    {
        Chain storage c = _registered(chainId);
        return (c.gateway, c.frozen, c.height, c.accepted[height]);
    }

    /// @inheritdoc IViewRegistry
    function registrationContext(uint64 chainId) external view returns (bool frozen, uint64 latest, uint256 capacity) {
        Chain storage c = _registered(chainId);
        return (c.frozen, c.height, (c.bond * poolBps) / 10_000);
    }

    /// @inheritdoc IViewRegistry
    function gatewayOf(uint64 chainId) external view returns (address) {
        return _registered(chainId).gateway;
    }

    /// @inheritdoc IViewRegistry
    function committeeOf(uint64 chainId) external view returns (address[] memory, uint256, uint64) {
        Chain storage c = _registered(chainId);
        return (c.committee, c.threshold, c.k);
    }

    /// @inheritdoc IViewRegistry
    function isBlsCommittee(uint64 chainId) external view returns (bool) {
        return _registered(chainId).bls;
    }

    /// @inheritdoc IViewRegistry
    function blsKeysOf(uint64 chainId) external view returns (bytes[] memory keys) {
        Chain storage c = _registered(chainId);
        keys = new bytes[](c.bls ? c.committee.length : 0);
        for (uint256 i = 0; i < keys.length; ++i) {
            keys[i] = BlsLib.negateG2(BlsLib.entryOf(c.keyTables, i + 1));
        }
    }

    /// @inheritdoc IViewRegistry
    function blsKeyProven(bytes32 keyHash) external view returns (bool) {
        return _provenKeys[keyHash];
    }

    /// @inheritdoc IViewRegistry
    function bondOf(uint64 chainId) external view returns (uint256) {
        return _chains[chainId].bond;
    }

    /// @inheritdoc IViewRegistry
    function poolOf(uint64 chainId) external view returns (uint256 pool, uint256 left) {
        Chain storage c = _chains[chainId];
        return (c.pool, c.pool - c.paid);
    }

    /// @inheritdoc IViewRegistry
    function isFrozen(uint64 chainId) external view returns (bool) {
        return _chains[chainId].frozen;
    }

    /// @inheritdoc IViewRegistry
    function frozenAt(uint64 chainId) external view returns (uint64) {
        return _chains[chainId].frozenAt;
    }

    function _registered(uint64 chainId) private view returns (Chain storage c) {
        c = _chains[chainId];
        require(c.gateway != address(0), ViewRegistryUnknownChain(chainId));
    }

    /// @dev The connect rule against the one stored word of the newest accepted view, A(latest):
    /// - a view at an accepted height must carry the same accumulator through it, or it is a fork;
    /// - a newer view whose window starts at most one past `latest` must fold to A(latest) at `latest`;
    /// - a newer view further ahead connects through `bridge`: A(latest) folded over the hashes of the
    ///   heights in between must give its acc. The bridge is not signed, so a wrong one is refused, not
    ///   taken as evidence.
    function _submit(View calldata view_, bytes[] calldata signatures, bytes32[] calldata bridge, address reporter)
        private
        returns (UpdateResult)
    {
        View memory v = view_;
        Chain storage c = _checkedSigned(v, signatures);
        uint64 latest = c.height;
        uint64 start = v.start();
        // One pass folds the whole window and, on the way, its prefix through `latest` when the window reaches it.
        bool reaches = v.height >= latest && start <= latest + 1;
        (bytes32 through, bytes32 atLatest) = ViewLib.foldWithCut(v.acc, v.hashes, reaches ? latest + 1 - start : 0);
        bytes32 atSameHeight = c.accepted[v.height];
        if (atSameHeight != bytes32(0)) {
            if (atSameHeight == through) return UpdateResult.NoOp;
            emit ViewConflicted(v.chainId, v.height, view_, signatures);
            _freeze(v.chainId, c, reporter);
            return UpdateResult.Misbehaviour;
        }
        if (v.height < latest) return UpdateResult.NoOp;

        bytes32 stored = c.accepted[latest];
        if (reaches) {
            if (atLatest != stored) {
                emit ViewConflicted(v.chainId, latest, view_, signatures);
                _freeze(v.chainId, c, reporter);
                return UpdateResult.Misbehaviour;
            }
        } else {
            uint256 gap = start - 1 - latest;
            require(
                bridge.length == gap && _foldCalldata(stored, bridge) == v.acc,
                ViewRegistryBridgeMismatch(latest, v.height, bridge.length)
            );
        }
        _accept(c, view_, signatures, through);
        return UpdateResult.Accepted;
    }

    /// @dev Checks everything about a signed view except how it relates to others.
    function _checkedSigned(View memory v, bytes[] calldata signatures) private view returns (Chain storage c) {
        c = _registered(v.chainId);
        require(!c.frozen, ViewRegistryChainFrozen(v.chainId));
        require(v.wellFormed(c.k), ViewRegistryMalformedView(v.height, v.hashes.length));
        _verifyQuorum(c, v.digest(c.gateway), signatures);
    }

    /// @dev ECDSA: signers must be distinct committee members, in ascending order, at least `threshold` of them.
    /// OpenZeppelin's ECDSA refuses high-s signatures, so a signature cannot be re-encoded into a second one.
    function _verifyQuorum(Chain storage c, bytes32 digest, bytes[] calldata signatures) private view {
        if (c.bls) return _verifyAggregate(c, digest, signatures);
        address previous;
        for (uint256 i = 0; i < signatures.length; ++i) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            require(err == ECDSA.RecoverError.NoError, ViewRegistryInvalidSignature(i));
            require(signer != previous, ViewRegistryDuplicateSigner(signer));
            require(signer > previous, ViewRegistrySignersNotSorted(i));
            require(c.isMember[signer], ViewRegistryUnknownSigner(signer));
            previous = signer;
        }
        require(signatures.length >= c.threshold, ViewRegistryBelowThreshold(signatures.length, c.threshold));
    }

    /// @dev BLS: one entry, the signer bitmap (bit i: committee member i) ‖ the aggregate signature in G1, over the
    /// digest under VIEW_DST, with at least `threshold` bits set. The signers' aggregate key is the stored aggregate
    /// minus the non-signers' keys, or the sum of the signers' keys, whichever takes fewer additions.
    function _verifyAggregate(Chain storage c, bytes32 digest, bytes[] calldata signatures) private view {
        require(
            signatures.length == 1 && signatures[0].length == 32 + BlsLib.G1_POINT, ViewRegistryMalformedAggregate()
        );
        uint256 bitmap = uint256(bytes32(signatures[0][:32]));
        uint256 q = c.committee.length;
        require(q == 256 || bitmap >> q == 0, ViewRegistrySignerOutsideCommittee(bitmap));
        uint256 signers = _popcount(bitmap);
        require(signers >= c.threshold, ViewRegistryBelowThreshold(signers, c.threshold));
        bool subtract = 2 * signers >= q;
        bytes memory key = BlsLib.sumKeys(c.keyTables, bitmap, q, subtract);
        BlsLib.Check result = BlsLib.check(
            signatures[0][32:], BlsLib.hashToG1(abi.encodePacked(digest), BlsLib.VIEW_DST), key, !subtract
        );
        require(result != BlsLib.Check.Infinity, ViewRegistryInfinityPoint());
        require(result != BlsLib.Check.InvalidPoint, ViewRegistryInvalidPoint());
        require(result == BlsLib.Check.Valid, ViewRegistryInvalidSignature(0));
    }

    /// @dev Bits set in `x`.
    function _popcount(uint256 x) private pure returns (uint256) {
        unchecked {
            x -= (x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555;
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            x = (x + (x >> 8)) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
            return (x * 0x0001000100010001000100010001000100010001000100010001000100010001) >> 240;
        }
    }

    function _foldCalldata(bytes32 acc, bytes32[] calldata hashes) private pure returns (bytes32) {
        for (uint256 i = 0; i < hashes.length; ++i) {
            acc = ViewLib.step(acc, hashes[i]);
        }
        return acc;
    }

    function _accept(Chain storage c, View calldata view_, bytes[] calldata signatures, bytes32 through) private {
        c.accepted[view_.height] = through;
        c.height = view_.height;
        emit ViewAccepted(view_.chainId, view_.height, through, view_, signatures);
    }

    function _addBond(uint64 chainId, Chain storage c) private {
        c.bond += msg.value;
        emit BondPosted(chainId, msg.sender, msg.value, c.bond);
    }

    /// @dev Freezes the chain and slashes its whole bond, once: a frozen chain accepts no more views or
    /// evidence. The reporter's reward is paid now; the pool waits for the Gateway's pro-rata claims; the
    /// rest stays here for good.
    function _freeze(uint64 chainId, Chain storage c, address reporter) private {
        uint256 slashed = c.bond;
        uint256 reward = (slashed * slashRewardBps) / 10_000;
        uint256 pool = (slashed * poolBps) / 10_000;
        c.frozen = true;
        c.frozenAt = uint64(block.number);
        c.bond = 0;
        c.pool = pool;
        emit ChainFrozen(chainId, reporter, slashed, reward, pool, slashed - reward - pool);
        if (reward == 0) return;
        // A reporter that refuses the reward forfeits it (it stays here, burned): the freeze never depends on it.
        bool paid;
        assembly ("memory-safe") {
            paid := call(gas(), reporter, reward, 0, 0, 0, 0)
        }
        if (!paid) emit RewardForfeited(chainId, reporter, reward);
    }
}
