/** `ephemery dashboard`: an SSH tunnel from a local port to a node's Grafana (or Prometheus) on its loopback. */
import { resolveHostKind } from "../../lib/config/schema";
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

export const dashboardCommands: Command[] = [
  {
    path: ["dashboard"],
    summary: "Open an SSH tunnel to a node's Grafana (or Prometheus) and print the local URL",
    usage: "ephemery dashboard --host NAME [--prometheus] [--local-port N] [--stack NAME] [SSH options]",
    options: { stack: { type: "string" }, file: { type: "string" }, ...SSH_OPTIONS, host: { type: "string" }, prometheus: { type: "boolean" }, "local-port": { type: "string" } },
    async run({ values }, io) {
      const { config } = loadConfigOrThrow(values, io);
      const name = stringOpt(values, "host") ?? (config.hosts.length === 1 ? config.hosts[0].name : undefined);
      if (!name) throw new UsageError(`name the host with --host; hosts are ${config.hosts.map((h) => h.name).join(", ")}`);
      const host = config.hosts.find((h) => h.name === name);
      if (!host) throw new UsageError(`no host named "${name}"; hosts are ${config.hosts.map((h) => h.name).join(", ")}`);
      if (!host.monitoring.enabled) throw new Error(`monitoring is off on host ${name}: set hosts[].monitoring.enabled: true and run pulumi up`);
      const localPort = intOpt(values, "local-port") ?? 0;
      if (localPort < 0 || localPort > 65535) throw new UsageError(`--local-port must be 0-65535, got ${localPort}`);
      if (!values.prometheus && !host.monitoring.grafana) throw new UsageError(`Grafana is off on host ${name} (hosts[].monitoring.grafana: false): use --prometheus, or turn Grafana on and run pulumi up`);
      const what = values.prometheus ? "Prometheus" : "Grafana";
      const remotePort = values.prometheus ? host.monitoring.prometheusPort : host.monitoring.grafanaPort;

      const addresses = ["aws", "hcloud"].includes(resolveHostKind(host)) ? await stackAddresses(stringOpt(values, "stack"), io.cwd) : {};
      const target = targetOf(host, addresses);
      if (target.kind === "ssh" && !target.address) throw new Error(`no address known for host ${name}: run pulumi up, or check that \`pulumi stack output hosts\` works here`);
      const session = await withProgress(io, `connecting to ${name}`, () => openSession(target, sshAuthOf(values)));
      let tunnel;
      try {
        tunnel = await openTunnel(session, remotePort, localPort, (e) => io.err(`ephemery dashboard: ${e.message} (is ${what} running on ${name}? check: ephemery status --host ${name})\n`));
      } catch (e) {
        session.close();
        throw e;
      }
      const colour = useColour(io);
      if (session.hostKeyNote) io.err(`warning: ${session.hostKeyNote}\n`);
      io.out(`${what} of ${name}: ${paint(tunnel.url, "ok", colour)}\n`);
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
