// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Status} from "../libraries/ContractRecord.sol";
import {View} from "../libraries/ViewLib.sol";

/// @title IGateway
/// @notice The Inter-Blockchain Communication Protocol of one chain (the paper's section IV.B and
/// Algorithm 2): contract transactions whose hooked transaction tx1 is an asset transfer held in escrow.
interface IGateway {
    /// @notice What a user registers on this chain: the paper's ctx1 with tx1 and tx1'. The contract id
    /// commits to every field, so the Gateway stores none of them: later steps pass the registration back.
    /// @dev tx1 pays `amount` of `asset` (address(0) for the native coin) to `beneficiary`; its reversal
    /// tx1' pays it back to `refundTo`. `tx2` and `tx2r` are the hashes of the counterparty chain's
    /// transactions, computed there with {txHashes}; `h1` expires here, `h2` on the counterparty.
    /// `registerBy` is the last height of this chain at which ctx1 may be registered, `mirrorBy` the last
    /// height of the counterparty at which its mirror ctx2 may be: a late mirror is no free option.
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
        uint64 registerBy;
        uint64 mirrorBy;
    }

    /// @notice A signed view of the counterparty to post before a step, in the same transaction; no
    /// signatures means nothing to post. `bridge` as in {IViewRegistry-submitView}.
    struct ViewPost {
        View view_;
        bytes[] signatures;
        bytes32[] bridge;
    }

    /// @notice The counterparty's block a batch is proven at: its RLP header, the accumulator through
    /// the block before it (so the registry's one word of the accepted view at that height proves the
    /// header), and `eth_getProof`'s account proof of the counterparty's Gateway. Empty when no item needs it.
    struct HeaderProof {
        bytes header;
        bytes32 accBefore;
        bytes[] accountProof;
    }

    event AssetValueSet(address indexed asset, uint256 weiPerUnit);
    event ContractRegistered(bytes32 indexed contractId, uint64 indexed counterparty, bytes32 mirrorId, Registration terms);
    event ContractPrecommitted(bytes32 indexed contractId, uint64 indexed expiry, uint64 mirrorHeight);
    event ContractReleased(bytes32 indexed contractId, address indexed beneficiary, uint256 amount);
    event ContractRefunded(bytes32 indexed contractId, address indexed refundTo, uint256 amount);
    event ContractCancelled(bytes32 indexed contractId, address indexed refundTo, uint256 amount);
    /// @notice A contract whose counterparty was frozen before its view reached h2: refunded without a proof.
    event ContractUndecided(bytes32 indexed contractId);
    /// @notice An item of a batch that was left alone, with the error it would have raised on its own.
    event StepSkipped(bytes32 indexed contractId, bytes reason);
    event CompensationFiled(bytes32 indexed contractId, address indexed claimant, uint256 value);
    event CompensationPaid(bytes32 indexed contractId, address indexed claimant, uint256 paid);
    /// @notice A payout the receiver refused: it waits for {withdraw}.
    event PayoutDeferred(address indexed asset, address indexed to, uint256 amount);
    event PayoutWithdrawn(address indexed asset, address indexed to, uint256 amount);

    error GatewayAssetNotAllowed(address asset);
    error GatewayInvalidRegistration();
    error GatewayInvalidSettings();
    error GatewayLifetimeTooLong(uint64 expiry, uint64 latest);
    error GatewayRegistrationLate(uint64 registerBy, uint256 height);
    error GatewayInvalidCounterparty(uint64 counterparty);
    error GatewayCounterpartyFrozen(uint64 counterparty);
    error GatewayAlreadyRegistered(bytes32 contractId);
    error GatewayExposureCapExceeded(uint64 counterparty, uint256 exposure, uint256 capacity);
    error GatewayWrongPayment(uint256 expected, uint256 received);
    error GatewayWrongStatus(bytes32 contractId, Status status);
    error GatewayExpired(uint64 h1, uint256 height);
    error GatewayNotExpired(uint64 h1, uint256 height);
    error GatewayEmptyBatch();
    error GatewayMixedCounterparties(uint64 counterparty, uint64 other);
    error GatewayHeaderNotAccepted(uint64 counterparty, uint64 height);
    error GatewayAccountProofInvalid(uint64 counterparty, uint64 height);
    error GatewayStorageProofInvalid(bytes32 contractId);
    error GatewayProofTooOld(uint64 h2, uint64 proofHeight);
    error GatewayProofRequired(bytes32 contractId);
    error GatewayMirrorNotRegistered(bytes32 mirrorId, Status status);
    error GatewayMirrorLate(bytes32 mirrorId, uint64 registeredAt, uint64 mirrorBy);
    error GatewayNotCompensable(bytes32 contractId);
    error GatewayClaimPeriodOpen(uint64 endsAt);
    error GatewayNothingOwed(address asset, address to);
    error GatewayWaitingListFull(uint64 expiry);

    /// @notice Sets what one unit of `asset` is worth in native-coin wei (scaled by 1e18), which is
    /// how contracts are counted against a chain's bond. Zero disallows the asset.
    function setAssetValue(address asset, uint256 weiPerUnit) external;

    /// @notice Step 1, register: records ctx1 and takes tx1's assets into escrow.
    function register(Registration calldata r) external payable returns (bytes32 contractId);

    /// @notice Step 3, pre-commit, for a batch of contracts with one counterparty: posts `post` if it
    /// carries a view, then, with proofs under one header of the counterparty that it registered each
    /// mirror ctx2 in time, commits each tx1, locks it and adds it to the waiting list. Anyone may call.
    /// An item that cannot proceed is skipped with {StepSkipped}; when none proceeds the first item's error
    /// is raised.
    function precommit(
        ViewPost calldata post,
        HeaderProof calldata at,
        Registration[] calldata terms,
        bytes[][] calldata storageProofs
    ) external;

    /// @notice Step 4, terminate (Algorithm 2), for a batch with one counterparty: once this chain passed h1,
    /// a proof of the mirror record at a height >= h2 decides: tx2 committed at a height <= h2 and tx2' not
    /// committed releases tx1 to the beneficiary; anything else commits tx1' (refund). Views accepted before
    /// a freeze still decide. A contract whose counterparty was frozen before its view reached h2 cannot be
    /// decided: it is refunded without a proof, and its beneficiary may claim compensation; so is one that no
    /// proof decided within {compensationWindow} blocks of the freeze (the view past h2 may be a forged head
    /// no one can prove against). Skips as {precommit} does.
    function terminate(
        ViewPost calldata post,
        HeaderProof calldata at,
        Registration[] calldata terms,
        bytes[][] calldata storageProofs
    ) external;

    /// @notice A contract that never reached pre-commit is cancelled after h1 and its escrow returned.
    function cancel(Registration calldata r) external;

    /// @notice Files a claim on the compensation pool of the contract's frozen counterparty, for a contract
    /// that was terminated at most {compensationWindow} blocks before the freeze, or after it: the party the
    /// forked chain's word may have cost its asset (the payer of a released contract, the beneficiary of a
    /// refunded one) claims the contract's value. Once, within {claimPeriod} blocks of the freeze.
    function claimCompensation(Registration calldata r) external;

    /// @notice After the claim period, pays a filed claim its share: its value, or pro rata when the claims
    /// add up to more than the pool.
    function withdrawCompensation(Registration calldata r) external returns (uint256 paid);

    /// @notice Pays msg.sender what a refused payout left owed to it in `asset`.
    function withdraw(address asset) external returns (uint256 amount);

    /// @notice The counterparty's record of the mirror of `r`, proven under an accepted header (what
    /// {precommit} and {terminate} read). Relayers call it to check a check() answer with the Gateway's rules.
    function provenMirror(HeaderProof calldata at, Registration calldata r, bytes[] calldata storageProof)
        external
        view
        returns (Status status, uint64 registeredAt, uint64 committedAt, uint64 proofHeight);

    /// @notice The record word's fields: status, the heights of registration, commit and finish, and value.
    function recordOf(bytes32 contractId)
        external
        view
        returns (Status status, uint64 registeredAt, uint64 committedAt, uint64 finishedAt, uint256 valueWei);

    /// @notice The storage slot of a contract's record word, for `eth_getProof`.
    function recordSlot(bytes32 contractId) external pure returns (bytes32);

    /// @notice Hashes of tx1 and tx1' of a registration on this chain.
    function txHashes(Registration calldata r) external view returns (bytes32 tx1, bytes32 tx1r);

    /// @notice Id of the contract `r` registers here, and of its mirror ctx2 on the counterparty.
    function contractIds(Registration calldata r) external view returns (bytes32 contractId, bytes32 mirrorId);

    /// @notice The waiting list between two heights (at most {MAX_WAITING_SPAN} apart): each expiry with
    /// locked contracts, in order, and how many.
    function waitingList(uint64 from, uint64 to) external view returns (uint64[] memory expiries, uint256[] memory counts);

    /// @notice Value of open contracts with `counterparty`, and of those finished within the compensation
    /// window, in native-coin wei: what its bond must cover.
    function exposureOf(uint64 counterparty) external view returns (uint256);

    /// @notice What refused payouts left owed to `to` in `asset`.
    function owed(address asset, address to) external view returns (uint256);
}
