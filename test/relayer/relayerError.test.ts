import assert from "node:assert/strict";
import { TxRefusedError } from "../../relayer/chain/txSender.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { RequestFailedError } from "../../relayer/net/requestChannel.js";
import { ConflictingAnswerError } from "../../relayer/tasks/checkAnswer.js";
import { RelayerError } from "../../relayer/util/relayerError.js";
import { shortMessage } from "../../relayer/util/shortMessage.js";

describe("RelayerError", () => {
  it("is the one base of the relayer's errors: each names its own class, keeps its cause, and logs as one short line", () => {
    const rpc = new Error("connect ECONNREFUSED 127.0.0.1:8545\n    at TCPConnectWrap.afterConnect");
    const refused = new TxRefusedError("0xabc:precommit", "GatewayWrongStatus", rpc);
    const errors = [refused, new DevnetError("chain 1001 did not start", { cause: rpc }), new RequestFailedError(1002n, [])];
    for (const error of errors) assert.ok(error instanceof RelayerError && error instanceof Error, error.name);
    assert.deepEqual(errors.map((e) => e.name), ["TxRefusedError", "DevnetError", "RequestFailedError"]);
    assert.equal(refused.cause, rpc);
    assert.equal(shortMessage(refused), "0xabc:precommit would revert: GatewayWrongStatus");
    assert.equal(shortMessage(new RequestFailedError(1002n, [])), "no verified answer from chain 1002: no node answered in time");
    const subclass = new ConflictingAnswerError({ view: { chainId: 1n, height: 3n, acc: "0x00", hashes: [] }, signatures: [] }, 2n);
    assert.equal(subclass.name, "ConflictingAnswerError", "a subclass of a subclass names itself too");
  });
});
