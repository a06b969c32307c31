// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Heap} from "@openzeppelin/contracts/utils/structs/Heap.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title WaitingList
/// @notice The paper's waiting list: pre-committed contracts, ordered by expiry height. Contracts that
/// expire at the same height share a bucket; a min-heap orders the buckets.
/// @dev Invariant: the heap's top is a non-empty bucket (or the heap is empty). Emptied buckets deeper
/// in the heap are dropped when they reach the top.
library WaitingList {
    using Heap for Heap.Uint256Heap;
    using EnumerableSet for EnumerableSet.Bytes32Set;

    struct List {
        Heap.Uint256Heap expiries;
        mapping(uint64 expiry => bool) inHeap;
        mapping(uint64 expiry => EnumerableSet.Bytes32Set) buckets;
    }

    function insert(List storage self, bytes32 contractId, uint64 expiry) internal {
        self.buckets[expiry].add(contractId);
        if (!self.inHeap[expiry]) {
            self.inHeap[expiry] = true;
            self.expiries.insert(expiry);
        }
    }

    function remove(List storage self, bytes32 contractId, uint64 expiry) internal {
        self.buckets[expiry].remove(contractId);
        while (self.expiries.length() > 0) {
            uint64 top = uint64(self.expiries.peek());
            if (self.buckets[top].length() > 0) break;
            self.expiries.pop();
            self.inHeap[top] = false;
        }
    }

    /// @notice The earliest expiry with contracts waiting, and those contracts; (0, []) when empty.
    function head(List storage self) internal view returns (uint64 expiry, bytes32[] memory contractIds) {
        if (self.expiries.length() == 0) return (0, contractIds);
        expiry = uint64(self.expiries.peek());
        contractIds = self.buckets[expiry].values();
    }
}
