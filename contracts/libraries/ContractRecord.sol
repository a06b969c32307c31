// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Where a contract transaction stands. A record is never `None` once registered.
enum Status {
    None,
    Registered, // ctx1 committed, tx1's assets in escrow
    Committed, // pre-committed: tx1 committed and locked, in the waiting list
    Released, // terminated with tx1 final: the lock released, the beneficiary paid
    Refunded, // terminated with tx1' committed: the refund address paid back
    Cancelled // expired before pre-commit: ctx1 cancelled, the escrow returned
}

/// @title ContractRecord
/// @notice The one storage word of a contract transaction: the only state the Gateway keeps per contract
/// (its terms are committed to by its id and passed back in calldata), and what other chains prove (the
/// paper's check()).
/// @dev Layout, low bits first: status (8 bits) | registeredAt (64) | committedAt (64) | finishedAt (64) |
/// valueGwei (56). `committedAt` is check(Hash(tx1)): the height at which tx1 was committed, 0 if never.
/// `finishedAt` is the height of the release, refund or cancellation; with status Refunded it is
/// check(Hash(tx1')). `valueGwei` is what the contract counts against the counterparty's bond, in gwei of
/// the native coin, fixed at registration. The word lives at `keccak256(abi.encode(contractId,
/// RECORDS_SLOT))`, i.e. Solidity's mapping slot for `contractId` under the namespaced base `RECORDS_SLOT`.
library ContractRecord {
    /// @notice keccak256("finality-ibc.gateway.records")
    bytes32 internal constant RECORDS_SLOT = keccak256("finality-ibc.gateway.records");
    /// @notice Largest value a record can carry, in gwei (about 72 million coins).
    uint256 internal constant MAX_VALUE_GWEI = type(uint56).max;

    struct Fields {
        Status status;
        uint64 registeredAt;
        uint64 committedAt;
        uint64 finishedAt;
        uint56 valueGwei;
    }

    function slotOf(bytes32 contractId) internal pure returns (bytes32) {
        return keccak256(abi.encode(contractId, RECORDS_SLOT));
    }

    function pack(Fields memory f) internal pure returns (uint256) {
        return uint256(f.status) | (uint256(f.registeredAt) << 8) | (uint256(f.committedAt) << 72)
            | (uint256(f.finishedAt) << 136) | (uint256(f.valueGwei) << 200);
    }

    /// @dev Unknown status values decode as `None`, so a word that is not a record never passes as one.
    function unpack(uint256 word) internal pure returns (Fields memory f) {
        uint256 status = word & 0xff;
        f.status = status <= uint256(Status.Cancelled) ? Status(status) : Status.None;
        f.registeredAt = uint64(word >> 8);
        f.committedAt = uint64(word >> 72);
        f.finishedAt = uint64(word >> 136);
        f.valueGwei = uint56(word >> 200);
    }

    function load(bytes32 contractId) internal view returns (Fields memory) {
        bytes32 slot = slotOf(contractId);
        uint256 word;
        assembly ("memory-safe") {
            word := sload(slot)
        }
        return unpack(word);
    }

    function store(bytes32 contractId, Fields memory f) internal {
        bytes32 slot = slotOf(contractId);
        uint256 word = pack(f);
        assembly ("memory-safe") {
            sstore(slot, word)
        }
    }
}
