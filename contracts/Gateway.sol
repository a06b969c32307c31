// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IGateway} from "./interfaces/IGateway.sol";
import {IViewRegistry} from "./interfaces/IViewRegistry.sol";
import {ContractRecord, Status} from "./libraries/ContractRecord.sol";
import {StateProof, StorageProof} from "./libraries/StateProof.sol";
import {WaitingList} from "./libraries/WaitingList.sol";

/// @title Gateway
/// @notice Contract transactions between this chain and the chains of a {ViewRegistry}: register,
/// pre-commit on proof of the mirror, terminate on proof of the mirror's outcome, cancel at expiry.
contract Gateway is IGateway, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using WaitingList for WaitingList.List;

    bytes32 private constant TX_TYPEHASH = keccak256(
        "Transfer(uint256 chainId,address gateway,bytes32 salt,bool reversal,address asset,uint256 amount,address to)"
    );
    bytes32 private constant CTX_TYPEHASH = keccak256(
        "Contract(bytes32 tx1,bytes32 tx2,bytes32 tx1r,bytes32 tx2r,uint64 counterparty,uint64 h1,uint64 h2)"
    );
    address private constant NATIVE = address(0);

    IViewRegistry public immutable registry;
    /// @notice Blocks before a freeze within which a released contract may claim compensation.
    uint64 public immutable compensationWindow;

    mapping(bytes32 contractId => Escrow) private _escrows;
    mapping(address asset => uint256 weiPerUnit) private _assetValue;
    mapping(uint64 counterparty => uint256) private _exposure;
    WaitingList.List private _waitingList;
    mapping(bytes32 contractId => bool) private _compensated;

    constructor(address owner_, IViewRegistry registry_, uint64 compensationWindow_) Ownable(owner_) {
        registry = registry_;
        compensationWindow = compensationWindow_;
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
                && r.h2 > 0,
            GatewayInvalidRegistration()
        );
        require(r.counterparty != block.chainid, GatewayInvalidCounterparty(r.counterparty));
        require(!registry.isFrozen(r.counterparty), GatewayCounterpartyFrozen(r.counterparty));
        registry.gatewayOf(r.counterparty); // reverts for an unknown chain
        uint256 rate = _assetValue[r.asset];
        require(rate > 0, GatewayAssetNotAllowed(r.asset));

        bytes32 mirrorId;
        (contractId, mirrorId) = _contractIds(r);
        require(ContractRecord.load(contractId).status == Status.None, GatewayAlreadyRegistered(contractId));

        uint256 value = (r.amount * rate) / 1e18;
        uint256 exposure = _exposure[r.counterparty] + value;
        uint256 bond = registry.bondOf(r.counterparty);
        require(exposure <= bond, GatewayExposureCapExceeded(r.counterparty, exposure, bond));
        _exposure[r.counterparty] = exposure;

        _escrows[contractId] = Escrow({
            asset: r.asset,
            amount: r.amount,
            beneficiary: r.beneficiary,
            refundTo: r.refundTo,
            counterparty: r.counterparty,
            h1: r.h1,
            h2: r.h2,
            value: value,
            mirrorId: mirrorId
        });
        ContractRecord.store(
            contractId,
            ContractRecord.Fields({status: Status.Registered, registeredAt: uint64(block.number), committedAt: 0, finishedAt: 0})
        );
        emit ContractRegistered(contractId, r.counterparty, mirrorId, r.asset, r.amount, r.h1, r.h2);
        _collect(r.asset, r.amount);
    }

    /// @inheritdoc IGateway
    function precommit(bytes32 contractId, StorageProof calldata proof) external nonReentrant {
        ContractRecord.Fields memory rec = _recordIn(contractId, Status.Registered);
        Escrow storage e = _escrows[contractId];
        require(block.number <= e.h1, GatewayExpired(e.h1, block.number));
        require(!registry.isFrozen(e.counterparty), GatewayCounterpartyFrozen(e.counterparty));
        (ContractRecord.Fields memory mirror,) = _provenMirror(e, proof);
        require(
            mirror.status == Status.Registered || mirror.status == Status.Committed,
            GatewayMirrorNotRegistered(e.mirrorId, mirror.status)
        );

        rec.status = Status.Committed;
        rec.committedAt = uint64(block.number);
        ContractRecord.store(contractId, rec);
        _waitingList.insert(contractId, e.h1);
        emit ContractPrecommitted(contractId, rec.committedAt, mirror.registeredAt);
    }

    /// @inheritdoc IGateway
    function terminate(bytes32 contractId, StorageProof calldata proof) external nonReentrant {
        ContractRecord.Fields memory rec = _recordIn(contractId, Status.Committed);
        Escrow memory e = _escrows[contractId];
        require(block.number > e.h1, GatewayNotExpired(e.h1, block.number));
        bool release;
        if (registry.isFrozen(e.counterparty)) {
            // A chain caught forking is not believed about anything still open: this chain's user is refunded.
            release = false;
        } else {
            uint64 viewHeight = registry.latestHeight(e.counterparty);
            require(viewHeight >= e.h2, GatewayCounterpartyViewBehind(e.h2, viewHeight));
            (ContractRecord.Fields memory mirror, uint64 proofHeight) = _provenMirror(e, proof);
            require(proofHeight >= e.h2, GatewayProofTooOld(e.h2, proofHeight));
            bool tx2Committed = mirror.committedAt != 0 && mirror.committedAt <= e.h2;
            bool tx2rCommitted = mirror.status == Status.Refunded;
            release = tx2Committed && !tx2rCommitted;
        }

        _waitingList.remove(contractId, e.h1);
        _finish(contractId, rec, e, release ? Status.Released : Status.Refunded);
    }

    /// @inheritdoc IGateway
    function claimCompensation(bytes32 contractId) external nonReentrant returns (uint256 paid) {
        ContractRecord.Fields memory rec = _recordIn(contractId, Status.Released);
        Escrow memory e = _escrows[contractId];
        uint64 frozenAt = registry.frozenAt(e.counterparty);
        require(
            frozenAt != 0 && !_compensated[contractId] && rec.finishedAt + compensationWindow >= frozenAt,
            GatewayNotCompensable(contractId)
        );
        _compensated[contractId] = true;
        paid = registry.compensate(e.counterparty, e.refundTo, e.value);
        emit CompensationClaimed(contractId, e.refundTo, paid);
    }

    /// @inheritdoc IGateway
    function cancel(bytes32 contractId) external nonReentrant {
        ContractRecord.Fields memory rec = _recordIn(contractId, Status.Registered);
        Escrow memory e = _escrows[contractId];
        require(block.number > e.h1, GatewayNotExpired(e.h1, block.number));
        _finish(contractId, rec, e, Status.Cancelled);
    }

    /// @inheritdoc IGateway
    function provenMirror(bytes32 contractId, StorageProof calldata proof)
        external
        view
        returns (Status, uint64, uint64)
    {
        Escrow memory e = _escrows[contractId];
        require(e.counterparty != 0, GatewayWrongStatus(contractId, Status.None));
        (ContractRecord.Fields memory mirror, uint64 proofHeight) = _provenMirror(e, proof);
        return (mirror.status, mirror.committedAt, proofHeight);
    }

    /// @inheritdoc IGateway
    function recordOf(bytes32 contractId) external view returns (Status, uint64, uint64, uint64) {
        ContractRecord.Fields memory f = ContractRecord.load(contractId);
        return (f.status, f.registeredAt, f.committedAt, f.finishedAt);
    }

    /// @inheritdoc IGateway
    function escrowOf(bytes32 contractId) external view returns (Escrow memory) {
        return _escrows[contractId];
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
    function waitingListHead() external view returns (uint64, bytes32[] memory) {
        return _waitingList.head();
    }

    /// @inheritdoc IGateway
    function exposureOf(uint64 counterparty) external view returns (uint256) {
        return _exposure[counterparty];
    }

    /// @dev ctx1 = (tx1, tx2, tx1', tx2', B, h1, h2) here; ctx2 = (tx2, tx1, tx2', tx1', A, h2, h1) there.
    function _contractIds(Registration calldata r) private view returns (bytes32 contractId, bytes32 mirrorId) {
        (bytes32 tx1, bytes32 tx1r) = txHashes(r);
        contractId = keccak256(abi.encode(CTX_TYPEHASH, tx1, r.tx2, tx1r, r.tx2r, r.counterparty, r.h1, r.h2));
        mirrorId = keccak256(abi.encode(CTX_TYPEHASH, r.tx2, tx1, r.tx2r, tx1r, uint64(block.chainid), r.h2, r.h1));
    }

    function _recordIn(bytes32 contractId, Status expected) private view returns (ContractRecord.Fields memory rec) {
        rec = ContractRecord.load(contractId);
        require(rec.status == expected, GatewayWrongStatus(contractId, rec.status));
    }

    /// @dev The counterparty's record of ctx2, proven under a block hash its registry here accepted.
    function _provenMirror(Escrow memory e, StorageProof calldata proof)
        private
        view
        returns (ContractRecord.Fields memory mirror, uint64 proofHeight)
    {
        bytes32 headerHash;
        (proofHeight, headerHash) = StateProof.headerOf(proof);
        bytes32 accepted = registry.blockHashAt(e.counterparty, proofHeight);
        require(accepted != bytes32(0) && accepted == headerHash, GatewayHeaderNotAccepted(e.counterparty, proofHeight));
        uint256 word = StateProof.readSlot(proof, registry.gatewayOf(e.counterparty), ContractRecord.slotOf(e.mirrorId));
        mirror = ContractRecord.unpack(word);
    }

    /// @dev Effects before the transfer; the reentrancy guard covers every entry point.
    function _finish(bytes32 contractId, ContractRecord.Fields memory rec, Escrow memory e, Status outcome) private {
        rec.status = outcome;
        rec.finishedAt = uint64(block.number);
        ContractRecord.store(contractId, rec);
        _exposure[e.counterparty] -= e.value;
        address to = outcome == Status.Released ? e.beneficiary : e.refundTo;
        if (outcome == Status.Released) emit ContractReleased(contractId, to, e.amount);
        else if (outcome == Status.Refunded) emit ContractRefunded(contractId, to, e.amount);
        else emit ContractCancelled(contractId, to, e.amount);
        _pay(e.asset, to, e.amount);
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

    function _pay(address asset, address to, uint256 amount) private {
        if (asset == NATIVE) Address.sendValue(payable(to), amount);
        else IERC20(asset).safeTransfer(to, amount);
    }
}
