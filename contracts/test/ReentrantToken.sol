// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 that, when the Gateway pays out of escrow, calls back into the Gateway with a call
/// it was armed with (terminate or cancel the same contract again, withdraw, ...) and records whether that
/// second call went through.
contract ReentrantToken is ERC20 {
    address public gateway;
    bytes private _call;
    bool public armed;
    uint256 public attempts;
    uint256 public successes;
    bytes public lastError;

    constructor() ERC20("Reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice On the next transfer out of `gateway_`, calls it with `call`.
    function arm(address gateway_, bytes calldata call) external {
        gateway = gateway_;
        _call = call;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != gateway || !armed) return;
        armed = false; // one attempt per payout
        attempts += 1;
        (bool ok, bytes memory ret) = gateway.call(_call);
        if (ok) successes += 1;
        else lastError = ret;
    }
}
