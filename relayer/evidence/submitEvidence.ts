import {
  BaseError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  createWalletClient,
  formatEther,
  http,
  parseEventLogs,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { registryAbi } from "../chain/abis.js";
import { relate } from "../view/relate.js";
import type { Evidence } from "../view/signedView.js";
import { SignedViewError, verifySignedView, type Committee } from "../view/verifySignedView.js";
import { RelayerError } from "../util/relayerError.js";
import { shortMessage } from "../util/shortMessage.js";
import { endpointClient, type Target } from "./chainEndpoint.js";
import { explainRevert } from "../devnet/explainRevert.js";

/** Why evidence was not sent to a chain. */
export type RefusalCode =
  | "different-chains"
  | "identical"
  | "not-conflicting"
  | "endpoint-down"
  | "wrong-endpoint"
  | "unregistered"
  | "bad-signature"
  | "refused-by-contract"
  | "send-failed"
  | "not-sent";

/** Evidence that is not evidence before any chain is asked: `code` says why. */
export class EvidenceRefusedError extends RelayerError {
  constructor(readonly code: RefusalCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What came of fork evidence on one chain (`chainId`, the judging chain). Amounts in wei, heights and blocks as bigint. */
export type Submission =
  | {
      chainId: bigint;
      outcome: "frozen";
      transaction: Hex;
      /** The judging chain's block of the freeze. */
      frozenAt: bigint;
      /** The forked chain's newest height that registry accepted: nothing above it will be. */
      lastAccepted: bigint;
      reporter: Address;
      slashed: bigint;
      reward: bigint;
      pool: bigint;
      burned: bigint;
      /** False when the reporter refused the reward (a contract without receive): it was burned. */
      rewardPaid: boolean;
    }
  | { chainId: bigint; outcome: "already-frozen"; frozenAt: bigint }
  | { chainId: bigint; outcome: "refused"; code: RefusalCode; reason: string };

/**
 * Checks what needs no chain: two views of one chain, not the same view, that relate (the connect rule) calls
 * conflicting. Throws EvidenceRefusedError.
 */
export function assertConflicting({ a, b }: Evidence): void {
  if (a.view.chainId !== b.view.chainId) {
    throw new EvidenceRefusedError("different-chains", `view a is of chain ${a.view.chainId} and view b of chain ${b.view.chainId}: fork evidence is two views of one chain`);
  }
  const relation = relate(a.view, b.view);
  const same = a.view.height === b.view.height && a.view.acc === b.view.acc && a.view.hashes.join() === b.view.hashes.join();
  if (same) throw new EvidenceRefusedError("identical", `both views are chain ${a.view.chainId}'s view at height ${a.view.height}: one history, no fork`);
  if (relation === "consistent") {
    throw new EvidenceRefusedError("not-conflicting", `chain ${a.view.chainId}'s views at heights ${a.view.height} and ${b.view.height} do not conflict: both can be its history`);
  }
  if (relation === "unverifiable") {
    throw new EvidenceRefusedError(
      "not-conflicting",
      `chain ${a.view.chainId}'s views at heights ${a.view.height} and ${b.view.height} are too far apart to compare (the newer window does not reach the older view): no registry can tell whether they conflict`,
    );
  }
}

type Ready = { ready: true; target: Target; client: PublicClient };

/**
 * Everything that can be known about sending `evidence` to `target` without a transaction: the endpoint answers as that
 * chain, the forked chain is registered there and not frozen yet (read at the pending block, so that a freeze another
 * sender's transaction is about to make counts), both views carry a quorum of its committee's ECDSA signatures as that
 * registry knows the committee, and the call itself, simulated, does not revert (which is also what checks a BLS
 * committee's aggregates).
 */
export async function preflight(target: Target, evidence: Evidence, account: Address): Promise<Ready | Submission> {
  const refused = (code: RefusalCode, reason: string): Submission => ({ chainId: target.chainId, outcome: "refused", code, reason });
  const forked = evidence.a.view.chainId;
  if (forked === target.chainId) return refused("unregistered", `chain ${forked} cannot judge its own views: its registry does not register itself`);
  const client = endpointClient(target.url);
  let id: number;
  try {
    id = await client.getChainId();
  } catch (error) {
    return refused("endpoint-down", `chain ${target.chainId}'s endpoint ${target.url} does not answer (${shortMessage(error)})`);
  }
  if (BigInt(id) !== target.chainId) return refused("wrong-endpoint", `the endpoint ${target.url} serves chain ${id}, not chain ${target.chainId}`);
  const read = <T>(functionName: "committeeOf" | "gatewayOf" | "isFrozen" | "frozenAt" | "latestHeight" | "isBlsCommittee") =>
    client.readContract({ address: target.registry, abi: registryAbi, functionName, args: [forked], blockTag: "pending" } as never) as Promise<T>;
  let committee: Committee;
  try {
    const [[members, threshold, k], gateway] = await Promise.all([read<readonly [readonly Address[], bigint, bigint]>("committeeOf"), read<Address>("gatewayOf")]);
    committee = { gateway, members, threshold: Number(threshold), k: Number(k) };
  } catch (error) {
    if (revertOf(error)?.data?.errorName === "ViewRegistryUnknownChain") return refused("unregistered", `chain ${forked} is not registered on chain ${target.chainId} (registry ${target.registry})`);
    if (error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionZeroDataError)) {
      return refused("wrong-endpoint", `no ViewRegistry at ${target.registry} on chain ${target.chainId}`);
    }
    return refused("endpoint-down", `chain ${target.chainId}'s endpoint ${target.url} failed: ${shortMessage(error)}`);
  }
  try {
    if (await read<boolean>("isFrozen")) return { chainId: target.chainId, outcome: "already-frozen", frozenAt: await read<bigint>("frozenAt") };
  } catch (error) {
    return refused("endpoint-down", `chain ${target.chainId}'s endpoint ${target.url} failed: ${shortMessage(error)}`);
  }
  // A BLS committee's keys stay inside the registry (it has no getter for them): the simulated call below checks its
  // aggregates, and a refusal there is said in words all the same. A registry from before BLS has no isBlsCommittee.
  const bls = await read<boolean>("isBlsCommittee").catch(() => false);
  for (const [name, signed] of bls ? [] : ([["a", evidence.a], ["b", evidence.b]] as const)) {
    try {
      await verifySignedView(signed.view, signed.signatures, committee);
    } catch (error) {
      if (!(error instanceof SignedViewError)) throw error;
      return refused(
        "bad-signature",
        `view ${name} (height ${signed.view.height}) does not hold against chain ${forked}'s committee on chain ${target.chainId}: ${error.message.replace(/^signed view refused: /, "")}` +
          " (a view altered after signing recovers its signatures to strangers)",
      );
    }
  }
  try {
    await client.simulateContract({ account, address: target.registry, abi: registryAbi, functionName: "submitForkEvidence", args: args(evidence), blockTag: "pending" });
  } catch (error) {
    return (await frozenMeanwhile(client, target, forked, error)) ?? refused(revertOf(error) ? "refused-by-contract" : "endpoint-down", `chain ${target.chainId} would refuse it: ${explainRevert(error, { chainId: target.chainId }) ?? shortMessage(error)}`);
  }
  return { ready: true, target, client };
}

/**
 * Sends the evidence `preflight` found ready and reads what it did from the receipt's ChainFrozen event. A sender that lost
 * a race (another transaction froze the chain first) gets `already-frozen`, never an error.
 */
export async function send({ target, client }: Ready, evidence: Evidence, account: LocalAccount): Promise<Submission> {
  const forked = evidence.a.view.chainId;
  const wallet = createWalletClient({ account, transport: http(target.url, { retryCount: 1, timeout: 10_000 }) });
  let hash: Hex;
  try {
    hash = await wallet.writeContract({ chain: null, address: target.registry, abi: registryAbi, functionName: "submitForkEvidence", args: args(evidence) });
  } catch (error) {
    return (
      (await frozenMeanwhile(client, target, forked, error)) ?? {
        chainId: target.chainId,
        outcome: "refused",
        code: revertOf(error) ? "refused-by-contract" : "send-failed",
        reason: `chain ${target.chainId} did not take the transaction: ${explainRevert(error, { chainId: target.chainId }) ?? shortMessage(error)}`,
      }
    );
  }
  const receipt = await client.waitForTransactionReceipt({ hash, timeout: 120_000 });
  const [frozen] = parseEventLogs({ abi: registryAbi, eventName: "ChainFrozen", logs: receipt.logs });
  if (receipt.status !== "success" || frozen === undefined) {
    return (
      (await frozenMeanwhile(client, target, forked, undefined)) ?? {
        chainId: target.chainId,
        outcome: "refused",
        code: "refused-by-contract",
        reason: `transaction ${hash} on chain ${target.chainId} reverted`,
      }
    );
  }
  const forfeited = parseEventLogs({ abi: registryAbi, eventName: "RewardForfeited", logs: receipt.logs }).length > 0;
  const lastAccepted = await client.readContract({ address: target.registry, abi: registryAbi, functionName: "latestHeight", args: [forked], blockNumber: receipt.blockNumber });
  const { reporter, slashed, reward, pool, burned } = frozen.args;
  return { chainId: target.chainId, outcome: "frozen", transaction: hash, frozenAt: receipt.blockNumber, lastAccepted, reporter, slashed, reward, pool, burned, rewardPaid: !forfeited };
}

/** Preflight, then send when ready: the watchtower's step for one chain. */
export async function submitTo(target: Target, evidence: Evidence, account: LocalAccount): Promise<Submission> {
  const checked = await preflight(target, evidence, account.address);
  return "ready" in checked ? send(checked, evidence, account) : checked;
}

/**
 * `fibc evidence submit`: checks the evidence, then every target chain, and sends only when no chain refused it for a reason
 * other than having frozen the chain already, so that a bad file, a down endpoint or a wrong chain costs nothing
 * anywhere. Throws EvidenceRefusedError when the evidence is no fork at all.
 */
export async function submitEvidence({ evidence, targets, account }: { evidence: Evidence; targets: readonly Target[]; account: LocalAccount }): Promise<Submission[]> {
  assertConflicting(evidence);
  const checked = await Promise.all(targets.map((target) => preflight(target, evidence, account.address)));
  const blocker = checked.find((c): c is Extract<Submission, { outcome: "refused" }> => "outcome" in c && c.outcome === "refused");
  if (blocker !== undefined) {
    return checked.map((c) =>
      "ready" in c ? { chainId: c.target.chainId, outcome: "refused", code: "not-sent", reason: `nothing sent anywhere, since chain ${blocker.chainId} refused the evidence` } : c,
    );
  }
  return Promise.all(checked.map((c) => ("ready" in c ? send(c, evidence, account) : c)));
}

/** One line per chain, in words. `self` is the sender's address, named "you" when it got the reward. */
export function describeSubmission(s: Submission, forked: bigint, self?: Address): string {
  switch (s.outcome) {
    case "frozen": {
      const who = self !== undefined && s.reporter.toLowerCase() === self.toLowerCase() ? `you (${s.reporter})` : s.reporter;
      const reward = s.rewardPaid ? `${coin(s.reward)} paid to ${who}` : `a reward of ${coin(s.reward)} refused by ${who} and burned`;
      return (
        `chain ${s.chainId}: chain ${forked} frozen at block ${s.frozenAt} (the last view of it accepted there: height ${s.lastAccepted}); ` +
        `${coin(s.slashed)} of its bond slashed: ${reward}, ${coin(s.pool)} kept to compensate the users it harmed, ${coin(s.burned)} burned (transaction ${s.transaction})`
      );
    }
    case "already-frozen":
      return `chain ${s.chainId}: chain ${forked} was already frozen there (block ${s.frozenAt}): nothing sent`;
    case "refused":
      return `chain ${s.chainId}: refused, nothing sent: ${s.reason}`;
  }
}

function args({ a, b }: Evidence) {
  return [a.view, a.signatures, b.view, b.signatures] as const;
}

/** `already-frozen` when the failure was the chain being frozen (by someone faster), read back from the registry. */
async function frozenMeanwhile(client: PublicClient, target: Target, forked: bigint, error: unknown): Promise<Submission | undefined> {
  if (error !== undefined && revertOf(error)?.data?.errorName !== "ViewRegistryChainFrozen") return undefined;
  const frozenAt = await client.readContract({ address: target.registry, abi: registryAbi, functionName: "frozenAt", args: [forked], blockTag: "pending" }).catch(() => undefined);
  if (frozenAt === undefined || (error === undefined && frozenAt === 0n)) return undefined;
  return { chainId: target.chainId, outcome: "already-frozen", frozenAt };
}

function revertOf(error: unknown): ContractFunctionRevertedError | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted : undefined;
}


function coin(wei: bigint): string {
  return `${formatEther(wei)} coin`;
}
