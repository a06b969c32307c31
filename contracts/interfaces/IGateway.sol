// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Status} from "../libraries/ContractRecord.sol";
import {StorageProof} from "../libraries/StateProof.sol";

/// @title IGateway
/// @notice The Inter-Blockchain Communication Protocol of one chain (the paper's section IV.B and
/// Algorithm 2): contract transactions whose hooked transaction tx1 is an asset transfer held in escrow.
interface IGateway {
    /// @notice What a user registers on this chain: the paper's ctx1 with tx1 and tx1'.
    /// @dev tx1 pays `amount` of `asset` (address(0) for the native coin) to `beneficiary`; its reversal
    /// tx1' pays it back to `refundTo`. `tx2` and `tx2r` are the hashes of the counterparty chain's
    /// transactions, computed there with {txHashes}; `h1` expires here, `h2` on the counterparty.
    struct Registration {
        address asset;
        uint256 amount;
        address beneficiary;
        address refundTo;
        bytes32 salt;
        bytes32 tx2;
        bytes32 tx2r;
        uint64 counterparty;
        uint64 h1;
        uint64 h2;
    }

    /// @notice What this chain keeps of a contract besides its record word.
    struct Escrow {
        address asset;
        uint256 amount;
        address beneficiary;
        address refundTo;
        uint64 counterparty;
        uint64 h1;
        uint64 h2;
        uint256 value; // in native-coin wei, counted against the counterparty's bond
        bytes32 mirrorId; // id of ctx2 on the counterparty
    }

    event AssetValueSet(address indexed asset, uint256 weiPerUnit);
    event ContractRegistered(
        bytes32 indexed contractId, uint64 indexed counterparty, bytes32 mirrorId, address asset, uint256 amount, uint64 h1, uint64 h2
    );
    event ContractPrecommitted(bytes32 indexed contractId, uint64 height, uint64 mirrorHeight);
    event ContractReleased(bytes32 indexed contractId, address indexed beneficiary, uint256 amount);
    event ContractRefunded(bytes32 indexed contractId, address indexed refundTo, uint256 amount);
    event ContractCancelled(bytes32 indexed contractId, address indexed refundTo, uint256 amount);
    event CompensationClaimed(bytes32 indexed contractId, address indexed refundTo, uint256 paid);

    error GatewayAssetNotAllowed(address asset);
    error GatewayInvalidRegistration();
    error GatewayInvalidCounterparty(uint64 counterparty);
    error GatewayCounterpartyFrozen(uint64 counterparty);
    error GatewayAlreadyRegistered(bytes32 contractId);
    error GatewayExposureCapExceeded(uint64 counterparty, uint256 exposure, uint256 bond);
    error GatewayWrongPayment(uint256 expected, uint256 received);
    error GatewayWrongStatus(bytes32 contractId, Status status);
    error GatewayExpired(uint64 h1, uint256 height);
    error GatewayNotExpired(uint64 h1, uint256 height);
    error GatewayCounterpartyViewBehind(uint64 h2, uint64 viewHeight);
    error GatewayHeaderNotAccepted(uint64 counterparty, uint64 height);
    error GatewayProofTooOld(uint64 h2, uint64 proofHeight);
    error GatewayMirrorNotRegistered(bytes32 mirrorId, Status status);
    error GatewayNotCompensable(bytes32 contractId);

    /// @notice Sets what one unit of `asset` is worth in native-coin wei (scaled by 1e18), which is
    /// how contracts are counted against a chain's bond. Zero disallows the asset.
    function setAssetValue(address asset, uint256 weiPerUnit) external;

    /// @notice Step 1, register: records ctx1 and takes tx1's assets into escrow.
    function register(Registration calldata r) external payable returns (bytes32 contractId);

    /// @notice Step 3, pre-commit: with a proof that the counterparty registered the mirror contract
    /// ctx2, commits tx1, locks it and adds the contract to the waiting list. Anyone may call.
    function precommit(bytes32 contractId, StorageProof calldata proof) external;

    /// @notice Step 4, terminate (Algorithm 2): once this chain passed h1 and the counterparty's view
    /// passed h2, a proof of the mirror record at a height >= h2 decides: tx2 committed at a height
    /// <= h2 and tx2' not committed releases tx1 to the beneficiary; anything else commits tx1' (refund).
    /// A contract with a frozen counterparty is refunded after h1 without a proof.
    function terminate(bytes32 contractId, StorageProof calldata proof) external;

    /// @notice Compensates the payer of a contract released on the word of a chain that was later caught
    /// forking: its counterpart payout there may have been rewritten away. The contract must have been
    /// released at most {compensationWindow} blocks before the freeze; its refund address receives the
    /// contract's value in native coin from the chain's slashed bond here, as far as that bond reaches. Once.
    function claimCompensation(bytes32 contractId) external returns (uint256 paid);

    /// @notice A contract that never reached pre-commit is cancelled after h1 and its escrow returned.
    function cancel(bytes32 contractId) external;

    /// @notice The counterparty's record of the mirror of `contractId`, proven under a block hash its
    /// registry here accepted. Relayers call it to check a check() answer with the Gateway's own rules.
    function provenMirror(bytes32 contractId, StorageProof calldata proof)
        external
        view
        returns (Status status, uint64 committedAt, uint64 proofHeight);

    /// @notice The record word's fields: status and the heights of registration, commit and finish.
    function recordOf(bytes32 contractId)
        external
        view
        returns (Status status, uint64 registeredAt, uint64 committedAt, uint64 finishedAt);

    /// @notice The escrow terms of a contract.
    function escrowOf(bytes32 contractId) external view returns (Escrow memory);

    /// @notice The storage slot of a contract's record word, for `eth_getProof`.
    function recordSlot(bytes32 contractId) external pure returns (bytes32);

    /// @notice Hashes of tx1 and tx1' of a registration on this chain.
    function txHashes(Registration calldata r) external view returns (bytes32 tx1, bytes32 tx1r);

    /// @notice Id of the contract `r` registers here, and of its mirror ctx2 on the counterparty.
    function contractIds(Registration calldata r) external view returns (bytes32 contractId, bytes32 mirrorId);

    /// @notice Earliest expiry in the waiting list and the contracts that expire then.
    function waitingListHead() external view returns (uint64 expiry, bytes32[] memory contractIds);

    /// @notice Value of open contracts with `counterparty`, in native-coin wei.
    function exposureOf(uint64 counterparty) external view returns (uint256);
}
