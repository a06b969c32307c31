import type { Address, Hex, LocalAccount, PublicClient } from "viem";
import type { SignedView } from "../view/signedView.js";
import { orderSignatures, signView } from "../view/signView.js";
import { buildView, viewStart } from "../view/view.js";

/**
 * A signed view to post with `submitView(view, signatures, bridge)`: `bridge` holds the block hashes between the
 * registry's newest accepted height and the view's window (empty when they meet).
 */
export type BridgedView = SignedView & { bridge: Hex[] };

/** Test RPC methods of Hardhat and Anvil: the fork is made with a snapshot and a revert. */
type TestRequest = (args: { method: "evm_snapshot" | "evm_revert" | "hardhat_mine"; params?: unknown[] }) => Promise<unknown>;

export type ForkAttackParameters = {
  /** The misbehaving chain: any endpoint that offers evm_snapshot and evm_revert. */
  client: PublicClient;
  chainId: bigint;
  /** The chain's Gateway, named in its views' domain. */
  gateway: Address;
  k: number;
  /** The colluding part of its committee: at least the threshold. */
  colluders: readonly LocalAccount[];
};

/**
 * The attack of the paper's section VI.B, as a tool: a chain's committee signs views of two branches.
 * `begin` snapshots the chain; what happens next is branch b1 (e.g. a cross-chain task with A); then
 * `switchToSecondBranch` reverts to the snapshot, so that the chain goes on along branch b2 without it,
 * and `signedViews` makes threshold-signed views of whichever branch the chain is on now, for the
 * attacker to post to the ViewRegistry of the chains of its choice.
 */
export class ForkAttack {
  readonly #p: ForkAttackParameters;
  readonly #snapshot: Hex;
  /** Height of the last block both branches share. */
  readonly forkHeight: bigint;
  #onSecondBranch = false;

  private constructor(p: ForkAttackParameters, snapshot: Hex, forkHeight: bigint) {
    this.#p = p;
    this.#snapshot = snapshot;
    this.forkHeight = forkHeight;
  }

  static async begin(p: ForkAttackParameters): Promise<ForkAttack> {
    const request = p.client.request as unknown as TestRequest;
    const forkHeight = await p.client.getBlockNumber({ cacheTime: 0 });
    const snapshot = (await request({ method: "evm_snapshot" })) as Hex;
    return new ForkAttack(p, snapshot, forkHeight);
  }

  get onSecondBranch(): boolean {
    return this.#onSecondBranch;
  }

  /** Drops branch b1: the chain continues from the fork height along b2. */
  async switchToSecondBranch(): Promise<void> {
    const request = this.#p.client.request as unknown as TestRequest;
    const reverted = await request({ method: "evm_revert", params: [this.#snapshot] });
    if (reverted !== true) throw new Error(`evm_revert to ${this.#snapshot} failed`);
    this.#onSecondBranch = true;
  }

  /**
   * The colluders make their branch as long as they like, as fast as they like: mines blocks at once (hardhat_mine, which
   * Hardhat and Anvil both offer) until the head is at least `height`.
   */
  async mineTo(height: bigint): Promise<void> {
    const head = await this.#p.client.getBlockNumber({ cacheTime: 0 });
    if (head >= height) return;
    const request = this.#p.client.request as unknown as TestRequest;
    await request({ method: "hardhat_mine", params: [`0x${(height - head).toString(16)}`] });
  }

  /**
   * Signed views of the branch the chain is on now for a registry whose newest accepted height is `after`: the first at
   * `from` (default after + k; at least after + 1), bridged from `after`, then every k blocks up to `to`, each window meeting
   * the one before. Posted in order, they connect to what the registry holds; starting `from` just past the fork height puts
   * the second branch's views next to the first branch's, where a node comparing the two sees the conflict.
   */
  async signedViews({ after, to, from }: { after: bigint; to: bigint; from?: bigint }): Promise<BridgedView[]> {
    const k = BigInt(this.#p.k);
    const hashes: Hex[] = [];
    for (let h = 0n; h <= to; h++) hashes.push((await this.#p.client.getBlock({ blockNumber: h })).hash);
    const views: BridgedView[] = [];
    let first = from ?? after + k;
    if (first <= after) first = after + 1n;
    let previous = after;
    for (let height = first < to ? first : to; height > previous; height = height + k < to ? height + k : to) {
      const view = buildView({ chainId: this.#p.chainId, k: this.#p.k, blockHashes: hashes.slice(0, Number(height) + 1) });
      const start = viewStart(view);
      const bridge = start > previous + 1n ? hashes.slice(Number(previous) + 1, Number(start)) : [];
      const signatures = orderSignatures(await Promise.all(this.#p.colluders.map((a) => signView(a, view, this.#p.gateway))));
      views.push({ view, signatures, bridge });
      previous = height;
    }
    return views;
  }
}
