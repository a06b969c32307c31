// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Test-only contract that writes any word to any of its storage slots: an attacker's
/// "Gateway" whose storage claims whatever record the attacker likes.
contract SlotWriter {
    function write(bytes32 slot, uint256 word) external {
        assembly ("memory-safe") {
            sstore(slot, word)
        }
    }
}
