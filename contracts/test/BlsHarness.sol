// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BlsLib} from "../libraries/BlsLib.sol";

/// @notice Exposes BlsLib's hash to G1 so that tests compare it with @noble/curves'.
contract BlsHarness {
    function hashToG1(bytes calldata message, bytes calldata dst) external view returns (bytes memory) {
        return BlsLib.hashToG1(message, dst);
    }
}
