/** A devnet step failed; the message says which and, where it helps, what to do about it. */
export class DevnetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DevnetError";
  }
}
