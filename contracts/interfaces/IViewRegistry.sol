// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {View} from "../libraries/ViewLib.sol";

/// @title IViewRegistry
/// @notice The light client of every other chain: committees, accepted views, bonds, and what a fork costs.
interface IViewRegistry {
    /// @notice What the owner supplies to register a remote chain.
    struct ChainRegistration {
        uint64 chainId;
        address gateway; // the remote chain's Gateway: named in its views' EIP-712 domain and proven against
        address[] committee; // ECDSA validator addresses, strictly ascending
        uint16 rNumerator; // threshold = ceil(r * q) with r = rNumerator / rDenominator
        uint16 rDenominator;
        uint64 k; // window size of the chain's views
    }

    /// @notice What a Gateway needs to know of a counterparty, in one call.
    struct Counterparty {
        address gateway;
        bool frozen;
        uint64 frozenAt; // this chain's block number at the freeze, 0 if not frozen
        uint64 height; // newest accepted height
        uint256 capacity; // what open and recently finished contracts with it may be worth, in wei
    }

    /// @notice How a submitted view related to what the registry holds (a caller can't mistake a freeze for an update).
    enum UpdateResult {
        Accepted, // the view is the chain's newest now
        NoOp, // consistent with what is stored, not newer: nothing changed
        Misbehaviour // it conflicts with an accepted view: the chain is frozen and slashed
    }

    event ChainRegistered(uint64 indexed chainId, address gateway, uint256 committeeSize, uint256 threshold, uint64 k);
    event BondPosted(uint64 indexed chainId, address indexed from, uint256 amount, uint256 bond);
    /// @notice A view was accepted, with everything a relayer needs to use it as fork evidence, whoever called.
    event ViewAccepted(uint64 indexed chainId, uint64 indexed height, bytes32 accThrough, View view_, bytes[] signatures);
    /// @notice A signed view that contradicts the word accepted at `acceptedHeight` froze the chain: with the view
    /// accepted there (its ViewAccepted event) it is fork evidence on every other chain, whoever called.
    event ViewConflicted(uint64 indexed chainId, uint64 acceptedHeight, View view_, bytes[] signatures);
    /// @notice Two conflicting signed views froze the chain, whoever called.
    event ForkProven(uint64 indexed chainId, View a, bytes[] sigA, View b, bytes[] sigB);
    /// @notice `slashed` = `reward` to the reporter + `pool` for the users the fork may have harmed + `burned`.
    event ChainFrozen(
        uint64 indexed chainId, address indexed reporter, uint256 slashed, uint256 reward, uint256 pool, uint256 burned
    );
    /// @notice The reporter refused the reward: it stays burned.
    event RewardForfeited(uint64 indexed chainId, address indexed reporter, uint256 reward);
    event GatewaySet(address gateway);
    /// @notice A BLS public key's proof of possession was checked: the key may join a BLS committee.
    event BlsKeyProven(bytes32 indexed keyHash, bytes key);
    event CompensationPaid(uint64 indexed chainId, address indexed to, uint256 amount);

    error ViewRegistryUnknownChain(uint64 chainId);
    error ViewRegistryChainAlreadyRegistered(uint64 chainId);
    error ViewRegistryCannotRegisterSelf(uint64 chainId);
    error ViewRegistryInvalidGateway();
    error ViewRegistryInvalidCommittee();
    error ViewRegistryInvalidThreshold(uint256 threshold, uint256 committeeSize);
    error ViewRegistryInvalidShares(uint256 rewardBps, uint256 poolBps);
    error ViewRegistryInvalidWindow(uint64 k);
    error ViewRegistryChainFrozen(uint64 chainId);
    error ViewRegistryWrongChain(uint64 expected, uint64 actual);
    error ViewRegistryMalformedView(uint64 height, uint256 hashes);
    error ViewRegistryInvalidSignature(uint256 index);
    error ViewRegistryDuplicateSigner(address signer);
    error ViewRegistrySignersNotSorted(uint256 index);
    error ViewRegistryUnknownSigner(address signer);
    error ViewRegistryBelowThreshold(uint256 signatures, uint256 threshold);
    error ViewRegistryBridgeMismatch(uint64 latest, uint64 height, uint256 bridged);
    error ViewRegistryNotConflicting();
    error ViewRegistryGatewayAlreadySet();
    error ViewRegistryOnlyGateway(address caller);
    error ViewRegistryPoolExhausted(uint64 chainId, uint256 requested, uint256 left);
    error ViewRegistryKeyWithoutProof(uint256 index);
    error ViewRegistryDuplicateKey(uint256 index);
    error ViewRegistryInvalidProofOfPossession();
    /// @notice An EIP-2537 precompile refused a point: not on the curve, not in its subgroup, or not canonical.
    error ViewRegistryInvalidPoint();
    error ViewRegistryInfinityPoint();
    error ViewRegistryMalformedAggregate();
    error ViewRegistrySignerOutsideCommittee(uint256 bitmap);

    /// @notice Registers a remote chain with a genesis view signed by its committee; msg.value is its first bond.
    function registerChain(ChainRegistration calldata registration, View calldata genesis, bytes[] calldata signatures)
        external
        payable;

