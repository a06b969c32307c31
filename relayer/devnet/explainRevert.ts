import {
  BaseError,
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  formatEther,
  InsufficientFundsError,
  parseAbi,
  zeroAddress,
  type Address,
  type Hex,
} from "viem";
import { Status } from "../chain/abis.js";

/**
 * Every custom error the project's contracts (Gateway, ViewRegistry and their libraries), OpenZeppelin's parts of them and the
 * devnet's TestToken can raise. A revert is decoded against all of them whatever contract the call went to, since an error
 * raised deeper (the registry under the Gateway, the token under a transferFrom) travels up unchanged.
 * test/relayer/explainRevert.test.ts checks this list against the compiled artifacts.
 */
export const CONTRACT_ERRORS_ABI = parseAbi([
  "error GatewayAccountProofInvalid(uint64 counterparty, uint64 height)",
  "error GatewayAlreadyRegistered(bytes32 contractId)",
  "error GatewayAssetNotAllowed(address asset)",
  "error GatewayClaimPeriodOpen(uint64 endsAt)",
  "error GatewayCounterpartyFrozen(uint64 counterparty)",
  "error GatewayEmptyBatch()",
  "error GatewayExpired(uint64 h1, uint256 height)",
  "error GatewayExposureCapExceeded(uint64 counterparty, uint256 exposure, uint256 capacity)",
  "error GatewayHeaderNotAccepted(uint64 counterparty, uint64 height)",
  "error GatewayInvalidCounterparty(uint64 counterparty)",
  "error GatewayInvalidRegistration()",
  "error GatewayInvalidSettings()",
  "error GatewayLifetimeTooLong(uint64 expiry, uint64 latest)",
  "error GatewayMirrorLate(bytes32 mirrorId, uint64 registeredAt, uint64 mirrorBy)",
  "error GatewayMirrorNotRegistered(bytes32 mirrorId, uint8 status)",
  "error GatewayMixedCounterparties(uint64 counterparty, uint64 other)",
  "error GatewayNotCompensable(bytes32 contractId)",
  "error GatewayNotExpired(uint64 h1, uint256 height)",
  "error GatewayNothingOwed(address asset, address to)",
  "error GatewayProofRequired(bytes32 contractId)",
  "error GatewayProofTooOld(uint64 h2, uint64 proofHeight)",
  "error GatewayRegistrationLate(uint64 registerBy, uint256 height)",
  "error GatewayStorageProofInvalid(bytes32 contractId)",
  "error GatewayWaitingListFull(uint64 expiry)",
  "error GatewayWrongPayment(uint256 expected, uint256 received)",
  "error GatewayWrongStatus(bytes32 contractId, uint8 status)",
  "error StateProofInvalidHeader()",
  "error ViewRegistryBelowThreshold(uint256 signatures, uint256 threshold)",
  "error ViewRegistryBridgeMismatch(uint64 latest, uint64 height, uint256 bridged)",
  "error ViewRegistryCannotRegisterSelf(uint64 chainId)",
  "error ViewRegistryChainAlreadyRegistered(uint64 chainId)",
  "error ViewRegistryChainFrozen(uint64 chainId)",
  "error ViewRegistryDuplicateKey(uint256 index)",
  "error ViewRegistryDuplicateSigner(address signer)",
  "error ViewRegistryGatewayAlreadySet()",
  "error ViewRegistryInfinityPoint()",
  "error ViewRegistryInvalidCommittee()",
  "error ViewRegistryInvalidGateway()",
  "error ViewRegistryInvalidPoint()",
  "error ViewRegistryInvalidProofOfPossession()",
  "error ViewRegistryInvalidShares(uint256 rewardBps, uint256 poolBps)",
  "error ViewRegistryInvalidSignature(uint256 index)",
  "error ViewRegistryInvalidThreshold(uint256 threshold, uint256 committeeSize)",
  "error ViewRegistryInvalidWindow(uint64 k)",
  "error ViewRegistryKeyWithoutProof(uint256 index)",
  "error ViewRegistryMalformedAggregate()",
  "error ViewRegistryMalformedView(uint64 height, uint256 hashes)",
  "error ViewRegistryNotConflicting()",
  "error ViewRegistryOnlyGateway(address caller)",
  "error ViewRegistryPoolExhausted(uint64 chainId, uint256 requested, uint256 left)",
  "error ViewRegistrySignerOutsideCommittee(uint256 bitmap)",
  "error ViewRegistrySignersNotSorted(uint256 index)",
  "error ViewRegistryUnknownChain(uint64 chainId)",
  "error ViewRegistryUnknownSigner(address signer)",
  "error ViewRegistryWrongChain(uint64 expected, uint64 actual)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InvalidApprover(address approver)",
  "error ERC20InvalidReceiver(address receiver)",
  "error ERC20InvalidSender(address sender)",
  "error ERC20InvalidSpender(address spender)",
  "error FailedCall()",
  "error InsufficientBalance(uint256 balance, uint256 needed)",
  "error OwnableInvalidOwner(address owner)",
  "error OwnableUnauthorizedAccount(address account)",
  "error ReentrancyGuardReentrantCall()",
  "error SafeERC20FailedOperation(address token)",
]);

