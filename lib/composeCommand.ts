/** Uses the v2 plugin where present and the v1 tool otherwise, as hosts differ. */
export function composeCommand(node: string, file: string): string {
  return `$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose) -p ${node} -f ${file}`;
}
