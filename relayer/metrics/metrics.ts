import { MESSAGE_KINDS, type MessageKind } from "../net/message.js";
import { REFUSAL_REASONS, type RefusalReason } from "../net/refusalReason.js";
import { TASK_STATES, type TaskState } from "../store/store.js";

export type Direction = "sent" | "received";
export const DIRECTIONS: readonly Direction[] = ["sent", "received"];

export type CountMessageParameters = { kind: MessageKind; direction: Direction; bytes: number };
export type CountRejectedParameters = { reason: RefusalReason };
export type CountTransactionSentParameters = { step: string };
export type CountRpcErrorParameters = { method: string };

/** JSON form of the metrics, for /status. Heights fit in 2^53 and are numbers. */
export type MetricsSnapshot = {
  messages: Record<Direction, Record<string, { count: number; bytes: number }>>;
  rejected: Record<string, number>;
  tasks: Record<TaskState, number>;
  viewHeights: Record<string, number>;
  headHeights: Record<string, number>;
  transactionsSent: Record<string, number>;
  rpcErrors: Record<string, number>;
  taskPasses: number;
};

type MetricType = "counter" | "gauge";
type Sample = { labels: readonly string[]; value: number };

/** One metric name with its samples, keyed by label values in `labelNames` order. */
class Family {
  private readonly samples = new Map<string, Sample>();

  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  add(labels: readonly string[], by: number): void {
    const sample = this.sample(labels);
    sample.value += by;
  }

  set(labels: readonly string[], value: number): void {
    this.sample(labels).value = value;
  }

  value(labels: readonly string[]): number {
    return this.samples.get(JSON.stringify(labels))?.value ?? 0;
  }

  entries(): Sample[] {
    return [...this.samples.values()];
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.samples.values()) {
      const pairs = labels.map((v, i) => `${this.labelNames[i]}="${escapeLabelValue(v)}"`);
      lines.push(`${this.name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`);
    }
    return lines.join("\n") + "\n";
  }

  private sample(labels: readonly string[]): Sample {
    const key = JSON.stringify(labels);
    let sample = this.samples.get(key);
    if (sample === undefined) {
      sample = { labels: [...labels], value: 0 };
      this.samples.set(key, sample);
    }
    return sample;
  }
}

/**
 * A relayer node's counters and gauges, rendered as Prometheus text (`prometheus()`) and as JSON (`snapshot()`).
 * Every name starts with `fibc_`.
 */
export class Metrics {
  private readonly messages = new Family("fibc_messages_total", "counter", "Node-to-node messages by kind and direction.", ["kind", "direction"]);
  private readonly messageBytes = new Family(
    "fibc_message_bytes_total",
    "counter",
    "Bytes of node-to-node messages by kind and direction.",
    ["kind", "direction"],
  );
  private readonly rejected = new Family("fibc_messages_rejected_total", "counter", "Messages and connections the node refused, by reason.", ["reason"]);
  private readonly tasks = new Family("fibc_tasks", "gauge", "Contract transactions on the node's own chain, by state.", ["state"]);
  private readonly viewHeights = new Family("fibc_view_height", "gauge", "Height of the newest verified view of each chain.", ["chain_id"]);
  private readonly headHeights = new Family("fibc_chain_head_height", "gauge", "Head block height of each followed chain.", ["chain_id"]);
  private readonly transactionsSent = new Family("fibc_transactions_sent_total", "counter", "Transactions sent by the node, by step.", ["step"]);
  private readonly rpcErrors = new Family("fibc_rpc_errors_total", "counter", "Failed JSON-RPC calls, by method.", ["method"]);
  private readonly taskPasses = new Family(
    "fibc_task_passes_total",
    "counter",
    "Passes of the node's task loop (logs scanned, due steps run): one per block of its chain while nothing is in flight, one per poll otherwise.",
    [],
  );
  private readonly reorgAlarms = new Family("fibc_reorg_alarm", "gauge", "1 when the chain reorganized below a block the node delivered, and it stopped signing.", ["chain_id"]);
  private readonly families: readonly Family[] = [
    this.messages,
    this.messageBytes,
    this.rejected,
    this.tasks,
    this.viewHeights,
    this.headHeights,
    this.transactionsSent,
    this.rpcErrors,
    this.taskPasses,
    this.reorgAlarms,
  ];

  constructor() {
    // Known label sets start at zero, so a rate() over them works from the first scrape.
    for (const kind of MESSAGE_KINDS) {
      for (const direction of DIRECTIONS) {
        this.messages.add([kind, direction], 0);
        this.messageBytes.add([kind, direction], 0);
      }
    }
    for (const reason of REFUSAL_REASONS) this.rejected.add([reason], 0);
    for (const state of TASK_STATES) this.tasks.set([state], 0);
    this.taskPasses.add([], 0);
  }

  countMessage({ kind, direction, bytes }: CountMessageParameters): void {
    this.messages.add([kind, direction], 1);
    this.messageBytes.add([kind, direction], bytes);
  }

  countRejected({ reason }: CountRejectedParameters): void {
    this.rejected.add([reason], 1);
  }

  /** Sets the task gauge from the store's `countTasksByState()`. */
  setTaskCounts(counts: Record<TaskState, number>): void {
    for (const state of TASK_STATES) this.tasks.set([state], counts[state]);
  }

  setViewHeight(chainId: bigint, height: bigint): void {
    this.viewHeights.set([chainId.toString()], Number(height));
  }

  setHeadHeight(chainId: bigint, height: bigint): void {
    this.headHeights.set([chainId.toString()], Number(height));
  }

  countTransactionSent({ step }: CountTransactionSentParameters): void {
    this.transactionsSent.add([step], 1);
  }

  countRpcError({ method }: CountRpcErrorParameters): void {
    this.rpcErrors.add([method], 1);
  }

  countTaskPass(): void {
    this.taskPasses.add([], 1);
  }

  setReorgAlarm(chainId: bigint, raised: boolean): void {
    this.reorgAlarms.set([chainId.toString()], raised ? 1 : 0);
  }

  /** The Prometheus text exposition format, version 0.0.4. */
  prometheus(): string {
    return this.families.map((f) => f.render()).join("");
  }

  snapshot(): MetricsSnapshot {
    const messages: MetricsSnapshot["messages"] = { sent: {}, received: {} };
    for (const { labels, value } of this.messages.entries()) {
      const [kind, direction] = labels as [string, Direction];
      messages[direction][kind] = { count: value, bytes: this.messageBytes.value(labels) };
    }
    return {
      messages,
      rejected: byFirstLabel(this.rejected),
      tasks: byFirstLabel(this.tasks) as Record<TaskState, number>,
      viewHeights: byFirstLabel(this.viewHeights),
      headHeights: byFirstLabel(this.headHeights),
      transactionsSent: byFirstLabel(this.transactionsSent),
      rpcErrors: byFirstLabel(this.rpcErrors),
      taskPasses: this.taskPasses.value([]),
    };
  }
}

function byFirstLabel(family: Family): Record<string, number> {
  return Object.fromEntries(family.entries().map(({ labels, value }) => [labels[0] as string, value]));
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
