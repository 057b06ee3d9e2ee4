/** `ephemery dashboard`: an SSH tunnel from a local port to a node's Grafana (or Prometheus) on its loopback. */
import { HostConfig, resolveHostKind, StackConfig } from "../../lib/config/schema";
import { Command, intOpt, stringOpt, UsageError } from "../command";
import { withProgress } from "../progress";
import { openSession, openTunnel } from "../ssh";
import { paint, useColour } from "../table";
import { loadConfigOrThrow, SSH_OPTIONS, sshAuthOf, stackAddresses, targetOf } from "./status";

/** Resolves when the user presses Ctrl-C (or the process is told to stop). */
function untilInterrupted(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(signal);
    };
    const onInt = stop("SIGINT");
    const onTerm = stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}

interface TunnelTarget { host: HostConfig; name: string; what: string; remotePort: number }

function hostNamed(config: StackConfig, name: string): HostConfig {
  const host = config.hosts.find((h) => h.name === name);
  if (!host) throw new UsageError(`no host named "${name}"; hosts are ${config.hosts.map((h) => h.name).join(", ")}`);
  return host;
}

/** A node's own Grafana or Prometheus, on its loopback. */
function nodeTarget(config: StackConfig, values: Record<string, unknown>): TunnelTarget {
  const name = stringOpt(values, "host") ?? (config.hosts.length === 1 ? config.hosts[0].name : undefined);
  if (!name) throw new UsageError(`name the host with --host (or --fleet for the fleet monitor); hosts are ${config.hosts.map((h) => h.name).join(", ")}`);
  const host = hostNamed(config, name);
  if (!host.monitoring.enabled) throw new Error(`monitoring is off on host ${name}: set hosts[].monitoring.enabled: true and run pulumi up`);
  if (!values.prometheus && !host.monitoring.grafana) throw new UsageError(`Grafana is off on host ${name} (hosts[].monitoring.grafana: false): use --prometheus, or turn Grafana on and run pulumi up`);
  return values.prometheus
    ? { host, name, what: `Prometheus of ${name}`, remotePort: host.monitoring.prometheusPort }
    : { host, name, what: `Grafana of ${name}`, remotePort: host.monitoring.grafanaPort };
}

/** The fleet monitor's Grafana, on the monitor host's loopback (ephemery:fleet). */
function fleetTarget(config: StackConfig, values: Record<string, unknown>): TunnelTarget {
  if (!config.fleet) throw new UsageError("this stack has no fleet monitor: set ephemery:fleet (see the README's \"The fleet monitor\"), or name a node with --host");
  if (values.host !== undefined) throw new UsageError(`--fleet goes to the fleet monitor's host (${config.fleet.host}); drop --host`);
  // The fleet Prometheus already listens on a public TLS port with basic auth; what an operator browses is Grafana.
  const host = hostNamed(config, config.fleet.host);
  if (values.prometheus) throw new UsageError(`the fleet Prometheus is not tunnelled: it answers on ${config.fleet.address ?? host.address ?? host.name}:${config.fleet.port} with TLS and basic auth; use --fleet for its Grafana, or --host ${host.name} --prometheus for that node's own Prometheus`);
  if (!host.monitoring.grafana) throw new UsageError(`Grafana is off on the fleet monitor's host ${host.name} (hosts[].monitoring.grafana: false): turn it on and run pulumi up`);
  return { host, name: host.name, what: `Fleet Grafana on ${host.name}`, remotePort: config.fleet.grafanaPort };
}

export const dashboardCommands: Command[] = [
  {
    path: ["dashboard"],
    summary: "Open an SSH tunnel to a node's Grafana (or Prometheus), or the fleet monitor's Grafana, and print the local URL",
    usage: "ephemery dashboard (--host NAME [--prometheus] | --fleet) [--local-port N] [--stack NAME] [SSH options]",
    options: { stack: { type: "string" }, file: { type: "string" }, ...SSH_OPTIONS, host: { type: "string" }, prometheus: { type: "boolean" }, fleet: { type: "boolean" }, "local-port": { type: "string" } },
    async run({ values }, io) {
      const { config } = loadConfigOrThrow(values, io);
      const localPort = intOpt(values, "local-port") ?? 0;
      if (localPort < 0 || localPort > 65535) throw new UsageError(`--local-port must be 0-65535, got ${localPort}`);
      const { host, name, what, remotePort } = values.fleet ? fleetTarget(config, values) : nodeTarget(config, values);

      const addresses = ["aws", "hcloud"].includes(resolveHostKind(host)) ? await stackAddresses(stringOpt(values, "stack"), io.cwd) : {};
      const target = targetOf(host, addresses);
      if (target.kind === "ssh" && !target.address) throw new Error(`no address known for host ${name}: run pulumi up, or check that \`pulumi stack output hosts\` works here`);
      const session = await withProgress(io, `connecting to ${name}`, () => openSession(target, sshAuthOf(values)));
      let tunnel;
      try {
        tunnel = await openTunnel(session, remotePort, localPort, (e) => io.err(`ephemery dashboard: ${e.message} (is the ${what} running? check: ephemery status --host ${name})\n`));
      } catch (e) {
        session.close();
        throw e;
      }
      const colour = useColour(io);
      if (session.hostKeyNote) io.err(`warning: ${session.hostKeyNote}\n`);
      io.out(`${what}: ${paint(tunnel.url, "ok", colour)}\n`);
      if (!values.prometheus) io.out("Log in as admin with the password from: pulumi config get ephemery:grafanaAdminPassword (or the stack's generated one).\n");
      io.out("Press Ctrl-C to close the tunnel.\n");
      let closing = false;
      const lost = new Promise<string>((resolve) => session.onClose(() => { if (!closing) resolve("lost"); }));
      const why = await Promise.race([untilInterrupted(), lost]);
      closing = true;
      await tunnel.close();
      session.close();
      if (why === "lost") {
        io.err(`ephemery dashboard: the SSH connection to ${name} closed; run the command again\n`);
        return 1;
      }
      return 0;
    },
  },
];
