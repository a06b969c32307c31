// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IGateway} from "../interfaces/IGateway.sol";
import {StorageProof} from "../libraries/StateProof.sol";

/// @notice Test-only ERC-20 that, when the Gateway pays out of escrow, calls back into the Gateway to
/// terminate or cancel the same contract again, and records whether that second call went through.
contract ReentrantToken is ERC20 {
    enum Attack {
        None,
        Terminate,
        Cancel
    }

    IGateway public gateway;
    bytes32 public target;
    Attack public attack;
    StorageProof private _proof;
    uint256 public attempts;
    uint256 public successes;

    constructor() ERC20("Reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(IGateway gateway_, bytes32 target_, Attack attack_, StorageProof calldata proof) external {
        gateway = gateway_;
        target = target_;
        attack = attack_;
        _proof = proof;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(gateway) || attack == Attack.None) return;
        Attack current = attack;
        attack = Attack.None; // one attempt per payout
        attempts += 1;
        if (current == Attack.Terminate) {
            try gateway.terminate(target, _proof) {
                successes += 1;
            } catch {}
        } else {
            try gateway.cancel(target) {
                successes += 1;
            } catch {}
        }
    }
}
