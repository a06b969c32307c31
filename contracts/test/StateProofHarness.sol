// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BlockHeader} from "@openzeppelin/contracts/utils/BlockHeader.sol";
import {Memory} from "@openzeppelin/contracts/utils/Memory.sol";
import {RLP} from "@openzeppelin/contracts/utils/RLP.sol";
import {TrieProof} from "@openzeppelin/contracts/utils/cryptography/TrieProof.sol";
import {CalldataTrie} from "../libraries/CalldataTrie.sol";
import {StateProof} from "../libraries/StateProof.sol";

/// @notice Test-only: {StateProof} and {CalldataTrie} side by side with OpenZeppelin's `BlockHeader` and `TrieProof`,
/// for differential tests and gas measurements. The `oz*` functions are the reference; they may revert on input
/// OpenZeppelin cannot decode, which the tests count as a refusal.
contract StateProofHarness {
    using RLP for Memory.Slice;

    /// @notice The header's hash is not the one the caller accepted.
    error HarnessHeaderNotAccepted(bytes32 hash);
    /// @notice The account proof was refused.
    error HarnessBadAccountProof();
    /// @notice The storage proof was refused.
    error HarnessBadStorageProof();

    /// @notice Emitted by {proveSlot} and {ozProveSlot}: the transaction's result, so it is not a view call.
    event SlotProven(bytes32 indexed headerHash, address indexed account, bytes32 indexed slot, uint256 value);

    /// @notice {StateProof-headerFields}.
    function headerFields(bytes calldata header) external pure returns (bytes32 hash, uint64 number, bytes32 stateRoot) {
        return StateProof.headerFields(header);
    }

    /// @notice The same three fields by OpenZeppelin's `BlockHeader`.
    function ozHeaderFields(bytes memory header) external pure returns (bytes32 hash, uint64 number, bytes32 stateRoot) {
        return (keccak256(header), uint64(BlockHeader.getNumber(header)), BlockHeader.getStateRoot(header));
    }

    /// @notice {CalldataTrie-tryGet}, the value copied to memory.
    function tryGet(bytes32 root, bytes32 key, bytes[] calldata proof) external pure returns (bytes memory value, bool ok) {
        return CalldataTrie.tryGet(root, key, proof);
    }

    /// @notice OpenZeppelin's `TrieProof.tryTraverse` for the same hashed key.
    function ozTryGet(bytes32 root, bytes32 key, bytes[] memory proof)
        external
        pure
        returns (bytes memory value, TrieProof.ProofError err)
    {
        return TrieProof.tryTraverse(root, abi.encodePacked(key), proof);
    }

    /// @notice {StateProof-tryStorageRoot}.
    function tryStorageRoot(bytes32 stateRoot, address account, bytes[] calldata accountProof)
        external
        pure
        returns (bytes32 storageRoot, bool ok)
    {
        return StateProof.tryStorageRoot(stateRoot, account, accountProof);
    }

    /// @notice The account's storage root by OpenZeppelin (ok false on a traversal error).
    function ozStorageRoot(bytes32 stateRoot, address account, bytes[] memory accountProof)
        public
        pure
        returns (bytes32 storageRoot, bool ok)
    {
        (bytes memory accountRlp, TrieProof.ProofError err) =
            TrieProof.tryTraverse(stateRoot, abi.encodePacked(keccak256(abi.encodePacked(account))), accountProof);
        if (err != TrieProof.ProofError.NO_ERROR) return (0, false);
        return (RLP.decodeList(accountRlp)[2].readBytes32(), true);
    }

    /// @notice {StateProof-tryReadSlot}.
    function tryReadSlot(bytes32 storageRoot, bytes32 slot, bytes[] calldata storageProof)
        external
        pure
        returns (uint256 value, bool ok)
    {
        return StateProof.tryReadSlot(storageRoot, slot, storageProof);
    }

    /// @notice The slot's value by OpenZeppelin (ok false on a traversal error).
    function ozReadSlot(bytes32 storageRoot, bytes32 slot, bytes[] memory storageProof)
        public
        pure
        returns (uint256 value, bool ok)
    {
        (bytes memory valueRlp, TrieProof.ProofError err) =
            TrieProof.tryTraverse(storageRoot, abi.encodePacked(keccak256(abi.encode(slot))), storageProof);
        if (err != TrieProof.ProofError.NO_ERROR) return (0, false);
        return (RLP.decodeUint256(valueRlp), true);
    }

    /// @notice One slot proven from a header, as a transaction does it: the header's hash checked against the one
    /// the caller accepted, its state root read, the account's storage root proven, the slot proven.
    function proveSlot(
        bytes calldata header,
        bytes32 acceptedHash,
        address account,
        bytes[] calldata accountProof,
        bytes32 slot,
        bytes[] calldata storageProof
    ) external returns (uint256 value) {
        (bytes32 hash,, bytes32 stateRoot) = StateProof.headerFields(header);
        require(hash == acceptedHash, HarnessHeaderNotAccepted(hash));
        (bytes32 storageRoot, bool ok) = StateProof.tryStorageRoot(stateRoot, account, accountProof);
        require(ok, HarnessBadAccountProof());
        (value, ok) = StateProof.tryReadSlot(storageRoot, slot, storageProof);
        require(ok, HarnessBadStorageProof());
        emit SlotProven(hash, account, slot, value);
    }

    /// @notice Execution gas of a call of this contract with `data` (e.g. {proveSlot}'s): the inner call's gas,
    /// ABI decoding included, without the transaction's base cost and calldata cost. Reverts as the call does.
    function executionGas(bytes calldata data) external returns (uint256 gasUsed) {
        uint256 before = gasleft();
        (bool success, bytes memory result) = address(this).call(data);
        gasUsed = before - gasleft();
        if (!success) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }

    /// @notice {proveSlot} with OpenZeppelin's `BlockHeader` and `TrieProof`.
    function ozProveSlot(
        bytes memory header,
        bytes32 acceptedHash,
        address account,
        bytes[] memory accountProof,
        bytes32 slot,
        bytes[] memory storageProof
    ) external returns (uint256 value) {
        bytes32 hash = keccak256(header);
        require(hash == acceptedHash, HarnessHeaderNotAccepted(hash));
        (bytes32 storageRoot, bool ok) = ozStorageRoot(BlockHeader.getStateRoot(header), account, accountProof);
        require(ok, HarnessBadAccountProof());
        (value, ok) = ozReadSlot(storageRoot, slot, storageProof);
        require(ok, HarnessBadStorageProof());
        emit SlotProven(hash, account, slot, value);
    }
}
