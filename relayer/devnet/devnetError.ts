import { RelayerError } from "../util/relayerError.js";

/** A devnet step failed; the message says which and, where it helps, what to do about it. */
export class DevnetError extends RelayerError {}
