/**
 * Renders container specs as one docker-compose.yml per node. Compose file format 2.4 is read by both the
 * v1 `docker-compose` tool and the v2 `docker compose` plugin, and carries memory limits without swarm.
 */
import * as yaml from "js-yaml";
import { ContainerSpec } from "./clients/types";

export function composeNetworkName(node: string): string {
  return `${node}-net`;
}

export function renderCompose(node: string, specs: ContainerSpec[]): string {
  const network = composeNetworkName(node);
  const services: Record<string, unknown> = {};
  const volumes: Record<string, unknown> = {};
  const names = new Set(specs.map((s) => s.name));
  for (const s of specs) {
    const svc: Record<string, unknown> = {
      image: s.image,
      container_name: s.name,
      restart: s.restart,
      stop_grace_period: `${s.stopGraceSec}s`,
      mem_limit: `${s.memoryMiB}m`,
      networks: [network],
    };
    if (s.user) svc.user = s.user;
    if (s.entrypoint) svc.entrypoint = s.entrypoint;
    if (s.command.length > 0) svc.command = s.command.map(escapeDollars);
    if (Object.keys(s.env).length > 0) svc.environment = Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, escapeDollars(v)]));
    const ports = s.ports
      .filter((p) => p.hostPort !== undefined)
      .map((p) => `${p.bindAddress}:${p.hostPort}:${p.containerPort}/${p.protocol}`);
    if (ports.length > 0) svc.ports = ports;
    const expose = s.ports.filter((p) => p.hostPort === undefined).map((p) => `${p.containerPort}`);
    if (expose.length > 0) svc.expose = expose;
    svc.volumes = s.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`);
    for (const m of s.mounts) if (m.kind === "volume") volumes[m.source] = { name: m.source };
    const deps = s.dependsOn.filter((d) => names.has(d)).map((d) => serviceName(d, node));
    if (deps.length > 0) svc.depends_on = deps;
    svc.labels = { "ephemery.node": node, "ephemery.role": s.role, "ephemery.client": s.client };
    services[serviceName(s.name, node)] = svc;
  }
  const doc = {
    version: "2.4",
    services,
    networks: { [network]: { name: network } },
    ...(Object.keys(volumes).length > 0 ? { volumes } : {}),
  };
  return `# Written by pulumi-ephemery; \`pulumi up\` overwrites hand edits.\n${yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false })}`;
}

/** `node1-execution` -> `execution`: service names stay short and stable, container names carry the node. */
export function serviceName(containerName: string, node: string): string {
  return containerName.startsWith(`${node}-`) ? containerName.slice(node.length + 1) : containerName;
}

/** Compose interpolates `$VAR`; entry scripts read their variables at run time, so pass `$` through. */
function escapeDollars(v: string): string {
  return v.replace(/\$/g, "$$$$");
}