    /// @notice Registers a remote chain whose committee signs with BLS12-381: `keys[i]` is the G2 public key of
    /// `registration.committee[i]` (EIP-2537 encoding, 256 bytes), each proven first with {proveBlsKey}. Its views
    /// carry one entry in place of their signatures: the signer bitmap (32 bytes, bit i for member i) followed by
    /// the aggregate G1 signature (128 bytes) over {ViewLib-digest}, hashed to G1 under the tag
    /// "FinalityIBC-V1-VIEW_BLS12381G1_XMD:SHA-256_SSWU_RO_". msg.value is its first bond.
    function registerBlsChain(
        ChainRegistration calldata registration,
        bytes[] calldata keys,
        View calldata genesis,
        bytes[] calldata signatures
    ) external payable;

    /// @notice Records that the holder of BLS key `key` (G2, 256 bytes) knows its secret: `proof` (G1, 128 bytes)
    /// signs the key's own encoding under "FinalityIBC-V1-POP_BLS12381G1_XMD:SHA-256_SSWU_RO_". Anyone may submit it.
    function proveBlsKey(bytes calldata key, bytes calldata proof) external;

    /// @notice Names this chain's own Gateway, the only caller of {compensate} and {submitViewFor}. Once.
    function setGateway(address gateway) external;

    /// @notice Adds msg.value to the bond of `chainId`.
    function postBond(uint64 chainId) external payable;

    /// @notice Offers a threshold-signed view of a registered chain. It is accepted when it connects to the
    /// newest accepted view: directly when their windows meet, or through `bridge`, the block hashes of the
    /// heights between the two (folded into the stored accumulator they must give the view's acc), so a
    /// registry however far behind catches up in one transaction. A signed view that conflicts with an
    /// accepted one freezes the chain instead (it is fork evidence), and the caller gets the reporter's reward.
    /// @param signatures 65-byte ECDSA signatures over {ViewLib-digest}, ordered by ascending signer; for a BLS
    /// committee one entry, bitmap ‖ aggregate signature (see {registerBlsChain}).
    function submitView(View calldata view_, bytes[] calldata signatures, bytes32[] calldata bridge)
        external
        returns (UpdateResult);

    /// @notice {submitView} on behalf of `reporter`, who gets the reward if the view freezes the chain. Gateway only.
    function submitViewFor(View calldata view_, bytes[] calldata signatures, bytes32[] calldata bridge, address reporter)
        external
        returns (UpdateResult);

    /// @notice Two threshold-signed views of one chain that no single chain can have: freezes the chain here
    /// and slashes its bond once.
    function submitForkEvidence(View calldata a, bytes[] calldata sigA, View calldata b, bytes[] calldata sigB)
        external;

    /// @notice Pays `to` `amount` out of the compensation pool of frozen `chainId`. Gateway only.
    function compensate(uint64 chainId, address to, uint256 amount) external;

    /// @notice The EIP-712 digest `chainId`'s committee signs for `view_` (see {ViewLib-digest}).
    function digestOf(View calldata view_) external view returns (bytes32);

    /// @notice The accumulator through `height` (every block hash from genesis to `height` folded) of the
    /// view of `chainId` accepted at `height`; zero when no view was accepted at that height. The header of
    /// an accepted height is proven by keccak256(accBefore ‖ keccak256(header)) == accThrough(chainId, height),
    /// where accBefore is the accumulator through the height before (a relayer folds it from the view).
    function accThrough(uint64 chainId, uint64 height) external view returns (bytes32);

    /// @notice Height of the newest accepted view of `chainId`.
    function latestHeight(uint64 chainId) external view returns (uint64);

    /// @notice What a Gateway needs of `chainId`: its Gateway, freeze, newest height and capacity.
    function counterparty(uint64 chainId) external view returns (Counterparty memory);

    /// @notice What Gateway.register needs of `chainId`, in one call: {counterparty} without the Gateway and the
    /// freeze height, so two storage words are read instead of three.
    function registrationContext(uint64 chainId) external view returns (bool frozen, uint64 latest, uint256 capacity);

    /// @notice What a Gateway needs to prove a header of `chainId` at `height`, in one call: the chain's Gateway,
    /// whether it is frozen, its newest accepted height and the word accepted at `height` (zero if none).
    function provingContext(uint64 chainId, uint64 height)
        external
        view
        returns (address gateway, bool frozen, uint64 latest, bytes32 accepted);

    /// @notice The remote Gateway of `chainId`.
    function gatewayOf(uint64 chainId) external view returns (address);

    /// @notice Committee, threshold and window size of `chainId`.
    function committeeOf(uint64 chainId) external view returns (address[] memory committee, uint256 threshold, uint64 k);

    /// @notice True when `chainId`'s committee signs with BLS12-381 aggregates.
    function isBlsCommittee(uint64 chainId) external view returns (bool);

    /// @notice The G2 public keys of `chainId`'s BLS committee, in committee order (none for an ECDSA committee): what
    /// a relayer or a watchtower needs to check its aggregates off chain.
    function blsKeysOf(uint64 chainId) external view returns (bytes[] memory keys);

    /// @notice True once {proveBlsKey} checked the key whose keccak256 is `keyHash`.
    function blsKeyProven(bytes32 keyHash) external view returns (bool);

    /// @notice Bond currently posted for `chainId`.
    function bondOf(uint64 chainId) external view returns (uint256);

    /// @notice The compensation pool of `chainId` set aside at its freeze, and what is left of it.
    function poolOf(uint64 chainId) external view returns (uint256 pool, uint256 left);

    /// @notice True once fork evidence froze `chainId` here.
    function isFrozen(uint64 chainId) external view returns (bool);

    /// @notice This chain's block number at which `chainId` was frozen here, 0 if it is not.
    function frozenAt(uint64 chainId) external view returns (uint64);
}
