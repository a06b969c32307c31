// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IViewRegistry} from "./interfaces/IViewRegistry.sol";
import {View, ViewLib} from "./libraries/ViewLib.sol";

/// @title ViewRegistry
/// @notice The view list of one chain, on chain: for every other registered chain, its committee, its
/// newest threshold-signed view, the block hash of every height it has accepted, and its bond.
contract ViewRegistry is IViewRegistry, Ownable {
    using ViewLib for View;

    /// @notice Largest window size accepted: bounds the gas of one view.
    uint64 public constant MAX_K = 256;
    /// @notice Largest committee accepted.
    uint256 public constant MAX_COMMITTEE = 256;

    struct Chain {
        address gateway;
        uint64 k;
        uint16 threshold;
        bool frozen;
        uint64 frozenAt; // this chain's block number at the freeze
        uint64 height; // newest accepted height
        uint256 bond;
        uint256 compensation;
        address[] committee;
        mapping(address signer => bool) isMember;
        mapping(uint64 height => bytes32) blockHash;
        mapping(uint64 height => bytes32) accAt; // acc of the view accepted at that height
    }

    /// @notice Share of a slashed bond paid to whoever proved the fork, in basis points.
    uint256 public immutable slashRewardBps;

    mapping(uint64 chainId => Chain) private _chains;
    address private _gateway;

    constructor(address owner_, uint256 slashRewardBps_) Ownable(owner_) {
        require(slashRewardBps_ <= 10_000, ViewRegistryInvalidSlashReward(slashRewardBps_));
        slashRewardBps = slashRewardBps_;
    }

    /// @inheritdoc IViewRegistry
    function registerChain(ChainRegistration calldata r, View calldata genesis, bytes[] calldata signatures)
        external
        payable
        onlyOwner
    {
        Chain storage c = _chains[r.chainId];
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
            c.isMember[member] = true;
            c.committee.push(member);
            previous = member;
        }
        c.gateway = r.gateway;
        c.k = r.k;
        c.threshold = uint16(threshold);
        emit ChainRegistered(r.chainId, r.gateway, q, threshold, r.k);

        View memory g = genesis;
        require(g.chainId == r.chainId, ViewRegistryWrongChain(r.chainId, g.chainId));
        require(g.wellFormed(r.k), ViewRegistryMalformedView(g.height, g.hashes.length));
        _verifyQuorum(c, g.digest(r.gateway), signatures);
        _record(c, g, g.start());
        if (msg.value > 0) _addBond(r.chainId, c);
    }

    /// @inheritdoc IViewRegistry
    function setGateway(address gateway) external onlyOwner {
        require(_gateway == address(0) && gateway != address(0), ViewRegistryGatewayAlreadySet());
        _gateway = gateway;
        emit GatewaySet(gateway);
    }

    /// @inheritdoc IViewRegistry
    function compensate(uint64 chainId, address to, uint256 amount) external returns (uint256 paid) {
        require(msg.sender == _gateway, ViewRegistryOnlyGateway(msg.sender));
        Chain storage c = _registered(chainId);
        paid = amount < c.compensation ? amount : c.compensation;
        c.compensation -= paid;
        emit CompensationPaid(chainId, to, paid);
        if (paid > 0) Address.sendValue(payable(to), paid);
    }

    /// @inheritdoc IViewRegistry
    function frozenAt(uint64 chainId) external view returns (uint64) {
        return _chains[chainId].frozenAt;
    }

    /// @inheritdoc IViewRegistry
    function postBond(uint64 chainId) external payable {
        Chain storage c = _registered(chainId);
        require(!c.frozen, ViewRegistryChainFrozen(chainId));
        _addBond(chainId, c);
    }

    /// @inheritdoc IViewRegistry
    function submitView(View calldata view_, bytes[] calldata signatures) external returns (bool accepted) {
        View memory v = view_;
        Chain storage c = _checkedSigned(v, signatures);
        View memory latest = _latestView(c, v.chainId);

        ViewLib.Relation relation = latest.relate(v);
        if (relation != ViewLib.Relation.Conflicting && v.height < latest.height) {
            // An older view may reach below the stored window: compare it with every recorded hash.
            relation = _relateToRecorded(c, v);
        }
        if (relation == ViewLib.Relation.Conflicting) {
            _freeze(v.chainId, c);
            return false;
        }
        require(relation == ViewLib.Relation.Consistent, ViewRegistryGapTooLarge(latest.height, v.height, c.k));
        require(v.height > latest.height, ViewRegistryStaleView(v.height, latest.height));
        _record(c, v, latest.height + 1);
        return true;
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
        _freeze(va.chainId, c);
    }

    /// @inheritdoc IViewRegistry
    function digestOf(View calldata view_) external view returns (bytes32) {
        View memory v = view_;
        return v.digest(_registered(v.chainId).gateway);
    }

    /// @inheritdoc IViewRegistry
    function blockHashAt(uint64 chainId, uint64 height) external view returns (bytes32) {
        return _chains[chainId].blockHash[height];
    }

    /// @inheritdoc IViewRegistry
    function latestView(uint64 chainId) external view returns (View memory) {
        return _latestView(_registered(chainId), chainId);
    }

    /// @inheritdoc IViewRegistry
    function latestHeight(uint64 chainId) external view returns (uint64) {
        return _registered(chainId).height;
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
    function bondOf(uint64 chainId) external view returns (uint256) {
        return _chains[chainId].bond;
    }

    /// @inheritdoc IViewRegistry
    function compensationOf(uint64 chainId) external view returns (uint256) {
        return _chains[chainId].compensation;
    }

    /// @inheritdoc IViewRegistry
    function isFrozen(uint64 chainId) external view returns (bool) {
        return _chains[chainId].frozen;
    }

    function _registered(uint64 chainId) private view returns (Chain storage c) {
        c = _chains[chainId];
        require(c.k != 0, ViewRegistryUnknownChain(chainId));
    }

    /// @dev Checks everything about a signed view except how it relates to others.
    function _checkedSigned(View memory v, bytes[] calldata signatures) private view returns (Chain storage c) {
        c = _registered(v.chainId);
        require(!c.frozen, ViewRegistryChainFrozen(v.chainId));
        require(v.wellFormed(c.k), ViewRegistryMalformedView(v.height, v.hashes.length));
        _verifyQuorum(c, v.digest(c.gateway), signatures);
    }

    /// @dev Signers must be distinct committee members, in ascending order, at least `threshold` of them.
    /// OpenZeppelin's ECDSA refuses high-s signatures, so a signature cannot be re-encoded into a second one.
    function _verifyQuorum(Chain storage c, bytes32 digest, bytes[] calldata signatures) private view {
        address previous;
        for (uint256 i = 0; i < signatures.length; ++i) {
            (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            require(err == ECDSA.RecoverError.NoError, ViewRegistryInvalidSignature(i));
            require(signer != previous, ViewRegistryDuplicateSigner(signer));
            require(signer > previous, ViewRegistrySignersNotSorted(i));
            require(c.isMember[signer], ViewRegistryUnknownSigner(signer));
            previous = signer;
        }
        require(signatures.length >= c.threshold, ViewRegistryBelowThreshold(signatures.length, c.threshold));
    }

    function _latestView(Chain storage c, uint64 chainId) private view returns (View memory v) {
        v.chainId = chainId;
        v.height = c.height;
        v.acc = c.accAt[c.height];
        uint64 length = c.height + 1 < c.k ? c.height + 1 : c.k;
        uint64 first = c.height + 1 - length;
        v.hashes = new bytes32[](length);
        for (uint64 i = 0; i < length; ++i) {
            v.hashes[i] = c.blockHash[first + i];
        }
    }

    /// @dev A view older than the stored window conflicts when any of its hashes, or its acc, differs
    /// from what was recorded for the same height.
    function _relateToRecorded(Chain storage c, View memory v) private view returns (ViewLib.Relation) {
        uint64 first = v.start();
        for (uint64 i = 0; i < v.hashes.length; ++i) {
            bytes32 recorded = c.blockHash[first + i];
            if (recorded != bytes32(0) && recorded != v.hashes[i]) return ViewLib.Relation.Conflicting;
        }
        bytes32 recordedAcc = c.accAt[v.height];
        if (recordedAcc != bytes32(0) && recordedAcc != v.acc) return ViewLib.Relation.Conflicting;
        return ViewLib.Relation.Consistent;
    }

    /// @dev Records the view's hashes from height `from` on and makes it the newest view.
    function _record(Chain storage c, View memory v, uint64 from) private {
        uint64 first = v.start();
        for (uint64 h = from; h <= v.height; ++h) {
            c.blockHash[h] = v.hashes[h - first];
        }
        c.accAt[v.height] = v.acc;
        c.height = v.height;
        emit ViewAccepted(v.chainId, v.height, v.acc, v.hashes[v.hashes.length - 1]);
    }

    function _addBond(uint64 chainId, Chain storage c) private {
        c.bond += msg.value;
        emit BondPosted(chainId, msg.sender, msg.value, c.bond);
    }

    /// @dev Freezes the chain and slashes its whole bond, once: a frozen chain accepts no more evidence.
    function _freeze(uint64 chainId, Chain storage c) private {
        uint256 slashed = c.bond;
        uint256 reward = (slashed * slashRewardBps) / 10_000;
        c.frozen = true;
        c.frozenAt = uint64(block.number);
        c.bond = 0;
        c.compensation += slashed - reward;
        emit ChainFrozen(chainId, msg.sender, slashed, reward);
        if (reward > 0) Address.sendValue(payable(msg.sender), reward);
    }
}
