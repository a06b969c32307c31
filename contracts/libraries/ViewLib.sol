// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @notice A view of a chain (the paper's Algorithm 1): its height m, the accumulator `acc` and the
/// hashes of its newest blocks.
/// @dev Index convention: `hashes[i]` is the block hash of height `start + i` where
/// `start = height + 1 - hashes.length`; the window holds min(k, height + 1) hashes. `acc` folds
/// keccak256(acc ‖ blockHash) over every height below `start`, starting from bytes32(0), so a view
/// whose window reaches height 0 has acc == 0.
struct View {
    uint64 chainId;
    uint64 height;
    bytes32 acc;
    bytes32[] hashes;
}

/// @title ViewLib
/// @notice Pure rules on views: their EIP-712 digest, the connect rule and fork evidence.
library ViewLib {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VIEW_TYPEHASH =
        keccak256("View(uint64 chainId,uint64 height,bytes32 acc,bytes32[] hashes)");
    bytes32 internal constant NAME_HASH = keccak256("FinalityIBC");
    bytes32 internal constant VERSION_HASH = keccak256("1");

    /// @notice First height covered by the view's window.
    function start(View memory v) internal pure returns (uint64) {
        return v.height + 1 - uint64(v.hashes.length);
    }

    /// @notice True when the window has the shape required for a chain with window size `k`.
    function wellFormed(View memory v, uint64 k) internal pure returns (bool) {
        uint256 expected = v.height + 1 < k ? v.height + 1 : k;
        return v.hashes.length == expected && (v.height + 1 > k || v.acc == bytes32(0));
    }

    /// @notice The digest the viewed chain's committee signs. The domain names the protocol and the
    /// viewed chain (its chainId and its Gateway), never the verifying chain, so one set of
    /// signatures is checked on every other chain and cannot pass for another chain or deployment.
    function digest(View memory v, address viewedGateway) internal pure returns (bytes32) {
        bytes32 domain = keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, uint256(v.chainId), viewedGateway));
        bytes32 structHash = keccak256(
            abi.encode(VIEW_TYPEHASH, v.chainId, v.height, v.acc, keccak256(abi.encodePacked(v.hashes)))
        );
        return MessageHashUtils.toTypedDataHash(domain, structHash);
    }

    /// @notice The accumulator through the view's newest block: `acc` folded over the whole window. It
    /// commits to every block hash from genesis to `height`, so the registry keeps one word per accepted
    /// view instead of one per height.
    function accThrough(View memory v) internal pure returns (bytes32) {
        return fold(v.acc, v.hashes, 0, v.hashes.length);
    }

    /// @notice Folds `acc` over `hashes[from:to]`.
    function fold(bytes32 acc, bytes32[] memory hashes, uint256 from, uint256 to) internal pure returns (bytes32) {
        for (uint256 i = from; i < to; ++i) {
            acc = step(acc, hashes[i]);
        }
        return acc;
    }

    /// @notice Folds `acc` over the whole of `hashes` (`through`), returning on the way the fold over
    /// `hashes[0:cut]` (`atCut`): one pass where {accThrough} and {fold} would take two. `cut <= hashes.length`.
    function foldWithCut(bytes32 acc, bytes32[] memory hashes, uint256 cut)
        internal
        pure
        returns (bytes32 through, bytes32 atCut)
    {
        assembly ("memory-safe") {
            let p := add(hashes, 0x20)
            let end := add(p, shl(5, mload(hashes)))
            let c := add(p, shl(5, cut))
            for {} lt(p, end) { p := add(p, 0x20) } {
                if eq(p, c) { atCut := acc }
                mstore(0x00, acc)
                mstore(0x20, mload(p))
                acc := keccak256(0x00, 0x40)
            }
            if eq(c, end) { atCut := acc }
            through := acc
        }
    }

    /// @notice One fold step: the accumulator through a block, from the one through its parent.
    function step(bytes32 acc, bytes32 blockHash) internal pure returns (bytes32 next) {
        assembly ("memory-safe") {
            mstore(0x00, acc)
            mstore(0x20, blockHash)
            next := keccak256(0x00, 0x40)
        }
    }

    /// @notice Result of comparing two views of one chain.
    enum Relation {
        Consistent, // both can be prefixes of one chain
        Conflicting, // no single chain has both: fork evidence
        Unverifiable // the gap between them is larger than the window: pull a longer view first
    }

    /// @notice Compares two well-formed views of the same chain. Heights both windows cover must carry
    /// the same hash; when the newer window starts at most one past the older one's end (a gap of at
    /// most k), folding the older acc over the older window up to the newer start must give the newer acc.
    function relate(View memory a, View memory b) internal pure returns (Relation) {
        if (a.height > b.height) (a, b) = (b, a);
        uint64 aStart = start(a);
        uint64 bStart = start(b);
        // Shared heights: [max(aStart, bStart), a.height]
        uint64 lo = aStart > bStart ? aStart : bStart;
        for (uint64 h = lo; h <= a.height; ++h) {
            if (a.hashes[h - aStart] != b.hashes[h - bStart]) return Relation.Conflicting;
        }
        if (bStart > a.height + 1) return Relation.Unverifiable;
        // Well-formed windows of one chain satisfy aStart <= bStart when a.height <= b.height.
        bytes32 folded = fold(a.acc, a.hashes, 0, bStart - aStart);
        return folded == b.acc ? Relation.Consistent : Relation.Conflicting;
    }
}
