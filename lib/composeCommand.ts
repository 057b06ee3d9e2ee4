import { shellQuote } from "./hostScripts";

/** The compose arguments that select a node's project: data, one argument each. */
export function composeArgs(node: string, file: string): string[] {
  return ["-p", node, "-f", file];
}

/**
 * A shell line prefix running compose for the node's project: the v2 plugin where present, the v1 tool
 * otherwise, as hosts differ. Only the tool choice is a substitution; the node and file are quoted data.
 */
export function composeCommand(node: string, file: string): string {
  return `$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose) -p ${shellQuote(node)} -f ${shellQuote(file)}`;
}
