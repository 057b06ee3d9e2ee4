/**
 * The Pulumi SDK records a stack trace on every promise it makes (runtime/debuggable.js, `debuggablePromise`):
 * four per output property of every resource, about 80 properties on a docker Container, and more while it
 * serializes each resource's inputs and sends its registration (after the constructor has returned, so in
 * later ticks). The traces serve only the leak report that PULUMI_DEBUG_PROMISE_LEAKS turns on, yet under
 * ts-node each one is source-mapped frame by frame, which made them most of a fleet's evaluation time and
 * memory. Resources still get their source position: the SDK reads that with its own, unlimited stack
 * (`Resource.callsites`).
 *
 * What is lost: an error created while capture is off carries its message only, no frames. Every error this
 * program raises says what to fix in its message; PULUMI_DEBUG_PROMISE_LEAKS=1 brings every trace back.
 */

/** Runs `build` with stack capture off (unless PULUMI_DEBUG_PROMISE_LEAKS asks for traces), then restores it. */
export function withoutPromiseStacks<T>(build: () => T, env: NodeJS.ProcessEnv = process.env): T {
  if (env.PULUMI_DEBUG_PROMISE_LEAKS) return build();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The limit in force before `promiseStacksOffForRun`, while capture is off for the run. */
let savedLimit: number | undefined;

/**
 * Turns stack capture off for the rest of the program's run: the SDK's registration work in later ticks makes
 * as many promises again as the constructors do (measured under `npm run bench`: about a tenth of a fleet's
 * CPU time, and the garbage of their formatted traces). A Pulumi program runs in a process of its own that ends
 * with the deployment, so nothing else needs the frames; a process that goes on (the test harness) calls
 * `restorePromiseStacks` when the run has settled. Does nothing when PULUMI_DEBUG_PROMISE_LEAKS is set.
 */
export function promiseStacksOffForRun(env: NodeJS.ProcessEnv = process.env): void {
  if (env.PULUMI_DEBUG_PROMISE_LEAKS) return;
  if (savedLimit === undefined) savedLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
}

/** Puts back the limit `promiseStacksOffForRun` found; a no-op when capture is on. */
export function restorePromiseStacks(): void {
  if (savedLimit === undefined) return;
  Error.stackTraceLimit = savedLimit;
  savedLimit = undefined;
}
