/** A JSON-RPC client for an execution node, with bounds on time and answer size: the node's answers are data. */
import { HTTP_LIMITS, readBounded } from "../http";

export class RpcError extends Error {}

export function jsonRpc(url: string, limits = HTTP_LIMITS) {
  let id = 0;
  return async function call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
        signal: AbortSignal.timeout(limits.timeoutMs),
      });
    } catch (e) {
      throw new RpcError(`${method} to ${url} failed: ${(e as Error).message}`);
    }
    const text = await readBounded(res, limits.maxAnswerBytes, `${url} (${method})`);
    let body: { result?: T; error?: { message?: unknown } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new RpcError(`${method} to ${url}: HTTP ${res.status}, not a JSON-RPC answer`);
    }
    if (body.error) throw new RpcError(`${method}: ${String(body.error.message ?? "error").slice(0, 300)}`);
    if (!res.ok) throw new RpcError(`${method} to ${url}: HTTP ${res.status}`);
    return body.result as T;
  };
}

export function hexQuantity(value: unknown, what: string): bigint {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(value)) throw new RpcError(`${what} is not a hex quantity: ${JSON.stringify(value)?.slice(0, 80)}`);
  return BigInt(value);
}
