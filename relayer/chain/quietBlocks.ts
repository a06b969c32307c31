import type { Address, Hex } from "viem";
import { bloomBits, bloomMayHold } from "./logsBloom.js";

/** Delivered blocks remembered: a scan that lags further behind (a failing endpoint) asks for the logs. */
const REMEMBERED = 4_096n;

/**
 * The blocks this node delivered, and which of them may hold a log of the contracts it watches (its Gateway and its
 * ViewRegistry), read off each block's logs bloom. A log scan of a range of quiet blocks needs no eth_getLogs: an idle
 * chain then costs the node one request a block (its header), not three. Only blocks delivered since the node started
 * are known; a range reaching below them (a restart's catch-up) or above them is scanned as before.
 */
export class QuietBlocks {
  /** The bloom bits of each watched address. */
  readonly #watched: readonly (readonly number[])[];
  #first: bigint | undefined;
  #last = -1n;
  /** Delivered heights whose bloom names a watched address, in ascending order. */
  #loud: bigint[] = [];

  constructor(watched: readonly Address[]) {
    this.#watched = watched.map(bloomBits);
  }

  /** Notes the next delivered block (heights arrive in order, each once). */
  record(height: bigint, logsBloom: Hex): void {
    const oldest = height - REMEMBERED + 1n;
    const first = this.#first === undefined ? height : this.#first > oldest ? this.#first : oldest;
    this.#first = first;
    this.#last = height;
    if (this.#watched.some((bits) => bloomMayHold(logsBloom, bits))) this.#loud.push(height);
    if (this.#loud.length > 0 && this.#loud[0]! < first) this.#loud = this.#loud.filter((h) => h >= first);
  }

  /** Whether every block from `from` to `to` was delivered and none may hold a log of a watched contract. */
  quiet(from: bigint, to: bigint): boolean {
    if (this.#first === undefined || from < this.#first || to > this.#last) return false;
    // The first loud height at or above `from` (binary search): the range is quiet when it lies above `to`.
    let [low, high] = [0, this.#loud.length];
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#loud[middle]! < from) low = middle + 1;
      else high = middle;
    }
    return low === this.#loud.length || this.#loud[low]! > to;
  }
}
