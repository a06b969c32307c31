// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @notice Test-only stand-in for a Safe, a multicall or an ERC-4337 account: it calls `target` with any data,
/// so the call a relayer cares about is an internal call, invisible in the transaction's own input.
contract Forwarder {
    /// @notice Calls `target` with `data` and msg.value; bubbles up its revert.
    function forward(address target, bytes calldata data) external payable returns (bytes memory) {
        return Address.functionCallWithValue(target, data, msg.value);
    }

    /// @notice Takes payments, like a smart account: a fork reported through it pays it the reward.
    receive() external payable {}
}
