/**
 * A spinner on standard error for work that may take more than a second. It appears only on a terminal and
 * only once the work has run for `delayMs`, so quick commands and piped output stay clean.
 */
import { CommandIO } from "./command";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Progress {
  update(text: string): void;
  stop(): void;
}

export function startProgress(io: CommandIO, text: string, opts: { delayMs?: number; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (!io.isTTY || !stream.isTTY) return { update: () => undefined, stop: () => undefined };
  let label = text;
  let frame = 0;
  let shown = false;
  let ticker: NodeJS.Timeout | undefined;
  const draw = () => {
    shown = true;
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label}`);
  };
  const starter = setTimeout(() => {
    draw();
    ticker = setInterval(draw, 100);
  }, opts.delayMs ?? 1000);
  return {
    update(t) {
      label = t;
    },
    stop() {
      clearTimeout(starter);
      if (ticker) clearInterval(ticker);
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}

/** Runs `work` with a spinner and always clears it. */
export async function withProgress<T>(io: CommandIO, text: string, work: (p: Progress) => Promise<T>): Promise<T> {
  const p = startProgress(io, text);
  try {
    return await work(p);
  } finally {
    p.stop();
  }
}
