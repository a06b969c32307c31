import { getAddress, keccak256, numberToHex, stringToHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { SignedView } from "../view/signedView.js";
import type { Committee } from "../view/verifySignedView.js";
import { accThrough, type View } from "../view/view.js";
import { ViewTracker } from "../view/viewTracker.js";
import { deriveSeed, seededRandom } from "./seededRandom.js";
import type { SignatureCache, SimSigner } from "./signatureCache.js";

/** A contract record as a check() answer proves it at some height. */
export type RecordState = { status: "none" } | { status: "registered" } | { status: "committed"; at: number };

export type SyntheticSystemParameters = {
  /** The system's place in the network; with `seed` it fixes the chain and the keys. */
  index: number;
  seed: number;
  /** Committee size, and how many members sign a view (ceil(r·q)). */
  q: number;
  threshold: number;
  k: number;
  /** The committee certifies the view of every height divisible by this (the relayer's `viewSignEvery`). */
  signEvery: number;
  cache: SignatureCache;
};

/**
 * One system of a simulated network: a chain of synthetic blocks (a header of chain id, height and random
 * bytes, whose keccak256 is the block hash), its view kept by the relayer's own ViewTracker (Algorithm 1),
 * a committee of q keys, and the records of its contract transactions. A certified view is signed by
 * `threshold` members only, once, when a node first needs it (its own nodes learn it at its block). The
 * chain and the keys depend on the seed and the index alone, so every cell of a grid sees the same system i
 * and can share its signatures.
 */
export class SyntheticSystem {
  readonly index: number;
  readonly chainId: bigint;
  readonly k: number;
  readonly committee: Committee;
  readonly #signers: readonly SimSigner[];
  readonly #signEvery: number;
  readonly #cache: SignatureCache;
  readonly #random: () => number;
  readonly #tracker: ViewTracker;
  readonly #prefix: Hex;
  readonly #headers: Hex[] = [];
  readonly #hashes: Hex[] = [];
  readonly #accs: Hex[] = [];
  readonly #certified = new Map<number, SignedView>();
  /** Heights certified on demand, off the pacemaker's (`demand`), ascending; and the same as a set. */
  readonly #demanded: number[] = [];
  readonly #isDemanded = new Set<number>();
  readonly #records = new Map<Hex, { registered: number; committed?: number }>();
  /** This system's ViewRegistry: per other system, the newest accepted view's height and word (accThrough). */
  readonly #accepted = new Map<bigint, { height: bigint; word: Hex }>();

  constructor({ index, seed, q, threshold, k, signEvery, cache }: SyntheticSystemParameters) {
    if (threshold < 1 || threshold > q) throw new RangeError(`threshold ${threshold} of a committee of ${q}`);
    if (signEvery < 1 || signEvery > k) throw new RangeError(`views certified every ${signEvery} blocks leave holes that a window of k = ${k} cannot bridge`);
    this.index = index;
    this.chainId = 1000n + BigInt(index);
    this.k = k;
    this.#signEvery = signEvery;
    this.#cache = cache;
    this.#random = seededRandom(deriveSeed(seed, "chain", index));
    this.#tracker = new ViewTracker({ chainId: this.chainId, k });
    this.#prefix = `0x${this.chainId.toString(16).padStart(16, "0")}`;
    const accounts = Array.from({ length: q }, (_, m): SimSigner => {
      const privateKey = keccak256(stringToHex(`simulated system ${seed}/${index}/${m}`));
      return { address: privateKeyToAccount(privateKey).address, privateKey };
    });
    // The ViewRegistry takes signatures in ascending signer order, so the committee is kept in that order.
    accounts.sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
    this.#signers = accounts.slice(0, threshold);
    const gateway = getAddress(`0x${(0xee0000n + this.chainId).toString(16).padStart(40, "0")}`);
    this.committee = { gateway, members: accounts.map((a) => a.address), threshold, k };
  }

  /** Height of the newest block, -1 before genesis. */
  get height(): number {
    return this.#hashes.length - 1;
  }

  /** Appends the next block and returns its height. */
  produce(): number {
    const height = this.#hashes.length;
    let body = height.toString(16).padStart(16, "0");
    for (let i = 0; i < 8; i++) body += Math.floor(this.#random() * 2 ** 32).toString(16).padStart(8, "0");
    const header: Hex = `${this.#prefix}${body}`;
    const hash = keccak256(header);
    this.#tracker.push(BigInt(height), hash);
    this.#headers.push(header);
    this.#hashes.push(hash);
    this.#accs.push(this.#tracker.view().acc);
    return height;
  }

  /** Block hashes of heights from..to, in order (as far as produced). */
  blockHashes(from: number, to: number): Hex[] {
    return this.#hashes.slice(Math.max(0, from), Math.max(0, to + 1));
  }

  /**
   * What this system's ViewRegistry holds of `other`: its newest accepted view's height and word. A registry starts
   * from the genesis view it was registered with (height 0).
   */
  accepted(other: SyntheticSystem): { height: bigint; word: Hex } {
    let known = this.#accepted.get(other.chainId);
    if (known === undefined) this.#accepted.set(other.chainId, (known = { height: 0n, word: accThrough(other.view(0)) }));
    return known;
  }

  /** A Gateway step of this system posted `view` (of another system) to its registry: accepted when newer. */
  acceptView(view: View): void {
    const known = this.#accepted.get(view.chainId);
    if (known === undefined || view.height > known.height) this.#accepted.set(view.chainId, { height: view.height, word: accThrough(view) });
  }

  header(height: number): Hex {
    return this.#at(this.#headers, height);
  }

  /** The view at `height` (Algorithm 1), as the ViewTracker had it then. */
  view(height: number): View {
    return { chainId: this.chainId, height: BigInt(height), acc: this.#at(this.#accs, height), hashes: this.#hashes.slice(Math.max(0, height + 1 - this.k), height + 1) };
  }

  /** The newest certified height at or below `height`: the pacemaker's (every `signEvery`) or one certified on demand. */
  certifiedHeight(height: number): number {
    const paced = height - (height % this.#signEvery);
    let [low, high] = [0, this.#demanded.length];
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#demanded[middle]! <= height) low = middle + 1;
      else high = middle;
    }
    return low > 0 && this.#demanded[low - 1]! > paced ? this.#demanded[low - 1]! : paced;
  }

  /**
   * Certifies the head now and returns its height, as a relayer's committee does for a check() it serves when no
   * certified view reaches the asked height (`Cosigner.certify`): the committee's round of co-signatures takes no
   * simulated time here.
   */
  demand(): number {
    const height = this.height;
    if (height % this.#signEvery !== 0 && !this.#isDemanded.has(height)) {
      this.#demanded.push(height);
      this.#isDemanded.add(height);
    }
    return height;
  }

  /** The view at a certified `height` with its committee's signatures, signed the first time it is asked for. */
  async certify(height: number): Promise<SignedView> {
    if (height % this.#signEvery !== 0 && !this.#isDemanded.has(height)) throw new RangeError(`height ${height} is not certified (every ${this.#signEvery}, or on demand)`);
    const known = this.#certified.get(height);
    if (known !== undefined) return known;
    const view = this.view(height);
    const signed: SignedView = { view, signatures: await this.#cache.sign(view, this.#signers, this.committee.gateway) };
    this.#certified.set(height, signed);
    return signed;
  }

  /** A certified view already signed, or undefined: for answers that cannot wait (a gossip pull). */
  certified(height: number): SignedView | undefined {
    return this.#certified.get(height);
  }

  /** A contract transaction that enters the chain in the block at `height`. */
  register(contractId: Hex, height: number): void {
    this.#records.set(contractId, { registered: height });
  }

  /** The pre-commit of a registered contract, in the block at `height`. */
  commit(contractId: Hex, height: number): void {
    const record = this.#records.get(contractId);
    if (record === undefined) throw new Error(`contract ${contractId} is not registered on chain ${this.chainId}`);
    record.committed = height;
  }

  /** The record of `contractId` in the chain's state at `height`. */
  recordAt(contractId: Hex, height: number): RecordState {
    const record = this.#records.get(contractId);
    if (record === undefined || record.registered > height) return { status: "none" };
    if (record.committed !== undefined && record.committed <= height) return { status: "committed", at: record.committed };
    return { status: "registered" };
  }

  #at<T>(list: readonly T[], height: number): T {
    const item = list[height];
    if (item === undefined) throw new RangeError(`chain ${this.chainId} has no block ${height} (height ${this.height})`);
    return item;
  }
}

/**
 * The storage proof of a record, reduced to what the simulation needs: its status and pre-commit height.
 * A real answer carries the eth_getProof of the record's slot; here the bytes stand in for it.
 */
export function recordProof(record: RecordState): Hex[] {
  if (record.status === "committed") return ["0x02", numberToHex(record.at, { size: 8 })];
  return [record.status === "registered" ? "0x01" : "0x00"];
}

export function readRecordProof(proof: readonly Hex[]): RecordState {
  if (proof[0] === "0x02" && proof[1] !== undefined) return { status: "committed", at: Number(BigInt(proof[1])) };
  return proof[0] === "0x01" ? { status: "registered" } : { status: "none" };
}