/** A revert decoded: the contract's error name and its arguments (Solidity's Error(string) and Panic(uint256) included). */
export type DecodedRevert = { errorName: string; args: readonly unknown[] };

/** What the caller knows about the failed call: the chain it went to; the call itself is read from the error when viem kept it. */
export type RevertContext = { chainId?: bigint | string };

/**
 * The revert somewhere in `error`'s cause chain, decoded against CONTRACT_ERRORS_ABI; undefined when no contract refused
 * anything (a network failure, a bug). The raw revert data comes first: viem decodes only against the ABI of the called
 * function's contract, so an error raised deeper (the registry's under the Gateway) reaches it as an unknown signature.
 */
export function decodeRevert(error: unknown): DecodedRevert | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 16; e = (e as { cause?: unknown }).cause, depth++) {
    if (!(e instanceof BaseError)) continue;
    const reverted = e.walk((x) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (reverted !== null) {
      const raw = reverted.raw ?? rawRevertData(reverted);
      const decoded = raw === undefined ? undefined : decode(raw);
      if (decoded !== undefined) return decoded;
      if (reverted.data !== undefined) return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] };
      if (reverted.reason !== undefined) return { errorName: "Error", args: [reverted.reason] };
    }
    const raw = rawRevertData(e);
    const decoded = raw === undefined ? undefined : decode(raw);
    if (decoded !== undefined) return decoded;
  }
  return undefined;
}

/**
 * The sentence a user reads for a failed contract call or transaction: the error's name and arguments, then what it means
 * (`GatewayExposureCapExceeded(counterparty 31002, …): the swaps open with chain 31002 …`). Undefined when `error` holds no
 * revert and no shortage of native coin.
 */
export function explainRevert(error: unknown, context: RevertContext = {}): string | undefined {
  const revert = decodeRevert(error);
  if (revert === undefined) {
    const funds = error instanceof BaseError ? error.walk((x) => x instanceof InsufficientFundsError) : null;
    if (funds !== null) return "the sender's native coin does not cover the transaction's value and its gas";
    return undefined;
  }
  const call = calledFunction(error);
  return `${formatRevert(revert)}: ${sentenceFor(revert, { chainId: context.chainId?.toString(), call })}`;
}

/** `Name(arg, arg)` with amounts in wei as they came: the exact figures for whoever reports the failure. */
export function formatRevert({ errorName, args }: DecodedRevert): string {
  return `${errorName}(${args.map((a) => (typeof a === "bigint" ? a.toString() : String(a))).join(", ")})`;
}

type Call = { functionName: string; args: readonly unknown[] };
type Known = { chainId: string | undefined; call: Call | undefined };

/** The failed call as viem kept it (function and arguments), when it did. */
function calledFunction(error: unknown): Call | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 16; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ContractFunctionExecutionError) return { functionName: e.functionName, args: e.args ?? [] };
  }
  return undefined;
}

