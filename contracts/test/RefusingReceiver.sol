// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGateway} from "../interfaces/IGateway.sol";

/// @notice Test-only payout receiver that refuses the native coin (its receive function reverts) or needs
/// more gas than a payout forwards, until told to accept; it pulls what the Gateway owes it with {withdrawFrom}.
contract RefusingReceiver {
    enum Mode {
        Refuse, // receive() reverts
        Guzzle, // receive() writes fresh storage slots: more gas than a payout forwards
        Accept
    }

    error RefusingReceiverRefused();

    Mode public mode;
    uint256 public received;
    uint256 private _guzzled;

    constructor(Mode mode_) {
        mode = mode_;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @notice Calls {IGateway-withdraw} for `asset`, as the owner of what the Gateway owes this contract.
    function withdrawFrom(IGateway gateway, address asset) external returns (uint256) {
        return gateway.withdraw(asset);
    }

    receive() external payable {
        require(mode != Mode.Refuse, RefusingReceiverRefused());
        if (mode == Mode.Guzzle) {
            // Five fresh slots: over 100k gas.
            uint256 base = _guzzled;
            for (uint256 i = 1; i <= 5; ++i) {
                assembly ("memory-safe") {
                    sstore(add(0x1000, add(base, i)), 1)
                }
            }
            _guzzled = base + 5;
        }
        received += msg.value;
    }
}
