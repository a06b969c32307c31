/**
 * The base of every error the relayer raises: `message` is one short line that says what failed and why, in words a
 * user understands; `cause` keeps the underlying error (an RPC failure, a revert, a parse error) for whoever needs it;
 * `name` is the class's own, so logs and `instanceof` agree.
 */
export class RelayerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
