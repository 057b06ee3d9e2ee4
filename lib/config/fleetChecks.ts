/** Checks of `ephemery:fleet` against the hosts and the secrets. */
import { HostConfig, resolveHostKind, StackConfig } from "./schema";
import { missingReceiverSecrets, receiverUrlProblems } from "./monitoring";
import { SecretSettings } from "./secrets";

const AT = "ephemery:fleet";

/** Ports the host already publishes: its clients' and its monitoring stack's. */
function hostPorts(h: HostConfig): { port: number; what: string }[] {
  const m = h.monitoring;
  return [
    { port: h.execution.p2pPort, what: "execution.p2pPort" }, { port: h.execution.rpcPort, what: "execution.rpcPort" },
    { port: h.execution.wsPort, what: "execution.wsPort" }, { port: h.consensus.p2pPort, what: "consensus.p2pPort" },
    { port: h.consensus.quicPort, what: "consensus.quicPort" }, { port: h.consensus.beaconApiPort, what: "consensus.beaconApiPort" },
    ...(h.execution.metricsPort ? [{ port: h.execution.metricsPort, what: "execution.metricsPort" }] : []),
    ...(h.consensus.metricsPort ? [{ port: h.consensus.metricsPort, what: "consensus.metricsPort" }] : []),
    ...(h.validator ? [{ port: h.validator.keymanagerPort, what: "validator.keymanagerPort" }] : []),
    ...(h.validator?.metricsPort ? [{ port: h.validator.metricsPort, what: "validator.metricsPort" }] : []),
    { port: m.prometheusPort, what: "monitoring.prometheusPort" }, { port: m.alertmanagerPort, what: "monitoring.alertmanagerPort" },
    { port: m.grafanaPort, what: "monitoring.grafanaPort" }, { port: m.nodeExporterPort, what: "monitoring.nodeExporterPort" },
    { port: m.validatorExporterPort, what: "monitoring.validatorExporterPort" },
  ];
}

/** The address nodes dial: fleet.address, else the monitor host's (fleetProblems makes sure one exists). */
export function fleetAddress(cfg: StackConfig): string | undefined {
  const f = cfg.fleet;
  return f?.address ?? cfg.hosts.find((h) => h.name === f?.host)?.address;
}

export function fleetProblems(cfg: StackConfig, secrets: SecretSettings): { path: string; message: string }[] {
  const f = cfg.fleet;
  const names = cfg.hosts.map((h) => h.name);
  const problems: { path: string; message: string }[] = [];
  for (const name of Object.keys(secrets.fleetPasswords ?? {})) {
    if (!names.includes(name)) problems.push({ path: `ephemery:fleetPasswords.${name}`, message: `names no host; hosts are ${names.join(", ")}` });
  }
  if (!f) {
    for (const key of ["fleetTls", "fleetPasswords"] as const) {
      if (secrets[key] !== undefined) problems.push({ path: `ephemery:${key}`, message: "is set but ephemery:fleet is not; add a fleet section or remove the secret" });
    }
    return problems;
  }
  const i = names.indexOf(f.host);
  if (i < 0) return [...problems, { path: `${AT}.host`, message: `"${f.host}" names no host; hosts are ${names.join(", ")}` }];
  const h = cfg.hosts[i];
  if (!h.monitoring.enabled) {
    problems.push({ path: `${AT}.host`, message: `host "${f.host}" has monitoring disabled; the fleet monitor runs with its monitoring stack: set hosts[${i}].monitoring.enabled: true, or pick another host` });
  }
  const kind = resolveHostKind(h);
  if (kind !== "ssh" && !f.address) {
    const why = kind === "local" ? "the nodes cannot reach it at \"localhost\"" : "its address is only known once the machine exists, and the certificate must name it";
    problems.push({ path: `${AT}.address`, message: `host "${f.host}" is ${kind}, so ${why}; set fleet.address to the DNS name (or fixed IP) the nodes dial` });
  }
  const fleetPorts = [{ port: f.port, what: "port" }, { port: f.alertmanagerPort, what: "alertmanagerPort" }, { port: f.grafanaPort, what: "grafanaPort" }];
  for (const fp of fleetPorts) {
    const clash = hostPorts(h).find((p) => p.port === fp.port);
    if (clash) problems.push({ path: `${AT}.${fp.what}`, message: `${fp.port} is also hosts[${i}].${clash.what} on the monitor host "${f.host}"; give the fleet monitor another port` });
  }
  const silent = cfg.hosts.filter((x) => !x.monitoring.enabled).map((x) => x.name);
  if (silent.length > 0) {
    problems.push({ path: `${AT}`, message: `hosts ${silent.join(", ")} have monitoring disabled, so they would send nothing to the fleet monitor; enable their monitoring (the fleet needs each node's Prometheus)` });
  }
  problems.push(...missingReceiverSecrets(f, secrets.alertmanagerSecrets, AT));
  problems.push(...receiverUrlProblems(f, secrets.alertmanagerSecrets, AT));
  return problems;
}
