import type { Clock } from "../clock.js";
import { RelayerError } from "../util/relayerError.js";

export class SimulatedClockRunawayError extends RelayerError {
  constructor(readonly maxTimers: number) {
    super(`SimulatedClock ran ${maxTimers} timers without becoming idle: a timer keeps rescheduling itself`);
  }
}

export class SimulatedClockReentryError extends RelayerError {
  constructor() {
    super("SimulatedClock is already advancing: a timer or an awaited continuation called advance() or runUntilIdle()");
  }
}

export type SimulatedClockParameters = { start?: number };
export type RunUntilIdleParameters = { maxTimers?: number };

type Timer = { due: number; seq: number; fn: () => void; cancelled: boolean };

/**
 * A `Clock` that moves only when told to. Timers run in order of due time, and in scheduling order
 * when due at the same time. Between two timers the clock lets pending promise continuations run, so
 * code that awaited `sleep` resumes at the simulated time it woke up, before later timers fire.
 */
export class SimulatedClock implements Clock {
  #now: number;
  #seq = 0;
  #running = false;
  /** Binary min-heap on (due, seq); cancelled timers are skipped when they reach the top. */
  readonly #heap: Timer[] = [];

  constructor({ start = 0 }: SimulatedClockParameters = {}) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: Timer = { due: this.#now + delay, seq: this.#seq++, fn, cancelled: false };
    this.#push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Timers scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.#heap.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, running every timer due by then (including ones scheduled meanwhile). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms);
    await this.#run((due) => due <= target, Number.POSITIVE_INFINITY);
    this.#now = target;
  }

  /** Runs timers until none is left, moving time to each one's due time. */
  async runUntilIdle({ maxTimers = 10_000_000 }: RunUntilIdleParameters = {}): Promise<void> {
    await this.#run(() => true, maxTimers);
  }

  async #run(due: (at: number) => boolean, maxTimers: number): Promise<void> {
    if (this.#running) throw new SimulatedClockReentryError();
    this.#running = true;
    try {
      await settle();
      let ran = 0;
      for (;;) {
        const next = this.#peek();
        if (!next || !due(next.due)) return;
        this.#pop();
        if (ran++ >= maxTimers) throw new SimulatedClockRunawayError(maxTimers);
        this.#now = Math.max(this.#now, next.due);
        next.fn();
        await settle();
      }
    } finally {
      this.#running = false;
    }
  }

  #peek(): Timer | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
    return this.#heap[0];
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Timer | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** Lets every pending promise continuation run (a macrotask boundary drains the microtask queue). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
