/**
 * The Pulumi SDK records a stack trace on every promise it makes (runtime/debuggable.js, `debuggablePromise`):
 * four per output property of every resource, about 80 properties on a docker Container. The traces serve
 * only the leak report that PULUMI_DEBUG_PROMISE_LEAKS turns on, yet under ts-node each one is source-mapped
 * frame by frame, which made them most of a fleet's evaluation time and memory. Resources still get their
 * source position: the SDK reads that with its own, unlimited stack (`Resource.callsites`).
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
