// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {CalldataTrie} from "./CalldataTrie.sol";

/// @title StateProof
/// @notice Remote state proofs, read from calldata: header RLP -> state root -> account proof -> storage root ->
/// storage proof. The caller checks that the header's hash is one it accepted for the remote chain (this library
/// knows no chain); everything below the header is proven here, with {CalldataTrie}.
library StateProof {
    /// @notice The header is not an RLP list whose fields 0..8 fit in it, or its state root or number is malformed.
    error StateProofInvalidHeader();

    /// @dev Header field 3 (since Frontier): the state root.
    uint256 private constant _STATE_ROOT_FIELD = 3;
    /// @dev Header field 8 (since Frontier): the block number.
    uint256 private constant _NUMBER_FIELD = 8;

    /// @notice keccak256 of the header, its block number (RLP field 8) and state root (field 3), read straight from
    /// calldata. Only the list's prefix and fields 0..8 are decoded, so headers of every fork since Frontier read alike.
    /// @dev Reverts with {StateProofInvalidHeader} on malformed RLP (a header the caller accepted never is): the
    /// list must fill `header`, fields 0..8 must be strings that fit in it, the state root 32 bytes long and the
    /// number at most 8.
    function headerFields(bytes calldata header)
        internal
        pure
        returns (bytes32 hash, uint64 number, bytes32 stateRoot)
    {
        (uint256 offset, uint256 end) = _bounds(header);
        assembly ("memory-safe") {
            // Hashed from unallocated memory: the copy is scratch.
            let m := mload(0x40)
            calldatacopy(m, header.offset, header.length)
            hash := keccak256(m, header.length)
        }
        (uint256 p, uint256 length, bool isList) = _item(offset);
        require(isList && p + length == end, StateProofInvalidHeader());
        uint256 start;
        for (uint256 i; i <= _NUMBER_FIELD; ++i) {
            (start, length, isList) = _item(p);
            p = start + length;
            require(!isList && p <= end, StateProofInvalidHeader());
            if (i == _STATE_ROOT_FIELD) {
                require(length == 32, StateProofInvalidHeader());
                stateRoot = bytes32(_word(start));
            }
        }
        // The last field read is the number: a big-endian integer, at most 8 bytes (the empty string is 0).
        require(length <= 8, StateProofInvalidHeader());
        number = uint64(_word(start) >> (256 - 8 * length));
    }

    /// @notice The storage root of `account` in the state of root `stateRoot`: the third field of the account's
    /// RLP `[nonce, balance, storageRoot, codeHash]` in the state trie.
    /// @param accountProof `eth_getProof`'s `accountProof`: the state trie's nodes, root first.
    /// @return storageRoot The account's storage root; zero when `ok` is false.
    /// @return ok False on any bad proof ({CalldataTrie-tryGet} refusals), on an exclusion proof (no such account)
    /// and on an account value that is not a list of 4 strings ending in two of 32 bytes.
    function tryStorageRoot(bytes32 stateRoot, address account, bytes[] calldata accountProof)
        internal
        pure
        returns (bytes32 storageRoot, bool ok)
    {
        bytes32 key;
        assembly ("memory-safe") {
            mstore(0x00, shl(96, account))
            key := keccak256(0x00, 20) // keccak256(abi.encodePacked(account)), in scratch space
        }
        bytes calldata value;
        (value, ok) = CalldataTrie.tryGet(stateRoot, key, accountProof);
        if (!ok) return (0, false);

        (uint256 offset, uint256 end) = _bounds(value);
        (uint256 p, uint256 length, bool isList) = _item(offset);
        if (!isList || p + length != end) return (0, false);
        for (uint256 i; i < 4; ++i) {
            uint256 start;
            (start, length, isList) = _item(p);
            p = start + length;
            // Nonce and balance are integers, storage root and code hash 32-byte strings.
            if (isList || p > end || (i >= 2 && length != 32)) return (0, false);
            if (i == 2) storageRoot = bytes32(_word(start));
        }
        if (p != end) return (0, false);
        return (storageRoot, true);
    }

    /// @notice The value of storage `slot` in the storage trie of root `storageRoot`.
    /// @param storageProof `eth_getProof`'s `storageProof[i].proof`: the storage trie's nodes, root first.
    /// @return value The leaf's RLP-encoded integer, decoded; zero when `ok` is false.
    /// @return ok False on any bad proof ({CalldataTrie-tryGet} refusals), INCLUDING an exclusion proof: a zero slot
    /// is absent from the trie, and this library proves presence only. Also false when the leaf is not the RLP
    /// string of a 1- to 32-byte integer (a trie never stores zero, the empty string).
    function tryReadSlot(bytes32 storageRoot, bytes32 slot, bytes[] calldata storageProof)
        internal
        pure
        returns (uint256 value, bool ok)
    {
        bytes32 key;
        assembly ("memory-safe") {
            mstore(0x00, slot)
            key := keccak256(0x00, 32) // keccak256(abi.encode(slot)), in scratch space
        }
        bytes calldata leaf;
        (leaf, ok) = CalldataTrie.tryGet(storageRoot, key, storageProof);
        if (!ok) return (0, false);

        (uint256 offset, uint256 end) = _bounds(leaf);
        (uint256 start, uint256 length, bool isList) = _item(offset);
        if (isList || start + length != end || length == 0 || length > 32) return (0, false);
        return (_word(start) >> (256 - 8 * length), true);
    }

    /// @dev The RLP item at calldata `p`: payload offset, payload length, whether it is a list. Unchecked: an item
    /// that does not fit has `start + length` past its bound (even one starting at or past it, as `start >= p` and
    /// `start + length > p` then), which every caller checks before using the item. Long lengths have at most 8
    /// bytes, so `start + length` cannot wrap.
    function _item(uint256 p) private pure returns (uint256 start, uint256 length, bool isList) {
        assembly ("memory-safe") {
            let w := calldataload(p)
            let b := shr(248, w)
            isList := gt(b, 0xbf)
            switch lt(b, 0x80)
            case 1 {
                // A single byte is its own payload.
                start := p
                length := 1
            }
            default {
                // Short forms (0x80..0xb7, 0xc0..0xf7): the length is in the prefix's low 6 bits. Long forms: those
                // bits minus 55 are the length of the big-endian length that follows.
                length := and(b, 0x3f)
                start := add(p, 1)
                if gt(length, 0x37) {
                    let n := sub(length, 0x37)
                    start := add(start, n)
                    length := shr(sub(256, shl(3, n)), shl(8, w))
                }
            }
        }
    }

    /// @dev Where `data` starts and ends in calldata.
    function _bounds(bytes calldata data) private pure returns (uint256 offset, uint256 end) {
        assembly ("memory-safe") {
            offset := data.offset
            end := add(data.offset, data.length)
        }
    }

    /// @dev The 32 bytes of calldata at `p`.
    function _word(uint256 p) private pure returns (uint256 word) {
        assembly ("memory-safe") {
            word := calldataload(p)
        }
    }
}