/** Revert data a JSON-RPC error carries in `data` (a hex string, or `{ data }` for some nodes), or in its message as hex. */
function rawRevertData(error: BaseError): Hex | undefined {
  const withData = error.walk((x) => {
    const data = (x as { data?: unknown }).data;
    return typeof data === "string" || (typeof data === "object" && data !== null && typeof (data as { data?: unknown }).data === "string");
  }) as { data?: unknown } | null;
  const data = withData?.data;
  const hex = typeof data === "string" ? data : typeof data === "object" && data !== null ? (data as { data: string }).data : undefined;
  if (hex !== undefined && /^0x[0-9a-fA-F]{8,}$/.test(hex)) return hex as Hex;
  // A `hardhat node` that does not know the contract says "reverted with an unrecognized custom error (return data: 0x…)".
  const inMessage = /return data: (0x[0-9a-fA-F]{8,})/.exec(error.details ?? "")?.[1] ?? /custom error (0x[0-9a-fA-F]{8}):? ?([0-9a-fA-F]*)/.exec(error.details ?? "")?.slice(1).join("");
  return inMessage === undefined ? undefined : ((inMessage.startsWith("0x") ? inMessage : `0x${inMessage}`) as Hex);
}

function decode(data: Hex): DecodedRevert | undefined {
  try {
    const { errorName, args } = decodeErrorResult({ abi: CONTRACT_ERRORS_ABI, data });
    return { errorName, args: args ?? [] };
  } catch {
    return undefined;
  }
}

const STATUS_NAMES: Record<number, string> = {
  [Status.None]: "not registered",
  [Status.Registered]: "registered",
  [Status.Committed]: "committed",
  [Status.Released]: "released",
  [Status.Refunded]: "refunded",
  [Status.Cancelled]: "cancelled",
};

