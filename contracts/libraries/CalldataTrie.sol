// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title CalldataTrie
/// @notice Merkle-Patricia trie proofs of Ethereum's secure tries (state and storage), verified where they lie:
/// in calldata. OpenZeppelin's `TrieProof` copies every node to memory and decodes each RLP list into an array of
/// slices (~23k gas per branch node at mainnet depth); here each node is copied once, to scratch memory, to be
/// hashed, and its items are then walked in place with bounds-checked RLP reads: a full branch node costs ~2.3k gas,
/// most of it its keccak and the check of its 17 item prefixes.
///
/// What a proof is: the nodes on the path of `key`, root first, as `eth_getProof` lists them. Every node is bound to
/// its parent: the first to `root` by its keccak256, each later one by its keccak256 to the 32-byte reference in the
/// node before it. A node shorter than 32 bytes is embedded (inlined) in its parent and walked where it lies;
/// clients that also list such a node as its own proof element (ethereumjs does, geth does not) are accepted too,
/// provided that element is byte for byte the embedded node.
///
/// What is refused (`ok == false`), never reverting and never using a byte past the item being decoded:
/// - a node whose hash (or embedded bytes) does not match its reference, or a hash-referenced node under 32 bytes;
/// - a `proof` element whose ABI offset or length points outside calldata (what the ABI decoder would revert on);
/// - RLP whose lengths run past the enclosing item, lists that do not fill their node exactly, a node that is
///   neither a 17-item branch nor a 2-item leaf/extension, a path with an unknown hex-prefix flag or a non-zero
///   padding nibble;
/// - a key that leaves the path (a sibling leaf, an empty branch slot: exclusion proofs), a proof ending before
///   the leaf (truncated) or going on after it (extended), an empty leaf value;
/// - any branch with a value (17th item not empty): keys of secure tries all have 64 nibbles, so no branch of
///   Ethereum's state or storage tries ever holds one.
///
/// Canonical RLP is not enforced beyond that (e.g. a one-byte string below 0x80 wrapped in a prefix is read as the
/// byte): every node is hash-committed, so a non-canonical node can only be met under a root that commits to it.
library CalldataTrie {
    /// @notice The value stored under `key` in the trie of root `root`, proven by `proof`.
    /// @param root Root hash of the trie (a state root or an account's storage root).
    /// @param key The key's path, already hashed as the secure tries do: keccak256(abi.encodePacked(address)) for
    /// an account, keccak256(abi.encode(slot)) for a storage slot. Its 64 nibbles are the path, high nibble first.
    /// @param proof The path's nodes, root first, each one's RLP encoding (as `eth_getProof` returns them).
    /// @return value The leaf's value bytes (the RLP string's payload: for an account its RLP list, for a slot its
    /// RLP-encoded integer), a slice of `proof`'s calldata; empty when `ok` is false.
    /// @return ok Whether `proof` proves that `key` holds `value` under `root` (see the refusals above).
    function tryGet(bytes32 root, bytes32 key, bytes[] calldata proof)
        internal
        pure
        returns (bytes calldata value, bool ok)
    {
        value = msg.data[0:0]; // the empty slice every refusal returns
        // All in assembly: this loop is where a proof's gas goes, and it never leaves calldata but to hash a node.
        // Small functions keep few variables live, so that the code compiles without the IR pipeline too.
        assembly ("memory-safe") {
            // The RLP item at `p`: payload offset `o`, payload length `l`, whether it is a list. Nothing is checked
            // here: an item that does not fit has `o + l` past its bound (even one starting at or past the bound,
            // since then `o >= p` and `o + l > p`), and every caller compares `o + l` with its bound before using
            // the item. Long lengths have at most 8 bytes, so `o + l` cannot wrap.
            function item(p) -> o, l, list {
                let w := calldataload(p)
                let b := shr(248, w)
                list := gt(b, 0xbf)
                switch lt(b, 0x80)
                case 1 {
                    // A single byte is its own payload.
                    o := p
                    l := 1
                }
                default {
                    // Short forms (0x80..0xb7, 0xc0..0xf7): the length is in the prefix's low 6 bits. Long forms:
                    // those bits minus 55 are the length of the big-endian length that follows.
                    l := and(b, 0x3f)
                    o := add(p, 1)
                    if gt(l, 0x37) {
                        let n := sub(l, 0x37)
                        o := add(o, n)
                        l := shr(sub(256, shl(3, n)), shl(8, w))
                    }
                }
            }

            // The node at [ptr, end): `shape` 1 for a branch, 2 for a leaf or extension (two items), 0 if it is not
            // a list filling the range whose first two items fit in it; `o` and `p1` are its items 0 and 1.
            function nodeShape(ptr, end) -> o, p1, shape {
                let l, list
                o, l, list := item(ptr)
                if iszero(and(list, eq(add(o, l), end))) { leave }
                let o0, l0, list0 := item(o)
                p1 := add(o0, l0)
                let o1, l1, list1 := item(p1)
                // p1 <= o1 <= o1 + l1: bounding the end of item 1 bounds both items.
                let e1 := add(o1, l1)
                if gt(e1, end) { leave }
                shape := add(1, eq(e1, end))
            }

            // The child reference at `p` (a bounds-checked item of a branch or extension): a hash (prefix 0xa0:
            // kind 1, `r` the hash) or a node embedded whole because its encoding is under 32 bytes (a list of 2..31
            // bytes in all, prefix 0xc1..0xde: kind 2 at [r, r + rl)). Anything else, the empty string of an
            // absent child included, is kind 0: the walk ends.
            function childAt(p) -> k, r, rl {
                let c := shr(248, calldataload(p))
                if eq(c, 0xa0) {
                    k := 1
                    r := calldataload(add(p, 1))
                    leave
                }
                if lt(sub(c, 0xc1), 0x1e) {
                    k := 2
                    r := p
                    rl := sub(c, 0xbf)
                }
            }

            // The position of child `nibble` of the branch whose items are at [p, end), or 0 if the items are not
            // 16 children and an empty value filling the range. A branch's children are only short strings (the
            // empty one, a hash) and short lists (embedded nodes), prefixes 0x80..0xb7 and 0xc0..0xf7, each
            // item's size its prefix's low 6 bits plus one. Positions only grow, so an item running past `end`
            // fails the final check.
            function branchChild(p, end, nibble) -> cp {
                switch sub(end, p)
                case 529 {
                    // The common case, a full branch (16 hashes of 33 bytes and the empty value): it is one when
                    // its 16 prefixes are 0xa0 and its last byte 0x80, and the child is at a known place. Unrolled:
                    // this is the hottest code of a proof.
                    let bad := xor(shr(248, calldataload(add(p, 528))), 0x80)
                    bad := or(bad, xor(shr(248, calldataload(p)), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 33))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 66))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 99))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 132))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 165))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 198))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 231))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 264))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 297))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 330))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 363))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 396))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 429))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 462))), 0xa0))
                    bad := or(bad, xor(shr(248, calldataload(add(p, 495))), 0xa0))
                    if iszero(bad) { cp := add(p, mul(33, nibble)) }
                }
                default {
                    // Each prefix's class (prefix / 8) indexes 0x8080ffff, whose set bits are the classes a child
                    // prefix cannot be in: 0x00..0x7f, 0xb8..0xbf, 0xf8..0xff.
                    let bad
                    for { let j := 0 } lt(j, 16) { j := add(j, 1) } {
                        if eq(j, nibble) { cp := p }
                        let c := shr(248, calldataload(p))
                        bad := or(bad, shr(shr(3, c), 0x8080ffff))
                        p := add(add(p, 1), and(c, 0x3f))
                    }
                    // The value, last: the empty string (secure tries hold no value in a branch).
                    if or(and(bad, 1), iszero(and(eq(shr(248, calldataload(p)), 0x80), eq(add(p, 1), end)))) {
                        cp := 0
                    }
                }
            }

            // The hex-prefix path, item 0 at `o` of a leaf or extension (bounds-checked): its flag (0 extension
            // even, 1 extension odd, 2 leaf even, 3 leaf odd) and its length `m` in nibbles, or flag 4 if it is not
            // a non-empty string, has another flag, a non-zero pad nibble (even paths), runs past the key's 64
            // nibbles or leaves the key.
            function hexPath(o, key_, depth_) -> flag, m {
                flag := 4
                let o0, l0, list0 := item(o)
                if or(list0, iszero(l0)) { leave }
                let first := shr(248, calldataload(o0))
                let f := shr(4, first)
                let odd := and(f, 1)
                m := sub(shl(1, l0), sub(2, odd))
                // The path's nibbles left-aligned in a word: an odd path fits in the 32 bytes from its first byte,
                // an even one (up to 64 nibbles: 33 bytes with the flag byte) in the 32 bytes after it.
                let path := shl(shl(2, odd), calldataload(add(o0, iszero(odd))))
                if or(
                    or(gt(f, 3), gt(add(depth_, m), 64)),
                    or(mul(iszero(odd), and(first, 0x0f)), and(xor(path, shl(shl(2, depth_), key_)), not(shr(shl(2, m), not(0)))))
                ) { leave }
                flag := f
            }

            // A leaf or extension ([path, value or child], items at `o` and `p1`) met at nibble `depth_`.
            function shortNode(o, p1, key_, depth_) -> k, r, rl, d {
                let flag, m := hexPath(o, key_, depth_)
                if gt(flag, 3) { leave }
                d := add(depth_, m)
                switch shr(1, flag)
                case 1 {
                    // Leaf: it must end the key and hold a non-empty string.
                    let o1, l1, list1 := item(p1)
                    if or(lt(d, 64), or(list1, iszero(l1))) { leave }
                    k := 3
                    r := o1
                    rl := l1
                }
                default {
                    // Extension: it consumes at least one nibble and leaves at least one to the branch below.
                    if or(iszero(m), eq(d, 64)) { leave }
                    k, r, rl := childAt(p1)
                }
            }

            // Decodes the node at [ptr, end) and follows the key from nibble `depth_` through it: kind 1 (go on in
            // the node of hash `r`), 2 (go on in the node embedded at [r, r + rl)), 3 (a leaf: its value is at
            // [r, r + rl)) or 0 (refused), and the depth after the node.
            function step(ptr, end, key_, depth_) -> k, r, rl, d {
                let o, p1, shape := nodeShape(ptr, end)
                switch shape
                case 1 {
                    if eq(depth_, 64) { leave }
                    let cp := branchChild(o, end, and(shr(sub(252, shl(2, depth_)), key_), 0xf))
                    if iszero(cp) { leave }
                    k, r, rl := childAt(cp)
                    d := add(depth_, 1)
                }
                case 2 { k, r, rl, d := shortNode(o, p1, key_, depth_) }
            }

            // Element `i` of `proof` (ABI: a head of offsets relative to the array, then each element's length and
            // bytes), with the checks the ABI decoder makes on `proof[i]`: `off` is 0 if it is not within calldata.
            function element(base, i) -> off, len {
                let rel := calldataload(add(base, shl(5, i)))
                let at := add(base, and(rel, 0xffffffffffffffff))
                len := calldataload(at)
                if or(or(gt(rel, 0xffffffffffffffff), gt(len, 0xffffffffffffffff)), gt(add(add(at, 0x20), len), calldatasize())) {
                    leave
                }
                off := add(at, 0x20)
            }

            // Element `i` of `proof` if its keccak256 is `expected`, else `off` 0. Past the root, a node under 32
            // bytes is always embedded: a hash reference to one is not a trie's. The node is copied to unallocated
            // memory to be hashed: scratch, so memory does not grow with the proof.
            function hashedElement(base, i, expected) -> off, len {
                off, len := element(base, i)
                if and(lt(len, 32), gt(i, 0)) { off := 0 }
                if iszero(off) { leave }
                let m := mload(0x40)
                calldatacopy(m, off, len)
                if iszero(eq(keccak256(m, len), expected)) { off := 0 }
            }

            // Where to walk the node embedded at [r, r + rl) of element `i`: in place, or in element `i + 1` when
            // that repeats it byte for byte (ethereumjs lists embedded nodes, geth does not).
            function embedded(base, count, i, r, rl) -> nextI, off {
                nextI := i
                off := r
                if lt(add(i, 1), count) {
                    let o2, l2 := element(base, add(i, 1))
                    if and(eq(l2, rl), iszero(iszero(o2))) {
                        if iszero(shr(sub(256, shl(3, rl)), xor(calldataload(o2), calldataload(r)))) {
                            nextI := add(i, 1)
                            off := o2
                        }
                    }
                }
            }

            // The walk from the root (the node of hash `r`, element 0): the leaf's value at [vo, vo + vl), or vl 0
            // on a refusal (a leaf's value is never empty). `i` is the element walked, or the one the node walked is
            // embedded in; `depth` the key's nibbles consumed above it.
            function walk(base, count, key_, r) -> vo, vl {
                let k := 1
                let rl, off, len, depth
                let i := not(0)
                for {} 1 {} {
                    switch k
                    case 1 {
                        // The next element, bound by its hash. None left: a truncated proof.
                        i := add(i, 1)
                        if eq(i, count) { leave }
                        off, len := hashedElement(base, i, r)
                        if iszero(off) { leave }
                    }
                    case 2 {
                        i, off := embedded(base, count, i, r, rl)
                        len := rl
                    }
                    case 3 {
                        // A leaf ends the walk; it must end the proof too (nodes after it are refused, not ignored).
                        if eq(add(i, 1), count) {
                            vo := r
                            vl := rl
                        }
                        leave
                    }
                    default { leave }
                    k, r, rl, depth := step(off, add(off, len), key_, depth)
                }
            }

            let vo, vl := walk(proof.offset, proof.length, key, root)
            if vl {
                ok := 1
                value.offset := vo
                value.length := vl
            }
        }
    }
}
