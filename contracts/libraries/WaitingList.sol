// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title WaitingList
/// @notice The paper's waiting list: how many locked (pre-committed) contracts expire at each height, in
/// height order. Sixteen 16-bit counters share a storage word, so inserting or removing a contract writes
/// one word whatever else is in the list: every operation costs a fixed bound. Which contracts expire at a
/// height is told by the Gateway's `ContractPrecommitted` events, indexed by expiry.
library WaitingList {
    uint256 private constant PER_WORD = 16;
    uint256 private constant BITS = 16;
    uint256 private constant MASK = 0xffff;

    error WaitingListFull(uint64 expiry);

    struct List {
        mapping(uint256 word => uint256 counters) words;
    }

    /// @notice Counts one more contract expiring at `expiry`; false, changing nothing, when that height's
    /// counter is full (65,535 contracts).
    function tryInsert(List storage self, uint64 expiry) internal returns (bool) {
        (uint256 word, uint256 shift) = _position(expiry);
        uint256 packed = self.words[word];
        if ((packed >> shift) & MASK == MASK) return false;
        self.words[word] = packed + (1 << shift);
        return true;
    }

    /// @notice Like {tryInsert}, reverting with {WaitingListFull}.
    function insert(List storage self, uint64 expiry) internal {
        require(tryInsert(self, expiry), WaitingListFull(expiry));
    }

    /// @dev The caller removes only what it inserted: the counter is never zero here.
    function remove(List storage self, uint64 expiry) internal {
        (uint256 word, uint256 shift) = _position(expiry);
        self.words[word] -= 1 << shift;
    }

    /// @notice Locked contracts that expire at `expiry`.
    function countAt(List storage self, uint64 expiry) internal view returns (uint256) {
        (uint256 word, uint256 shift) = _position(expiry);
        return (self.words[word] >> shift) & MASK;
    }

    /// @notice The heights in [from, to] at which contracts expire, in order, with their counts. A reader's
    /// walk: one storage read per 16 heights.
    function between(List storage self, uint64 from, uint64 to)
        internal
        view
        returns (uint64[] memory expiries, uint256[] memory counts)
    {
        uint256 span = to >= from ? uint256(to - from) + 1 : 0;
        expiries = new uint64[](span);
        counts = new uint256[](span);
        uint256 n;
        uint256 packed;
        for (uint256 h = from; h < uint256(from) + span; ++h) {
            if (h == from || h % PER_WORD == 0) packed = self.words[h / PER_WORD];
            uint256 c = (packed >> ((h % PER_WORD) * BITS)) & MASK;
            if (c != 0) {
                expiries[n] = uint64(h);
                counts[n] = c;
                ++n;
            }
        }
        assembly ("memory-safe") {
            mstore(expiries, n)
            mstore(counts, n)
        }
    }

    function _position(uint64 expiry) private pure returns (uint256 word, uint256 shift) {
        return (expiry / PER_WORD, (expiry % PER_WORD) * BITS);
    }
}
