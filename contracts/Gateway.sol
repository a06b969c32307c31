// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IGateway} from "./interfaces/IGateway.sol";
import {IViewRegistry} from "./interfaces/IViewRegistry.sol";
import {ContractRecord, Status} from "./libraries/ContractRecord.sol";
import {StateProof} from "./libraries/StateProof.sol";
import {ViewLib} from "./libraries/ViewLib.sol";
import {WaitingList} from "./libraries/WaitingList.sol";

/// @title Gateway
/// @notice Contract transactions between this chain and the chains of a {ViewRegistry}: register,
/// pre-commit on proof of the mirror, terminate on proof of the mirror's outcome, cancel at expiry, and
/// compensation out of a forking chain's slashed bond.
/// @dev Per contract the Gateway keeps one storage word (its record); the terms are committed to by the
/// contract id and come back in calldata. Per counterparty it keeps one word of exposure.
contract Gateway is IGateway, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using WaitingList for WaitingList.List;

    bytes32 private constant TX_TYPEHASH = keccak256(
        "Transfer(uint256 chainId,address gateway,bytes32 salt,bool reversal,address asset,uint256 amount,address to)"
    );
    bytes32 private constant CTX_TYPEHASH = keccak256(
        "Contract(bytes32 tx1,bytes32 tx2,bytes32 tx1r,bytes32 tx2r,uint64 counterparty,uint64 h1,uint64 h2,uint64 registerBy,uint64 mirrorBy)"
    );
    address private constant NATIVE = address(0);

    /// @notice Gas a payout may use; a receiver that needs more, or refuses, gets it through {withdraw}.
    uint256 public constant PAYOUT_GAS = 100_000;
    /// @notice Widest range {waitingList} reads at once.
    uint64 public constant MAX_WAITING_SPAN = 4096;

    IViewRegistry public immutable registry;
    /// @notice Blocks before a freeze within which a terminated contract may still claim compensation; also
    /// how long a finished contract keeps counting against its counterparty's bond.
    uint64 public immutable compensationWindow;
    /// @notice Longest a registration may run: h1 at most this far past this chain's height, h2 past the
    /// counterparty's newest accepted height.
    uint64 public immutable maxLifetime;
    /// @notice Blocks after a freeze during which claims are filed; longer than {maxLifetime} plus
    /// {compensationWindow}, so every contract open at the freeze can finish, undecided at worst, and claim.
    uint64 public immutable claimPeriod;

    enum Claim {
        None,
        Filed,
        Paid
    }

    /// @dev In gwei. `recent` and `previous` hold what finished in this and the last epoch of
    /// `compensationWindow` blocks: they stay claimable, so they stay covered.
    struct Exposure {
        uint64 open;
        uint64 recent;
        uint64 previous;
        uint64 epoch;
    }

    mapping(address asset => uint256 weiPerUnit) private _assetValue;
    mapping(uint64 counterparty => Exposure) private _exposure;
    WaitingList.List private _waitingList;
    mapping(bytes32 contractId => Claim) private _claims;
    mapping(uint64 counterparty => uint256 claimedGwei) private _claimed;
    mapping(address asset => mapping(address to => uint256)) private _owed;

    constructor(
        address owner_,
        IViewRegistry registry_,
        uint64 compensationWindow_,
        uint64 maxLifetime_,
        uint64 claimPeriod_
    ) Ownable(owner_) {
        require(
            compensationWindow_ > 0 && maxLifetime_ > 0 && claimPeriod_ > uint256(maxLifetime_) + compensationWindow_,
            GatewayInvalidSettings()
        );
        registry = registry_;
        compensationWindow = compensationWindow_;
        maxLifetime = maxLifetime_;
        claimPeriod = claimPeriod_;
        _assetValue[NATIVE] = 1e18;
        emit AssetValueSet(NATIVE, 1e18);
    }

    /// @inheritdoc IGateway
    function setAssetValue(address asset, uint256 weiPerUnit) external onlyOwner {
        require(asset != NATIVE, GatewayAssetNotAllowed(asset));
        _assetValue[asset] = weiPerUnit;
        emit AssetValueSet(asset, weiPerUnit);
    }

    /// @inheritdoc IGateway
    function register(Registration calldata r) external payable nonReentrant returns (bytes32 contractId) {
        require(
            r.amount > 0 && r.beneficiary != address(0) && r.refundTo != address(0) && r.h1 > block.number
                && r.registerBy <= r.h1 && r.mirrorBy <= r.h2,
            GatewayInvalidRegistration()
        );
        require(block.number <= r.registerBy, GatewayRegistrationLate(r.registerBy, block.number));
        require(r.counterparty != block.chainid, GatewayInvalidCounterparty(r.counterparty));
        (bool frozen, uint64 latest, uint256 capacity) = registry.registrationContext(r.counterparty); // reverts for an unknown chain
        require(!frozen, GatewayCounterpartyFrozen(r.counterparty));
        require(r.h1 <= block.number + maxLifetime, GatewayLifetimeTooLong(r.h1, uint64(block.number)));
        require(r.h2 <= latest + maxLifetime, GatewayLifetimeTooLong(r.h2, latest));
        uint256 rate = r.asset == NATIVE ? 1e18 : _assetValue[r.asset]; // the native coin's is fixed
        require(rate > 0, GatewayAssetNotAllowed(r.asset));

        bytes32 mirrorId;
        (contractId, mirrorId) = _contractIds(r);
        require(ContractRecord.load(contractId).status == Status.None, GatewayAlreadyRegistered(contractId));

        uint256 value = Math.mulDiv(r.amount, rate, 1e27, Math.Rounding.Ceil); // gwei, never rounded to 0
        require(value <= ContractRecord.MAX_VALUE_GWEI, GatewayInvalidRegistration());
        Exposure memory x = _rolled(r.counterparty);
        uint256 exposure = (uint256(x.open) + x.recent + x.previous + value) * 1 gwei;
        require(exposure <= capacity, GatewayExposureCapExceeded(r.counterparty, exposure, capacity));
        x.open += uint64(value);
        _exposure[r.counterparty] = x;

        ContractRecord.store(
            contractId,
            ContractRecord.Fields({
                status: Status.Registered,
                registeredAt: uint64(block.number),
                committedAt: 0,
                finishedAt: 0,
                valueGwei: uint56(value)
            })
        );
        emit ContractRegistered(contractId, r.counterparty, mirrorId, r);
        _collect(r.asset, r.amount);
    }

    /// @inheritdoc IGateway
    function precommit(
        ViewPost calldata post,
        HeaderProof calldata at,
        Registration[] calldata terms,
        bytes[][] calldata storageProofs
    ) external nonReentrant {
        uint64 counterpartyId = _batchCounterparty(terms, storageProofs);
        if (_post(counterpartyId, post) == IViewRegistry.UpdateResult.Misbehaviour) return;
        (, Proven memory proven) = _proven(counterpartyId, at, true, true);
        bytes32 storageRoot = proven.storageRoot;

        bytes memory firstError;
        bool any;
        for (uint256 i = 0; i < terms.length; ++i) {
            (bytes32 contractId, bytes32 mirrorId) = _contractIds(terms[i]);
            bytes memory err = _precommitOne(contractId, mirrorId, terms[i], storageRoot, storageProofs[i]);
            (any, firstError) = _tally(contractId, err, any, firstError);
        }
        _raiseIfNone(any, firstError);
    }

    /// @inheritdoc IGateway
    function terminate(
        ViewPost calldata post,
        HeaderProof calldata at,
        Registration[] calldata terms,
        bytes[][] calldata storageProofs
    ) external nonReentrant {
        uint64 counterpartyId = _batchCounterparty(terms, storageProofs);
        _post(counterpartyId, post); // a view that freezes the counterparty still lets its contracts end here
        (IViewRegistry.Counterparty memory cp, Proven memory proven) = _proven(counterpartyId, at, false, false);

        bytes memory firstError;
        bool any;
        for (uint256 i = 0; i < terms.length; ++i) {
            (bytes32 contractId, bytes32 mirrorId) = _contractIds(terms[i]);
            bytes memory err = _terminateOne(contractId, mirrorId, terms[i], cp, proven, storageProofs[i]);
            (any, firstError) = _tally(contractId, err, any, firstError);
        }
        _raiseIfNone(any, firstError);
    }

    /// @inheritdoc IGateway
    function cancel(Registration calldata r) external nonReentrant {
        (bytes32 contractId,) = _contractIds(r);
        ContractRecord.Fields memory rec = _recordIn(contractId, Status.Registered);
        require(block.number > r.h1, GatewayNotExpired(r.h1, block.number));
        _finish(contractId, rec, r, Status.Cancelled);
    }

    /// @inheritdoc IGateway
    function claimCompensation(Registration calldata r) external nonReentrant {
        (bytes32 contractId,) = _contractIds(r);
        ContractRecord.Fields memory rec = ContractRecord.load(contractId);
        IViewRegistry.Counterparty memory cp = registry.counterparty(r.counterparty);
        require(
            (rec.status == Status.Released || rec.status == Status.Refunded) && cp.frozen
                && uint256(rec.finishedAt) + compensationWindow >= cp.frozenAt
                && block.number <= uint256(cp.frozenAt) + claimPeriod && _claims[contractId] == Claim.None,
            GatewayNotCompensable(contractId)
        );
        _claims[contractId] = Claim.Filed;
        _claimed[r.counterparty] += rec.valueGwei;
        emit CompensationFiled(contractId, _claimant(r, rec.status), uint256(rec.valueGwei) * 1 gwei);
    }

    /// @inheritdoc IGateway
    function withdrawCompensation(Registration calldata r) external nonReentrant returns (uint256 paid) {
        (bytes32 contractId,) = _contractIds(r);
        require(_claims[contractId] == Claim.Filed, GatewayNotCompensable(contractId));
        uint64 endsAt = registry.frozenAt(r.counterparty) + claimPeriod;
        require(block.number > endsAt, GatewayClaimPeriodOpen(endsAt));
        ContractRecord.Fields memory rec = ContractRecord.load(contractId);
        (uint256 pool,) = registry.poolOf(r.counterparty);
        uint256 claimed = _claimed[r.counterparty] * 1 gwei;
        uint256 value = uint256(rec.valueGwei) * 1 gwei;
        paid = claimed <= pool ? value : Math.mulDiv(value, pool, claimed);
        _claims[contractId] = Claim.Paid;
        address claimant = _claimant(r, rec.status);
        emit CompensationPaid(contractId, claimant, paid);
        registry.compensate(r.counterparty, claimant, paid);
    }

    /// @inheritdoc IGateway
    function withdraw(address asset) external nonReentrant returns (uint256 amount) {
        amount = _owed[asset][msg.sender];
        require(amount > 0, GatewayNothingOwed(asset, msg.sender));
        _owed[asset][msg.sender] = 0;
        emit PayoutWithdrawn(asset, msg.sender, amount);
        if (asset == NATIVE) Address.sendValue(payable(msg.sender), amount);
        else IERC20(asset).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IGateway
    function provenMirror(HeaderProof calldata at, Registration calldata r, bytes[] calldata storageProof)
        external
        view
        returns (Status, uint64, uint64, uint64)
    {
        (, Proven memory proven) = _proven(r.counterparty, at, true, false);
        (, bytes32 mirrorId) = _contractIds(r);
        (uint256 word, bool ok) = StateProof.tryReadSlot(proven.storageRoot, ContractRecord.slotOf(mirrorId), storageProof);
        require(ok, GatewayStorageProofInvalid(mirrorId));
        ContractRecord.Fields memory mirror = ContractRecord.unpack(word);
        return (mirror.status, mirror.registeredAt, mirror.committedAt, proven.height);
    }

    /// @inheritdoc IGateway
    function recordOf(bytes32 contractId) external view returns (Status, uint64, uint64, uint64, uint256) {
        ContractRecord.Fields memory f = ContractRecord.load(contractId);
        return (f.status, f.registeredAt, f.committedAt, f.finishedAt, uint256(f.valueGwei) * 1 gwei);
    }

    /// @inheritdoc IGateway
    function recordSlot(bytes32 contractId) external pure returns (bytes32) {
        return ContractRecord.slotOf(contractId);
    }

    /// @inheritdoc IGateway
    function txHashes(Registration calldata r) public view returns (bytes32 tx1, bytes32 tx1r) {
        tx1 = keccak256(abi.encode(TX_TYPEHASH, block.chainid, address(this), r.salt, false, r.asset, r.amount, r.beneficiary));
        tx1r = keccak256(abi.encode(TX_TYPEHASH, block.chainid, address(this), r.salt, true, r.asset, r.amount, r.refundTo));
    }

    /// @inheritdoc IGateway
    function contractIds(Registration calldata r) external view returns (bytes32 contractId, bytes32 mirrorId) {
        return _contractIds(r);
    }

    /// @inheritdoc IGateway
    function waitingList(uint64 from, uint64 to) external view returns (uint64[] memory, uint256[] memory) {
        require(to >= from && to - from < MAX_WAITING_SPAN, GatewayInvalidSettings());
        return _waitingList.between(from, to);
    }

    /// @inheritdoc IGateway
    function exposureOf(uint64 counterparty_) external view returns (uint256) {
        Exposure memory x = _rolled(counterparty_);
        return (uint256(x.open) + x.recent + x.previous) * 1 gwei;
    }

    /// @inheritdoc IGateway
    function owed(address asset, address to) external view returns (uint256) {
        return _owed[asset][to];
    }

    /// @dev ctx1 = (tx1, tx2, tx1', tx2', B, h1, h2, registerBy, mirrorBy) here; ctx2 = (tx2, tx1, tx2', tx1',
    /// A, h2, h1, mirrorBy, registerBy) there.
    function _contractIds(Registration calldata r) private view returns (bytes32 contractId, bytes32 mirrorId) {
        (bytes32 tx1, bytes32 tx1r) = txHashes(r);
        contractId = keccak256(
            abi.encode(CTX_TYPEHASH, tx1, r.tx2, tx1r, r.tx2r, r.counterparty, r.h1, r.h2, r.registerBy, r.mirrorBy)
        );
        mirrorId = keccak256(
            abi.encode(
                CTX_TYPEHASH, r.tx2, tx1, r.tx2r, tx1r, uint64(block.chainid), r.h2, r.h1, r.mirrorBy, r.registerBy
            )
        );
    }

    function _recordIn(bytes32 contractId, Status expected) private view returns (ContractRecord.Fields memory rec) {
        rec = ContractRecord.load(contractId);
        require(rec.status == expected, GatewayWrongStatus(contractId, rec.status));
    }

    /// @dev One counterparty per batch, and one storage proof per item.
    function _batchCounterparty(Registration[] calldata terms, bytes[][] calldata storageProofs)
        private
        pure
        returns (uint64 counterpartyId)
    {
        require(terms.length > 0 && terms.length == storageProofs.length, GatewayEmptyBatch());
        counterpartyId = terms[0].counterparty;
        for (uint256 i = 1; i < terms.length; ++i) {
            require(terms[i].counterparty == counterpartyId, GatewayMixedCounterparties(counterpartyId, terms[i].counterparty));
        }
    }

    /// @dev Posts the batch's view of the counterparty, if it carries one; the caller is the reporter if it
    /// turns out to be fork evidence.
    function _post(uint64 counterpartyId, ViewPost calldata post) private returns (IViewRegistry.UpdateResult) {
        if (post.signatures.length == 0) return IViewRegistry.UpdateResult.NoOp;
        require(post.view_.chainId == counterpartyId, GatewayMixedCounterparties(counterpartyId, post.view_.chainId));
        return registry.submitViewFor(post.view_, post.signatures, post.bridge, msg.sender);
    }

    /// @dev The counterparty as the registry has it (no capacity: a step does not need it; frozenAt only when frozen)
    /// and, when `at` carries a header, the storage root of its Gateway under that header, which must be of a block
    /// the registry accepted: the registry's word for that height is the header's hash folded onto the accumulator
    /// before it. One registry call. `needHeader`: a missing header is refused; `live`: so is a frozen counterparty.
    function _proven(uint64 counterpartyId, HeaderProof calldata at, bool needHeader, bool live)
        private
        view
        returns (IViewRegistry.Counterparty memory cp, Proven memory proven)
    {
        bytes32 hash;
        bytes32 stateRoot;
        bool withHeader = at.header.length > 0;
        if (withHeader) (hash, proven.height, stateRoot) = StateProof.headerFields(at.header);
        bytes32 accepted;
        (cp.gateway, cp.frozen, cp.height, accepted) = registry.provingContext(counterpartyId, proven.height);
        if (live) require(!cp.frozen, GatewayCounterpartyFrozen(counterpartyId));
        else if (cp.frozen) cp.frozenAt = registry.frozenAt(counterpartyId);
        require(withHeader || !needHeader, StateProof.StateProofInvalidHeader());
        if (!withHeader) return (cp, proven);
        require(
            accepted != bytes32(0) && ViewLib.step(at.accBefore, hash) == accepted,
            GatewayHeaderNotAccepted(counterpartyId, proven.height)
        );
        bool ok;
        (proven.storageRoot, ok) = StateProof.tryStorageRoot(stateRoot, cp.gateway, at.accountProof);
        require(ok, GatewayAccountProofInvalid(counterpartyId, proven.height));
        proven.present = true;
    }

    function _precommitOne(
        bytes32 contractId,
        bytes32 mirrorId,
        Registration calldata r,
        bytes32 storageRoot,
        bytes[] calldata storageProof
    ) private returns (bytes memory err) {
        ContractRecord.Fields memory rec = ContractRecord.load(contractId);
        if (rec.status != Status.Registered) return abi.encodeWithSelector(GatewayWrongStatus.selector, contractId, rec.status);
        if (block.number > r.h1) return abi.encodeWithSelector(GatewayExpired.selector, r.h1, block.number);
        (uint256 word, bool ok) = StateProof.tryReadSlot(storageRoot, ContractRecord.slotOf(mirrorId), storageProof);
        if (!ok) return abi.encodeWithSelector(GatewayStorageProofInvalid.selector, mirrorId);
        ContractRecord.Fields memory mirror = ContractRecord.unpack(word);
        if (mirror.status != Status.Registered && mirror.status != Status.Committed) {
            return abi.encodeWithSelector(GatewayMirrorNotRegistered.selector, mirrorId, mirror.status);
        }
        if (mirror.registeredAt > r.mirrorBy) {
            return abi.encodeWithSelector(GatewayMirrorLate.selector, mirrorId, mirror.registeredAt, r.mirrorBy);
        }

        if (!_waitingList.tryInsert(r.h1)) return abi.encodeWithSelector(GatewayWaitingListFull.selector, r.h1);

        rec.status = Status.Committed;
        rec.committedAt = uint64(block.number);
        ContractRecord.store(contractId, rec);
        emit ContractPrecommitted(contractId, r.h1, mirror.registeredAt);
    }

    struct Proven {
        bool present;
        uint64 height;
        bytes32 storageRoot;
    }

    function _terminateOne(
        bytes32 contractId,
        bytes32 mirrorId,
        Registration calldata r,
        IViewRegistry.Counterparty memory cp,
        Proven memory proven,
        bytes[] calldata storageProof
    ) private returns (bytes memory err) {
        ContractRecord.Fields memory rec = ContractRecord.load(contractId);
        if (rec.status != Status.Committed) return abi.encodeWithSelector(GatewayWrongStatus.selector, contractId, rec.status);
        if (block.number <= r.h1) return abi.encodeWithSelector(GatewayNotExpired.selector, r.h1, block.number);

        bool release;
        // Undecidable: the counterparty was frozen before its accepted view reached h2, or a view of it at or past
        // h2 was accepted that no one can prove against (a forged head whose blocks only the colluders hold) and
        // no proof came within a compensation window of the freeze. Refunded; the beneficiary may claim.
        bool undecided = cp.frozen
            && (cp.height < r.h2 || (!proven.present && block.number > uint256(cp.frozenAt) + compensationWindow));
        if (!undecided) {
            if (!proven.present) return abi.encodeWithSelector(GatewayProofRequired.selector, contractId);
            if (proven.height < r.h2) return abi.encodeWithSelector(GatewayProofTooOld.selector, r.h2, proven.height);
            (uint256 word, bool ok) =
                StateProof.tryReadSlot(proven.storageRoot, ContractRecord.slotOf(mirrorId), storageProof);
            if (!ok) return abi.encodeWithSelector(GatewayStorageProofInvalid.selector, mirrorId);
            ContractRecord.Fields memory mirror = ContractRecord.unpack(word);
            bool tx2Committed = mirror.committedAt != 0 && mirror.committedAt <= r.h2;
            bool tx2rCommitted = mirror.status == Status.Refunded;
            release = tx2Committed && !tx2rCommitted;
        }

        _waitingList.remove(r.h1);
        if (undecided) emit ContractUndecided(contractId);
        _finish(contractId, rec, r, release ? Status.Released : Status.Refunded);
    }

    /// @dev Counts a batch item: the first error is kept to be raised if no item proceeds.
    function _tally(bytes32 contractId, bytes memory err, bool any, bytes memory firstError)
        private
        returns (bool, bytes memory)
    {
        if (err.length == 0) return (true, firstError);
        emit StepSkipped(contractId, err);
        return (any, firstError.length == 0 ? err : firstError);
    }

    function _raiseIfNone(bool any, bytes memory firstError) private pure {
        if (any) return;
        assembly ("memory-safe") {
            revert(add(firstError, 0x20), mload(firstError))
        }
    }

    /// @dev Effects before the transfer; the reentrancy guard covers every entry point. A terminated
    /// contract keeps counting against the counterparty's bond for a compensation window, since it may still
    /// claim; a cancelled one never locked anything and stops counting at once.
    function _finish(bytes32 contractId, ContractRecord.Fields memory rec, Registration calldata r, Status outcome)
        private
    {
        rec.status = outcome;
        rec.finishedAt = uint64(block.number);
        ContractRecord.store(contractId, rec);
        Exposure memory x = _rolled(r.counterparty);
        x.open -= uint64(rec.valueGwei);
        if (outcome != Status.Cancelled) x.recent += uint64(rec.valueGwei);
        _exposure[r.counterparty] = x;

        address to = outcome == Status.Released ? r.beneficiary : r.refundTo;
        if (outcome == Status.Released) emit ContractReleased(contractId, to, r.amount);
        else if (outcome == Status.Refunded) emit ContractRefunded(contractId, to, r.amount);
        else emit ContractCancelled(contractId, to, r.amount);
        _pay(r.asset, to, r.amount);
    }

    /// @dev The exposure word of `counterparty_` as of this block's epoch of `compensationWindow` blocks.
    function _rolled(uint64 counterparty_) private view returns (Exposure memory x) {
        x = _exposure[counterparty_];
        uint64 epoch = uint64(block.number / compensationWindow);
        if (x.epoch == epoch) return x;
        x.previous = x.epoch + 1 == epoch ? x.recent : 0;
        x.recent = 0;
        x.epoch = epoch;
    }

    /// @dev Who a fork may have cost its asset: the payer of a released contract, the beneficiary of a refunded one.
    function _claimant(Registration calldata r, Status status) private pure returns (address) {
        return status == Status.Released ? r.refundTo : r.beneficiary;
    }

    function _collect(address asset, uint256 amount) private {
        if (asset == NATIVE) {
            require(msg.value == amount, GatewayWrongPayment(amount, msg.value));
            return;
        }
        require(msg.value == 0, GatewayWrongPayment(0, msg.value));
        uint256 before = IERC20(asset).balanceOf(address(this));
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(asset).balanceOf(address(this)) - before;
        require(received == amount, GatewayWrongPayment(amount, received)); // no fee-on-transfer tokens
    }

    /// @dev A payout never blocks a termination: a receiver that reverts (a contract without a receive
    /// function, a token's blacklist) or needs more than {PAYOUT_GAS} is owed the amount instead.
    function _pay(address asset, address to, uint256 amount) private {
        bool ok;
        if (asset == NATIVE) {
            assembly ("memory-safe") {
                ok := call(PAYOUT_GAS, to, amount, 0, 0, 0, 0) // no return data copied: no return-bomb
            }
        } else {
            ok = IERC20(asset).trySafeTransfer(to, amount);
        }
        if (ok) return;
        _owed[asset][to] += amount;
        emit PayoutDeferred(asset, to, amount);
    }
}
