// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BlsLib
/// @notice BLS12-381 signatures with short signatures (signatures in G1, public keys in G2) through the EIP-2537
/// precompiles: RFC 9380 hash_to_curve onto G1, a pairing check, and committee keys kept in contract code.
/// @dev Points use the EIP-2537 encoding: a G1 point is x ‖ y (128 bytes), a G2 point x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1
/// (256 bytes), every field element 64 bytes big-endian with 16 leading zero bytes; the point at infinity is all
/// zeros. Signatures are in G1 rather than G2 because hashing onto G1 costs two MAP_FP_TO_G1 (5,500 gas each)
/// where G2 takes two MAP_FP2_TO_G2 (23,800 each): about 37,000 gas less per view, against 225 gas more per key
/// added (G2ADD 600 against G1ADD 375).
library BlsLib {
    uint256 internal constant G1_POINT = 128;
    uint256 internal constant G2_POINT = 256;
    /// @notice Keys per key table: a table is one contract's code, a zero byte then 256 bytes per entry, within
    /// EIP-170's 24,576 bytes.
    uint256 internal constant KEYS_PER_TABLE = 95;

    /// @notice Domain tag of view signatures, and of the proofs of possession: a signature under one never
    /// verifies under the other (RFC 9380 suite BLS12381G1_XMD:SHA-256_SSWU_RO_).
    bytes internal constant VIEW_DST = "FinalityIBC-V1-VIEW_BLS12381G1_XMD:SHA-256_SSWU_RO_";
    bytes internal constant POP_DST = "FinalityIBC-V1-POP_BLS12381G1_XMD:SHA-256_SSWU_RO_";

    address private constant MODEXP = address(0x05);
    address private constant G1_ADD = address(0x0b);
    address private constant G2_ADD = address(0x0d);
    address private constant PAIRING = address(0x0f);
    address private constant MAP_FP_TO_G1 = address(0x10);

    /// @dev The base field modulus p as a 48-byte big-endian number: its top 16 bytes and its low 32 bytes.
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// @dev The generator of G2 and its negation.
    bytes private constant G2_GENERATOR =
        hex"00000000000000000000000000000000024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
        hex"0000000000000000000000000000000013e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
        hex"000000000000000000000000000000000ce5d527727d6e118cc9cdc6da2e351aadfd9baa8cbdd3a76d429a695160d12c923ac9cc3baca289e193548608b82801"
        hex"000000000000000000000000000000000606c4a02ea734cc32acd2b02bc28b99cb3e287e85a763af267492ab572e99ab3f370d275cec1da1aaa9075ff05f79be";
    bytes private constant NEG_G2_GENERATOR =
        hex"00000000000000000000000000000000024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
        hex"0000000000000000000000000000000013e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
        hex"000000000000000000000000000000000d1b3cc2c7027888be51d9ef691d77bcb679afda66c73f17f9ee3837a55024f78c71363275a75d75d86bab79f74782aa"
        hex"0000000000000000000000000000000013fa4d4a0ad8b1ce186ed5061789213d993923066dddaf1040bc3ff59f825c78df74f2d75467e25e0f55f8a00fa030ed";

    /// @notice Outcome of a signature check: the signature or key is the point at infinity, the precompiles refused
    /// a point (off the curve, outside its subgroup, or not a canonical encoding), the pairing equation failed, or
    /// it held.
    enum Check {
        Infinity,
        InvalidPoint,
        Mismatch,
        Valid
    }

    /// @notice RFC 9380 hash_to_curve onto G1 (expand_message_xmd with SHA-256, two field elements, each mapped by
    /// MAP_FP_TO_G1, which also clears the cofactor, and the two points added).
    function hashToG1(bytes memory message, bytes memory dst) internal view returns (bytes memory point) {
        (bytes32 b1, bytes32 b2, bytes32 b3, bytes32 b4) = expandMessageXmd(message, dst);
        bytes memory q0 = _call(MAP_FP_TO_G1, _toField(b1, b2), G1_POINT);
        bytes memory q1 = _call(MAP_FP_TO_G1, _toField(b3, b4), G1_POINT);
        point = _call(G1_ADD, bytes.concat(q0, q1), G1_POINT);
    }

    /// @notice expand_message_xmd (RFC 9380, 5.3.1) with SHA-256 and 128 output bytes: two 64-byte field elements.
    function expandMessageXmd(bytes memory message, bytes memory dst)
        internal
        pure
        returns (bytes32 b1, bytes32 b2, bytes32 b3, bytes32 b4)
    {
        require(dst.length <= 255);
        bytes memory dstPrime = bytes.concat(dst, bytes1(uint8(dst.length)));
        // Z_pad (one SHA-256 block of zeros) ‖ msg ‖ I2OSP(128, 2) ‖ I2OSP(0, 1) ‖ DST_prime
        bytes32 b0 = sha256(bytes.concat(bytes32(0), bytes32(0), message, hex"008000", dstPrime));
        b1 = sha256(bytes.concat(b0, hex"01", dstPrime));
        b2 = sha256(bytes.concat(b0 ^ b1, hex"02", dstPrime));
        b3 = sha256(bytes.concat(b0 ^ b2, hex"03", dstPrime));
        b4 = sha256(bytes.concat(b0 ^ b3, hex"04", dstPrime));
    }

    /// @notice Checks e(signature, g2) = e(hashed, key) as e(signature, −g2) · e(hashed, key) = 1, or, when `negated`,
    /// with −key given: e(signature, g2) · e(hashed, −key) = 1. The pairing precompile refuses points off the curve
    /// or outside their subgroup; the point at infinity is refused here (it would satisfy the equation for any
    /// message with an infinite key).
    function check(bytes memory signature, bytes memory hashed, bytes memory key, bool negated)
        internal
        view
        returns (Check)
    {
        if (isInfinity(signature) || isInfinity(key)) return Check.Infinity;
        bytes memory input = bytes.concat(signature, negated ? G2_GENERATOR : NEG_G2_GENERATOR, hashed, key);
        (bool ok, bytes memory out) = PAIRING.staticcall(input);
        if (!ok || out.length != 32) return Check.InvalidPoint;
        return abi.decode(out, (uint256)) == 1 ? Check.Valid : Check.Mismatch;
    }

    /// @notice A proof of possession: `proof` is the signature of the key's own 256-byte encoding under POP_DST.
    /// Registering only keys with one defeats the rogue-key attack (a key chosen as another minus the member's,
    /// whose secret nobody knows, cannot sign its own encoding). The pairing also checks the key is in G2.
    function checkPossession(bytes memory key, bytes memory proof) internal view returns (Check) {
        if (key.length != G2_POINT || proof.length != G1_POINT) return Check.InvalidPoint;
        return check(proof, hashToG1(key, POP_DST), key, false);
    }

    /// @notice −point for a G2 point (y ↦ p − y in each coordinate; a zero coordinate stays zero).
    function negateG2(bytes memory point) internal pure returns (bytes memory negated) {
        negated = bytes.concat(point);
        _negateFp(negated, 128);
        _negateFp(negated, 192);
    }

    /// @notice The sum of two G2 points.
    function addG2(bytes memory a, bytes memory b) internal view returns (bytes memory) {
        return _call(G2_ADD, bytes.concat(a, b), G2_POINT);
    }

    /// @notice True for the all-zero encoding, the point at infinity.
    function isInfinity(bytes memory point) internal pure returns (bool zero) {
        assembly ("memory-safe") {
            zero := 1
            let p := add(point, 0x20)
            for { let end := add(p, mload(point)) } lt(p, end) { p := add(p, 0x20) } {
                if mload(p) {
                    zero := 0
                    break
                }
            }
        }
    }

    /// @notice Deploys `entries` (256 bytes each) as the code of a new contract, after a zero byte (STOP) so that a
    /// call to it does nothing.
    function deployTable(bytes memory entries) internal returns (address table) {
        uint256 size = entries.length + 1;
        // PUSH2 size, DUP1, PUSH1 10, PUSH0, CODECOPY, PUSH0, RETURN: returns the code after these 10 bytes.
        bytes memory init = bytes.concat(hex"61", bytes2(uint16(size)), hex"80600a5f395ff3", hex"00", entries);
        assembly ("memory-safe") {
            table := create(0, add(init, 0x20), mload(init))
        }
        require(table != address(0));
    }

    /// @notice Sums entries of the key tables: entry 0 is the aggregate of the whole committee, entry i + 1 the
    /// negated key of member i. With `subtract` it returns the aggregate minus the keys of the members whose bit
    /// in `bitmap` is clear, else the sum of the negated keys of the members whose bit is set (minus their
    /// aggregate): either way one G2ADD per member summed, so the caller sums the fewer of the two.
    function sumKeys(address[3] storage tables, uint256 bitmap, uint256 q, bool subtract)
        internal
        view
        returns (bytes memory sum)
    {
        // The running sum and the next key side by side, the G2ADD input; its output overwrites the sum.
        sum = new bytes(2 * G2_POINT);
        if (subtract) _copyEntry(tables[0], 0, sum);
        uint256 wanted = subtract ? ~bitmap : bitmap;
        if (q < 256) wanted &= (1 << q) - 1;
        assembly ("memory-safe") {
            let p := add(sum, 0x20)
            let tableIndex := not(0)
            let table := 0
            for { let i := 0 } wanted {} {
                // Eight members at a time while none of them is wanted.
                if iszero(and(wanted, 0xff)) {
                    wanted := shr(8, wanted)
                    i := add(i, 8)
                    continue
                }
                if and(wanted, 1) {
                    let entry := add(i, 1)
                    let t := div(entry, KEYS_PER_TABLE)
                    if iszero(eq(t, tableIndex)) {
                        tableIndex := t
                        table := sload(add(tables.slot, t))
                    }
                    extcodecopy(table, add(p, 256), add(1, mul(mod(entry, KEYS_PER_TABLE), 256)), 256)
                    if iszero(staticcall(gas(), 0x0d, p, 512, p, 256)) { revert(0, 0) }
                }
                wanted := shr(1, wanted)
                i := add(i, 1)
            }
            mstore(sum, 256)
        }
    }

    /// @notice Entry `entry` of the key tables (0: the committee's aggregate key, i + 1: member i's negated key).
    function entryOf(address[3] storage tables, uint256 entry) internal view returns (bytes memory point) {
        point = new bytes(G2_POINT);
        _copyEntry(tables[entry / KEYS_PER_TABLE], entry % KEYS_PER_TABLE, point);
    }

    function _copyEntry(address table, uint256 entry, bytes memory to) private view {
        assembly ("memory-safe") {
            extcodecopy(table, add(to, 0x20), add(1, mul(entry, 256)), 256)
        }
    }

    /// @dev The 64-byte big-endian number b_hi ‖ b_lo reduced mod p (MODEXP with exponent 1), as a 64-byte field element.
    function _toField(bytes32 hi, bytes32 lo) private view returns (bytes memory) {
        bytes memory reduced =
            _call(MODEXP, abi.encodePacked(uint256(64), uint256(1), uint256(48), hi, lo, uint8(1), uint128(P_HI), P_LO), 48);
        return bytes.concat(bytes16(0), reduced);
    }

    function _call(address precompile, bytes memory input, uint256 outputLength) private view returns (bytes memory out) {
        bool ok;
        (ok, out) = precompile.staticcall(input);
        require(ok && out.length == outputLength);
    }

    /// @dev p − y for the 64-byte field element y at byte `offset` of `point` (16 zero bytes, then 48), unless y = 0.
    function _negateFp(bytes memory point, uint256 offset) private pure {
        assembly ("memory-safe") {
            let at := add(add(point, 0x20), offset)
            let hi := mload(at)
            let lo := mload(add(at, 0x20))
            if or(hi, lo) {
                let borrow := gt(lo, P_LO)
                mstore(add(at, 0x20), sub(P_LO, lo))
                mstore(at, sub(sub(P_HI, hi), borrow))
            }
        }
    }
}
