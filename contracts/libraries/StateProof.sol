// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BlockHeader} from "@openzeppelin/contracts/utils/BlockHeader.sol";
import {Memory} from "@openzeppelin/contracts/utils/Memory.sol";
import {RLP} from "@openzeppelin/contracts/utils/RLP.sol";
import {TrieProof} from "@openzeppelin/contracts/utils/cryptography/TrieProof.sol";

/// @notice A proof of one storage slot of one account of a remote chain, as `eth_getProof` returns it,
/// with the RLP header of the block it was taken at.
struct StorageProof {
    bytes header;
    bytes[] accountProof;
    bytes[] storageProof;
}

/// @title StateProof
/// @notice Remote state proofs: header RLP -> stateRoot -> account proof -> storageRoot -> storage proof.
/// The caller checks that the header's hash was accepted for the remote chain; this library proves the
/// slot under that header. All trie work is OpenZeppelin's.
library StateProof {
    using RLP for Memory.Slice;

    enum ProofError {
        NO_ERROR,
        ACCOUNT_PROOF, // the account proof does not lead from the state root to the account
        STORAGE_PROOF // the storage proof does not lead from the account's storage root to the slot
    }

    error StateProofInvalid(ProofError err);

    /// @notice Block number and hash of the proof's header.
    function headerOf(StorageProof calldata proof) internal pure returns (uint64 number, bytes32 hash) {
        return (uint64(BlockHeader.getNumber(proof.header)), keccak256(proof.header));
    }

    /// @notice The value of `slot` of `account` in the state of `proof.header`, or an error.
    function tryReadSlot(StorageProof calldata proof, address account, bytes32 slot)
        internal
        pure
        returns (uint256 value, ProofError err)
    {
        bytes32 stateRoot = BlockHeader.getStateRoot(proof.header);
        (bytes memory accountRlp, TrieProof.ProofError accountErr) =
            TrieProof.tryTraverse(stateRoot, abi.encodePacked(keccak256(abi.encodePacked(account))), proof.accountProof);
        if (accountErr != TrieProof.ProofError.NO_ERROR) return (0, ProofError.ACCOUNT_PROOF);
        // account = [nonce, balance, storageRoot, codeHash]
        bytes32 storageRoot = RLP.decodeList(accountRlp)[2].readBytes32();
        (bytes memory valueRlp, TrieProof.ProofError storageErr) =
            TrieProof.tryTraverse(storageRoot, abi.encodePacked(keccak256(abi.encodePacked(slot))), proof.storageProof);
        if (storageErr != TrieProof.ProofError.NO_ERROR) return (0, ProofError.STORAGE_PROOF);
        return (RLP.decodeUint256(valueRlp), ProofError.NO_ERROR);
    }

    /// @notice Like {tryReadSlot}, reverting with {StateProofInvalid} on a bad proof.
    function readSlot(StorageProof calldata proof, address account, bytes32 slot) internal pure returns (uint256) {
        (uint256 value, ProofError err) = tryReadSlot(proof, account, slot);
        require(err == ProofError.NO_ERROR, StateProofInvalid(err));
        return value;
    }
}
