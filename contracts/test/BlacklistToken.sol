// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only hostile ERC-20 that anyone can mint: it reverts every transfer to a blacklisted address (like
/// the blacklists of USDC or USDT) and, when a fee is set, burns that share of every transfer between two accounts
/// (a fee-on-transfer token).
contract BlacklistToken is ERC20 {
    error BlacklistTokenBlacklisted(address account);

    mapping(address account => bool) public blacklisted;
    uint256 public feeBps;

    constructor() ERC20("Blacklist", "BL") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBlacklisted(address account, bool value) external {
        blacklisted[account] = value;
    }

    function setFeeBps(uint256 feeBps_) external {
        feeBps = feeBps_;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!blacklisted[to], BlacklistTokenBlacklisted(to));
        uint256 fee = from == address(0) || to == address(0) ? 0 : (value * feeBps) / 10_000;
        if (fee > 0) super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
