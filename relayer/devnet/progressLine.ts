import type { WriteStream } from "node:tty";

/**
 * A live status line for long waits: on a terminal it is rewritten in place (and log lines are printed above it); on
 * anything else (a pipe, a file) and under CI (a CI job's log may be a terminal, but nobody watches it live) updates are
 * dropped and log lines come out as they are, so logs stay plain lines.
 */
export class ProgressLine {
  readonly #out: NodeJS.WritableStream & Partial<Pick<WriteStream, "isTTY" | "columns">>;
  readonly #live: boolean;
  #shown = "";

  /** `env`: where CI is read from (CI set and not "false" or "0" means a CI job). */
  constructor(out: NodeJS.WritableStream & Partial<Pick<WriteStream, "isTTY" | "columns">> = process.stdout, env: NodeJS.ProcessEnv = process.env) {
    this.#out = out;
    this.#live = out.isTTY === true && (env.CI === undefined || ["", "false", "0"].includes(env.CI));
  }

  /** Whether the status line is drawn: a terminal, outside CI. */
  get live(): boolean {
    return this.#live;
  }

  /** Replaces the status line (on a terminal only), cut to the terminal's width: a line that wrapped could not be rewritten in place. */
  update(line: string): void {
    const width = this.#out.columns;
    const text = width !== undefined && width > 1 && line.length >= width ? `${line.slice(0, width - 2)}…` : line;
    if (!this.live || text === this.#shown) return;
    this.#out.write(`\r\x1b[2K${text}`);
    this.#shown = text;
  }

  /** One log line, above the status line on a terminal. */
  log(line: string): void {
    if (!this.live || this.#shown === "") {
      this.#out.write(`${line}\n`);
      return;
    }
    this.#out.write(`\r\x1b[2K${line}\n${this.#shown}`);
  }

  /** Clears the status line. */
  done(): void {
    if (this.live && this.#shown !== "") this.#out.write("\r\x1b[2K");
    this.#shown = "";
  }
}
