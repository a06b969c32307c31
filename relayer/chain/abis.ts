import { parseAbi } from "viem";

/** The part of the Gateway a relayer uses; contracts/interfaces/IGateway.sol is the full interface. */
export const gatewayAbi = parseAbi([
  "struct StorageProof { bytes header; bytes[] accountProof; bytes[] storageProof; }",
  "struct Registration { address asset; uint256 amount; address beneficiary; address refundTo; bytes32 salt; bytes32 tx2; bytes32 tx2r; uint64 counterparty; uint64 h1; uint64 h2; }",
  "function register(Registration r) payable returns (bytes32 contractId)",
  "function txHashes(Registration r) view returns (bytes32 tx1, bytes32 tx1r)",
  "function contractIds(Registration r) view returns (bytes32 contractId, bytes32 mirrorId)",
  "function recordOf(bytes32 contractId) view returns (uint8 status, uint64 registeredAt, uint64 committedAt, uint64 finishedAt)",
  "function recordSlot(bytes32 contractId) pure returns (bytes32)",
  "function provenMirror(bytes32 contractId, StorageProof proof) view returns (uint8 status, uint64 committedAt, uint64 proofHeight)",
  "function precommit(bytes32 contractId, StorageProof proof)",
  "function terminate(bytes32 contractId, StorageProof proof)",
  "function cancel(bytes32 contractId)",
  "function claimCompensation(bytes32 contractId) returns (uint256 paid)",
  "event ContractRegistered(bytes32 indexed contractId, uint64 indexed counterparty, bytes32 mirrorId, address asset, uint256 amount, uint64 h1, uint64 h2)",
  "error GatewayWrongStatus(bytes32 contractId, uint8 status)",
  "error GatewayExpired(uint64 h1, uint256 height)",
  "error GatewayNotExpired(uint64 h1, uint256 height)",
  "error GatewayCounterpartyFrozen(uint64 counterparty)",
  "error GatewayCounterpartyViewBehind(uint64 h2, uint64 viewHeight)",
  "error GatewayHeaderNotAccepted(uint64 counterparty, uint64 height)",
  "error GatewayProofTooOld(uint64 h2, uint64 proofHeight)",
  "error GatewayMirrorNotRegistered(bytes32 mirrorId, uint8 status)",
  "error StateProofInvalid(uint8 err)",
  "error RLPInvalidEncoding()",
]);

/** The part of the ViewRegistry a relayer uses; contracts/interfaces/IViewRegistry.sol is the full interface. */
export const registryAbi = parseAbi([
  "struct View { uint64 chainId; uint64 height; bytes32 acc; bytes32[] hashes; }",
  "function submitView(View view_, bytes[] signatures) returns (bool accepted)",
  "function submitForkEvidence(View a, bytes[] sigA, View b, bytes[] sigB)",
  "function latestView(uint64 chainId) view returns (View)",
  "function latestHeight(uint64 chainId) view returns (uint64)",
  "function isFrozen(uint64 chainId) view returns (bool)",
  "function frozenAt(uint64 chainId) view returns (uint64)",
  "event ViewAccepted(uint64 indexed chainId, uint64 height, bytes32 acc, bytes32 blockHash)",
  "event ChainFrozen(uint64 indexed chainId, address indexed reporter, uint256 slashed, uint256 reward)",
  "error ViewRegistryStaleView(uint64 height, uint64 latest)",
  "error ViewRegistryChainFrozen(uint64 chainId)",
  "error ViewRegistryGapTooLarge(uint64 latest, uint64 height, uint64 k)",
  "error ViewRegistryMalformedView(uint64 height, uint256 hashes)",
  "error ViewRegistryBelowThreshold(uint256 signatures, uint256 threshold)",
  "error ViewRegistryUnknownSigner(address signer)",
  "error ViewRegistryNotConflicting()",
]);

/** Gateway statuses, as contracts/libraries/ContractRecord.sol numbers them. */
export const Status = { None: 0, Registered: 1, Committed: 2, Released: 3, Refunded: 4, Cancelled: 5 } as const;
