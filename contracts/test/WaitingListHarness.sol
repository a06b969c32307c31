// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {WaitingList} from "../libraries/WaitingList.sol";

/// @notice Test-only wrapper of the {WaitingList} library, so a test can fill it with thousands of expiries in
/// a few transactions and measure what one insert or remove costs then.
contract WaitingListHarness {
    using WaitingList for WaitingList.List;

    WaitingList.List private _list;

    function insert(uint64 expiry) external {
        _list.insert(expiry);
    }

    function remove(uint64 expiry) external {
        _list.remove(expiry);
    }

    /// @notice Inserts `first`, `first + step`, ... (`n` expiries).
    function insertSpread(uint64 first, uint64 step, uint256 n) external {
        for (uint256 i = 0; i < n; ++i) {
            _list.insert(first + uint64(i) * step);
        }
    }

    /// @notice Inserts `expiry` `n` times.
    function insertRepeated(uint64 expiry, uint256 n) external {
        for (uint256 i = 0; i < n; ++i) {
            _list.insert(expiry);
        }
    }

    function countAt(uint64 expiry) external view returns (uint256) {
        return _list.countAt(expiry);
    }

    function between(uint64 from, uint64 to) external view returns (uint64[] memory, uint256[] memory) {
        return _list.between(from, to);
    }
}
