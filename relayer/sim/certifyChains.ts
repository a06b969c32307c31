import { committeeThreshold } from "./gridCell.js";
import type { SignatureCache } from "./signatureCache.js";
import { SyntheticSystem } from "./syntheticSystem.js";

export type CertifyChainsParameters = {
  /** The systems to certify, by index: system i of every cell of the grid. */
  indices: readonly number[];
  blocks: number;
  seed: number;
  q: number;
  k: number;
  signEvery: number;
  cache: SignatureCache;
};

/**
 * Signs and checks into `cache` every certified view of the systems `indices` over their first `blocks` blocks: what the
 * cells of a grid of this seed sign and check as they go (a cell's nodes learn their chain's newest certified view at
 * each block, and every other node checks it when it first arrives). Done up front, the work can be shared out: two
 * worker threads certify half the systems each and adopt each other's (SignatureCache.share), so that no signature is
 * made twice, as none is when every cell runs in one thread with one cache.
 */
export async function certifyChains({ indices, blocks, seed, q, k, signEvery, cache }: CertifyChainsParameters): Promise<void> {
  for (const index of indices) {
    const system = new SyntheticSystem({ index, seed, q, threshold: committeeThreshold(q), k, signEvery, cache });
    for (let height = 0; height < blocks; height++) {
      system.produce();
      if (system.certifiedHeight(height) !== height) continue;
      const signed = await system.certify(height);
      await cache.verify(signed.view, signed.signatures, system.committee);
    }
  }
}