/** Wei as ETH with thousands separators: 5000000000000000000000n → "5,000 ETH". */
export function eth(wei: bigint): string {
  const [whole, fraction] = formatEther(wei).split(".");
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${grouped}${fraction === undefined ? "" : `.${fraction.slice(0, 6)}`} ETH`;
}

/** Token base units of 18 decimals as whole tokens. */
function tokens(units: bigint): string {
  return eth(units).replace(/ ETH$/, " tokens");
}

function here(known: Known): string {
  return known.chainId === undefined ? "this chain" : `chain ${known.chainId}`;
}

/** The value of a native-coin registration, the only asset whose value the error side knows (1:1). */
function nativeValue(call: Call | undefined): bigint | undefined {
  if (call?.functionName !== "register") return undefined;
  const r = call.args[0] as { asset?: Address; amount?: bigint } | undefined;
  return r?.asset === zeroAddress && typeof r.amount === "bigint" ? r.amount : undefined;
}

type Sentence = (args: readonly any[], known: Known) => string;

const SENTENCES: Record<string, Sentence> = {
  GatewayExposureCapExceeded: ([counterparty, exposure, capacity], known) => {
    const value = nativeValue(known.call);
    const free = value === undefined ? undefined : capacity - (exposure - value);
    return (
      `with this contract, the contracts with chain ${counterparty} open on ${here(known)} (and those finished within its compensation window) ` +
      `would be worth ${eth(exposure)}, but chain ${counterparty}'s bond on ${here(known)} covers ${eth(capacity)} of them (the compensation pool's share of the bond)` +
      (value === undefined ? "" : `; this swap is worth ${eth(value)} and ${eth(free! > 0n ? free! : 0n)} is free`) +
      ": swap less, or wait for open swaps to finish"
    );
  },
  GatewayLifetimeTooLong: ([expiry, latest]) =>
    `the expiry at block ${expiry} lies more than the Gateway's maximum lifetime past block ${latest} (this chain's head for its own expiry, ` +
    `the newest block of the other chain its registry accepted for the other's): choose a shorter ttl, or wait for the relayers to post a newer view`,
  GatewayMirrorLate: ([mirrorId, registeredAt, mirrorBy]) =>
    `the other side's contract ${short(mirrorId)} was registered at block ${registeredAt}, after its deadline (block ${mirrorBy}): ` +
    `this side cannot be committed, and it is refunded or cancelled at its expiry`,
  GatewayCounterpartyFrozen: ([counterparty], known) =>
    `chain ${counterparty} is frozen on ${here(known)}: its committee was caught signing two conflicting views, so no new contract with it is taken`,
  ViewRegistryChainFrozen: ([chainId], known) =>
    `chain ${chainId} is frozen on ${here(known)}: its committee was caught signing two conflicting views, and its views are no longer taken`,
  ERC20InsufficientAllowance: ([spender, allowance, needed]) =>
    `${spender} may take ${tokens(allowance)} of the payer's, and needs ${tokens(needed)}: approve it for the amount first`,
  ERC20InsufficientBalance: ([sender, balance, needed]) => `${sender} holds ${tokens(balance)}, and ${tokens(needed)} are needed`,
  InsufficientBalance: ([balance, needed]) => `the contract holds ${eth(balance)} and needs ${eth(needed)} for the payment`,
  GatewayAssetNotAllowed: ([asset]) =>
    asset === zeroAddress ? "the native coin's value is fixed (1:1) and cannot be set" : `the Gateway takes no ${asset}: its owner set no value for it (setAssetValue)`,
  GatewayInvalidRegistration: () =>
    "the registration is malformed: a zero amount, no beneficiary or refund address, an expiry h1 not in the future, registerBy after h1 or mirrorBy after h2, or a value too large",
  GatewayInvalidSettings: () => "the Gateway's settings do not fit together: the claim period must exceed the maximum lifetime plus the compensation window",
  GatewayRegistrationLate: ([registerBy, height]) =>
    `the registration arrived at block ${height}, after its last block for registration (${registerBy}): start the swap again with fresh terms`,
  GatewayInvalidCounterparty: ([counterparty]) => `chain ${counterparty} is this chain itself: a swap needs two chains`,
  GatewayAlreadyRegistered: ([contractId]) => `contract ${short(contractId)} is already registered: the same terms and salt were sent before`,
  GatewayWrongPayment: ([expected, received]) =>
    `the transaction carried ${eth(received)} and the registration needs exactly ${eth(expected)} (the amount in native coin, nothing for a token)`,
  GatewayWrongStatus: ([contractId, status]) => `contract ${short(contractId)} is ${statusName(status)}, and this step needs it in another state`,
  GatewayExpired: ([h1, height]) => `the contract expired at block ${h1}, and the chain is at block ${height}`,
  GatewayNotExpired: ([h1, height]) => `the contract expires at block ${h1}, and the chain is only at block ${height}`,
  GatewayEmptyBatch: () => "the batch holds no contract",
  GatewayMixedCounterparties: ([counterparty, other]) => `a batch takes contracts with one counterparty, and this one mixes chains ${counterparty} and ${other}`,
  GatewayHeaderNotAccepted: ([counterparty, height]) => `the proof's block ${height} of chain ${counterparty} is not one the registry has accepted a view of`,
  GatewayAccountProofInvalid: ([counterparty, height]) => `the proof of chain ${counterparty}'s Gateway account at block ${height} does not match that block's state root`,
  GatewayStorageProofInvalid: ([contractId]) => `the storage proof of contract ${short(contractId)}'s record does not match the Gateway's storage root`,
  GatewayProofTooOld: ([h2, proofHeight]) => `the proof is taken at block ${proofHeight}, before the other side's expiry (block ${h2}): a termination needs one at or after it`,
  GatewayProofRequired: ([contractId]) => `contract ${short(contractId)} can still be decided by a proof, so it cannot be closed without one`,
  GatewayMirrorNotRegistered: ([mirrorId, status]) => `the other side's contract ${short(mirrorId)} is ${statusName(status)}: it must be registered before this side is committed`,
  GatewayNotCompensable: ([contractId]) =>
    `contract ${short(contractId)} may not claim compensation: only a contract released or refunded near or after its counterparty's freeze, within the claim period, claims once`,
  GatewayClaimPeriodOpen: ([endsAt]) => `claims are filed until block ${endsAt}; compensation is paid after that`,
  GatewayNothingOwed: ([asset, to]) => `the Gateway owes ${to} nothing in ${asset === zeroAddress ? "native coin" : asset}`,
  GatewayWaitingListFull: ([expiry]) => `too many contracts already expire at block ${expiry}: choose another expiry`,
  StateProofInvalidHeader: () => "the block header in the proof is malformed",
  ViewRegistryUnknownChain: ([chainId], known) => `chain ${chainId} is not registered on ${here(known)}: its registry knows no committee for it`,
  ViewRegistryChainAlreadyRegistered: ([chainId]) => `chain ${chainId} is already registered`,
  ViewRegistryCannotRegisterSelf: ([chainId]) => `chain ${chainId} cannot register itself`,
  ViewRegistryInvalidGateway: () => "the Gateway address is zero",
  ViewRegistryInvalidCommittee: () => "the committee is empty, unsorted or holds a zero address",
  ViewRegistryInvalidThreshold: ([threshold, size]) => `a threshold of ${threshold} does not fit a committee of ${size}`,
  ViewRegistryInvalidShares: ([reward, pool]) => `a reward of ${reward} and a pool of ${pool} basis points leave less than half of a slashed bond burned`,
  ViewRegistryInvalidWindow: ([k]) => `a view window of ${k} blocks is out of range`,
  ViewRegistryWrongChain: ([expected, actual]) => `the view is of chain ${actual}, and chain ${expected}'s was expected`,
  ViewRegistryMalformedView: ([height, hashes]) => `the view at block ${height} carries ${hashes} hashes, which its window does not allow`,
  ViewRegistryInvalidSignature: ([index]) => `signature ${index} of the view is malformed or does not recover`,
  ViewRegistryDuplicateSigner: ([signer]) => `${signer} signed the view twice`,
  ViewRegistrySignersNotSorted: ([index]) => `the view's signatures are not in ascending signer order (at ${index})`,
  ViewRegistryUnknownSigner: ([signer]) => `${signer} signed the view and is not in the chain's committee`,
  ViewRegistryBelowThreshold: ([signatures, threshold]) => `the view carries ${signatures} committee signatures, and ${threshold} are needed`,
  ViewRegistryBridgeMismatch: ([latest, height]) => `the block hashes bridging the accepted block ${latest} to the view at block ${height} do not fold onto the accepted accumulator`,
  ViewRegistryNotConflicting: () => "the two views agree: they are no evidence of a fork",
  ViewRegistryGatewayAlreadySet: () => "the registry's Gateway is set already",
  ViewRegistryOnlyGateway: ([caller]) => `only the registry's own Gateway may call this, not ${caller}`,
  ViewRegistryPoolExhausted: ([chainId, requested, left]) => `chain ${chainId}'s compensation pool has ${eth(left)} left, and ${eth(requested)} was asked`,
  ViewRegistryKeyWithoutProof: ([index]) => `committee member ${index}'s BLS key has no proof of possession: prove it first (proveBlsKey)`,
  ViewRegistryDuplicateKey: ([index]) => `committee member ${index}'s BLS key appears twice`,
  ViewRegistryInvalidProofOfPossession: () => "the proof of possession does not verify for this BLS key",
  ViewRegistryInvalidPoint: () => "a BLS point is not on the curve, not in its subgroup, or not canonically encoded",
  ViewRegistryInfinityPoint: () => "a BLS key or signature is the point at infinity",
  ViewRegistryMalformedAggregate: () => "the aggregate BLS signature entry is not a signer bitmap followed by a 128-byte signature",
  ViewRegistrySignerOutsideCommittee: ([bitmap]) => `the signer bitmap 0x${bitmap.toString(16)} names members outside the committee`,
  ERC20InvalidApprover: ([approver]) => `${approver} cannot approve (the zero address)`,
  ERC20InvalidReceiver: ([receiver]) => `${receiver} cannot receive tokens (the zero address)`,
  ERC20InvalidSender: ([sender]) => `${sender} cannot send tokens (the zero address)`,
  ERC20InvalidSpender: ([spender]) => `${spender} cannot be approved (the zero address)`,
  FailedCall: () => "a call the contract made failed",
  OwnableInvalidOwner: ([owner]) => `${owner} cannot own the contract`,
  OwnableUnauthorizedAccount: ([account]) => `only the contract's owner may do this, and ${account} is not it`,
  ReentrancyGuardReentrantCall: () => "the contract was entered again from within a call it made",
  SafeERC20FailedOperation: ([token]) => `the token ${token} refused the transfer`,
  Error: ([reason]) => `the contract refused with the reason "${reason}"`,
  Panic: ([code]) => `the contract panicked (code 0x${code.toString(16)}): a bug or an arithmetic overflow`,
};

/** Error names CONTRACT_ERRORS_ABI holds that have a sentence; the rest fall back to their name and arguments. */
export function explainedErrors(): string[] {
  return Object.keys(SENTENCES);
}

function sentenceFor({ errorName, args }: DecodedRevert, known: Known): string {
  const sentence = SENTENCES[errorName];
  return sentence === undefined ? "the contract refused the call" : sentence(args, known);
}

function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `in status ${status}`;
}

function short(id: Hex): string {
  return `${id.slice(0, 10)}…`;
}
