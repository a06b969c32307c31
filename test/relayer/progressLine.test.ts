import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { ProgressLine } from "../../relayer/devnet/progressLine.js";

/** A stream that keeps what was written, a terminal or not. */
function stream(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  out.isTTY = isTTY;
  out.text = () => chunks.join("");
  return out;
}

describe("ProgressLine", () => {
  it("on a pipe writes the log lines alone, as plain lines, and no status line or escape code", () => {
    const out = stream(false);
    const progress = new ProgressLine(out);
    progress.update("waiting: block 1");
    progress.log("chain 1: registered");
    progress.update("waiting: block 2");
    progress.log("chain 1: released");
    progress.done();
    assert.equal(out.text(), "chain 1: registered\nchain 1: released\n");
  });

  it("under CI, even on a terminal, writes plain log lines only", () => {
    const out = stream(true);
    const progress = new ProgressLine(out, { CI: "true" });
    assert.equal(progress.live, false);
    progress.update("waiting: block 1");
    progress.log("chain 1: released");
    progress.done();
    assert.equal(out.text(), "chain 1: released\n");
  });

  it("on a terminal cuts the status line to the terminal's width, so that it never wraps", () => {
    const out = Object.assign(stream(true), { columns: 12 });
    const progress = new ProgressLine(out, {});
    progress.update("waiting: block 1234 of 5000");
    progress.done();
    assert.equal(out.text(), "\r\x1b[2Kwaiting: b…\r\x1b[2K");
  });

  it("on a terminal rewrites one status line in place and prints log lines above it", () => {
    const out = stream(true);
    const progress = new ProgressLine(out, { CI: "false" });
    progress.update("waiting: block 1");
    progress.update("waiting: block 1"); // unchanged: not redrawn
    progress.log("chain 1: registered");
    progress.update("waiting: block 2");
    progress.done();
    const clear = "\r\x1b[2K";
    assert.equal(out.text(), `${clear}waiting: block 1${clear}chain 1: registered\nwaiting: block 1${clear}waiting: block 2${clear}`);
  });
});
