// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {View} from "../libraries/ViewLib.sol";

/// @title IViewRegistry
/// @notice The light client of every other chain: committees, accepted views, block hashes, bonds.
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

    event ChainRegistered(uint64 indexed chainId, address gateway, uint256 committeeSize, uint256 threshold, uint64 k);
    event BondPosted(uint64 indexed chainId, address indexed from, uint256 amount, uint256 bond);
    event ViewAccepted(uint64 indexed chainId, uint64 height, bytes32 acc, bytes32 blockHash);
    event ChainFrozen(uint64 indexed chainId, address indexed reporter, uint256 slashed, uint256 reward);
    event GatewaySet(address gateway);
    event CompensationPaid(uint64 indexed chainId, address indexed to, uint256 amount);

    error ViewRegistryUnknownChain(uint64 chainId);
    error ViewRegistryChainAlreadyRegistered(uint64 chainId);
    error ViewRegistryCannotRegisterSelf(uint64 chainId);
    error ViewRegistryInvalidGateway();
    error ViewRegistryInvalidCommittee();
    error ViewRegistryInvalidThreshold(uint256 threshold, uint256 committeeSize);
    error ViewRegistryInvalidSlashReward(uint256 bps);
    error ViewRegistryInvalidWindow(uint64 k);
    error ViewRegistryChainFrozen(uint64 chainId);
    error ViewRegistryWrongChain(uint64 expected, uint64 actual);
    error ViewRegistryMalformedView(uint64 height, uint256 hashes);
    error ViewRegistryInvalidSignature(uint256 index);
    error ViewRegistryDuplicateSigner(address signer);
    error ViewRegistrySignersNotSorted(uint256 index);
    error ViewRegistryUnknownSigner(address signer);
    error ViewRegistryBelowThreshold(uint256 signatures, uint256 threshold);
    error ViewRegistryStaleView(uint64 height, uint64 latest);
    error ViewRegistryGapTooLarge(uint64 latest, uint64 height, uint64 k);
    error ViewRegistryNotConflicting();
    error ViewRegistryGatewayAlreadySet();
    error ViewRegistryOnlyGateway(address caller);

    /// @notice Registers a remote chain with a genesis view signed by its committee; msg.value is its first bond.
    function registerChain(ChainRegistration calldata registration, View calldata genesis, bytes[] calldata signatures)
        external
        payable;

    /// @notice Names this chain's own Gateway, the only caller of {compensate}. Once.
    function setGateway(address gateway) external;

    /// @notice Pays `to` up to `amount` out of the slashed bond of frozen `chainId`; returns what it paid.
    function compensate(uint64 chainId, address to, uint256 amount) external returns (uint256 paid);

    /// @notice This chain's block number at which `chainId` was frozen here, 0 if it is not.
    function frozenAt(uint64 chainId) external view returns (uint64);

    /// @notice Adds msg.value to the bond of `chainId`.
    function postBond(uint64 chainId) external payable;

    /// @notice Accepts a threshold-signed view that connects to the stored one. A signed view that
    /// conflicts with what is stored freezes the chain instead (it is fork evidence).
    /// @param signatures 65-byte ECDSA signatures over {ViewLib-digest}, ordered by ascending signer.
    /// @return accepted true when the view became the chain's newest view, false when it froze the chain.
    function submitView(View calldata view_, bytes[] calldata signatures) external returns (bool accepted);

    /// @notice Two threshold-signed views of one chain that no single chain can have: freezes the
    /// chain here and slashes its bond once (a reward to the caller, the rest kept for harmed users).
    function submitForkEvidence(View calldata a, bytes[] calldata sigA, View calldata b, bytes[] calldata sigB)
        external;

    /// @notice The EIP-712 digest `chainId`'s committee signs for `view_` (see {ViewLib-digest}).
    function digestOf(View calldata view_) external view returns (bytes32);

    /// @notice The block hash accepted for `height` of `chainId`, or zero.
    function blockHashAt(uint64 chainId, uint64 height) external view returns (bytes32);

    /// @notice The newest accepted view of `chainId`.
    function latestView(uint64 chainId) external view returns (View memory);

    /// @notice Height of the newest accepted view of `chainId`.
    function latestHeight(uint64 chainId) external view returns (uint64);

    /// @notice The remote Gateway of `chainId`.
    function gatewayOf(uint64 chainId) external view returns (address);

    /// @notice Committee, threshold and window size of `chainId`.
    function committeeOf(uint64 chainId) external view returns (address[] memory committee, uint256 threshold, uint64 k);

    /// @notice Bond currently posted for `chainId`.
    function bondOf(uint64 chainId) external view returns (uint256);

    /// @notice Slashed funds of `chainId` kept to compensate the users it harmed.
    function compensationOf(uint64 chainId) external view returns (uint256);

    /// @notice True once fork evidence froze `chainId` here.
    function isFrozen(uint64 chainId) external view returns (bool);
}
