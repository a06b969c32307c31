import type { Address } from "viem";
import type { Message } from "./message.js";

/** What a transport tells the node about each message it delivers. */
export type Delivery = {
  from: Address;
  message: Message;
  bytes: number;
  /** The message's JSON text as it arrived, before it was decoded: what the gossip overlay hashes to find a repeat. */
  text: string;
};

/**
 * Node-to-node messaging. Peers are named by their committee address; a transport delivers only
 * messages from peers that proved they hold that address's key. The same protocol code runs over
 * WebSockets (`WsTransport`) and in memory with a simulated clock (`MemoryTransport`).
 */
export interface Transport {
  /** This node's committee address. */
  readonly self: Address;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Queues `message` for `to` and returns its size in bytes; 0 when `to` is not connected or its queue is full (dropped). */
  send(to: Address, message: Message): number;
  /** Authenticated peers connected now. */
  connected(): Address[];
  /** Registers the handler of every delivered message (one handler). */
  onMessage(handler: (delivery: Delivery) => void): void;
}
