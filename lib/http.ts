/** HTTP with bounds on time and answer size, for answers from nodes and providers: they are data, never trusted. */

export const HTTP_LIMITS = { timeoutMs: 15_000, maxAnswerBytes: 1024 * 1024 } as const;

export class HttpError extends Error {}

export async function readBounded(res: Response, maxBytes: number, what: string): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel();
      throw new HttpError(`${what} answered more than ${maxBytes} bytes; refusing to read on`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** One request; the answer's status and its JSON body (undefined when the body is empty or not JSON). */
export async function httpJson(url: string, opts: { method?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number; maxBytes?: number } = {}): Promise<{ status: number; body: unknown; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? "GET",
      headers: { accept: "application/json", ...(opts.body !== undefined ? { "content-type": "application/json" } : {}), ...opts.headers },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: AbortSignal.timeout(opts.timeoutMs ?? HTTP_LIMITS.timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new HttpError(`${opts.method ?? "GET"} ${url} failed: ${cause ?? (e as Error).message}`);
  }
  const text = await readBounded(res, opts.maxBytes ?? HTTP_LIMITS.maxAnswerBytes, url);
  let body: unknown;
  try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
  return { status: res.status, body, text };
}
