/**
 * Waiting for a deposit's receipt. The JSON-RPC server is a loopback stand-in for geth v1.16.7 on a new chain:
 * until its transaction indexer has caught up it answers eth_getTransactionReceipt with TxIndexingError
 * (internal/ethapi/errors.go: code -32000, "transaction indexing is in progress") instead of null. The live-chain
 * test saw exactly this a second after a reset, when the re-deposit program asked for its deposit's receipt.
 */
import * as http from "http";
import { AddressInfo } from "net";
import { jsonRpc } from "../../lib/execution/jsonRpc";
import { receiptOf, waitForReceipt } from "../../lib/keys/depositTx";

const HASH = `0x${"ab".repeat(32)}`;
const RECEIPT = { status: "0x1", blockNumber: "0x1", gasUsed: "0x15046", logs: [] };

let server: http.Server;
let url: string;
/** What the stand-in answers next, one per call, then the last one again. */
let answers: object[];
let calls = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      const { id } = JSON.parse(body);
      const answer = answers[Math.min(calls++, answers.length - 1)];
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id, ...answer }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => { calls = 0; });

const indexing = { error: { code: -32000, message: "transaction indexing is in progress", data: "transaction indexing is in progress" } };

test("while geth's indexer catches up, a receipt is not known yet, and the wait goes on until it is", async () => {
  answers = [indexing, indexing, { result: null }, { result: RECEIPT }];
  expect(await receiptOf(jsonRpc(url), HASH)).toBeNull();
  calls = 0;
  expect(await waitForReceipt(jsonRpc(url), HASH, 10_000, 10)).toEqual(RECEIPT);
  expect(calls).toBe(4);
});

test("any other error of the node still stops the wait, naming it", async () => {
  answers = [{ error: { code: -32601, message: "the method eth_getTransactionReceipt does not exist/is not available" } }];
  await expect(waitForReceipt(jsonRpc(url), HASH, 10_000, 10)).rejects.toThrow(/eth_getTransactionReceipt: the method eth_getTransactionReceipt does not exist/);
});

test("an indexer that never catches up ends in the bounded wait's own error", async () => {
  answers = [indexing];
  await expect(waitForReceipt(jsonRpc(url), HASH, 200, 20)).rejects.toThrow(/was not included within 0 s; it may still be/);
});
