/**
 * Why the transport refused a frame or a connection (WsTransport's reasons; each has a counter in `WsTransport.rejected`):
 * - `unauthenticated`: a frame before the handshake ended, or no handshake in time;
 * - `bad-auth`: a handshake whose signature or transcript does not hold;
 * - `forbidden`: an address that is not allowed, is this node's own, or is not the one dialed;
 * - `oversized`: a frame larger than the cap (ws closes the socket, 1009, from the frame header);
 * - `malformed`: a frame that opens but is not JSON or not a message `decodeMessage` takes (dropped, connection kept);
 * - `bad-frame`: a frame that does not open under the session's keys (forged, replayed or reordered);
 * - `unresponsive`: no answer to the heartbeat.
 */
export const TRANSPORT_REFUSALS = ["unauthenticated", "bad-auth", "forbidden", "oversized", "malformed", "bad-frame", "unresponsive"] as const;
export type TransportRefusal = (typeof TRANSPORT_REFUSALS)[number];

/** Why the protocol above the transport refused a message, by the part that refused it. */
const PROTOCOL_REFUSALS = [
  // Request channel: the same request id twice from a peer; more requests than a peer may make per second; an answer
  // from a node that was not asked (or too late, or twice); an answer whose proof or view does not check out.
  "replayed request",
  "rate limited",
  "unexpected answer",
  "answer failed verification",
  // Gossip: a peer cut off for its strikes; more messages than a peer may send per second; a message already taken;
  // a view whose signatures do not hold; fork evidence whose views do not hold.
  "peer cut off",
  "gossip rate limited",
  "duplicate gossip",
  "invalid view",
  "invalid evidence",
  // Co-signing: a co-signature of another chain, by a non-member or for another address, out of the window of heights,
  // or of a view other than the one this node holds.
  "invalid co-signature",
  // The node: a handler threw on a decoded message (a message the decoder took but the node could not use).
  "handler failed",
] as const;

/**
 * Every reason a node refuses a message for, one counter label each: a fixed set, so that what a peer sends can never
 * add a label (a time series) to /metrics.
 */
export type RefusalReason = (typeof PROTOCOL_REFUSALS)[number] | `transport ${TransportRefusal}`;

export const REFUSAL_REASONS: readonly RefusalReason[] = [...PROTOCOL_REFUSALS, ...TRANSPORT_REFUSALS.map((r) => `transport ${r}` as const)];
