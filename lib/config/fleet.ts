/**
 * `ephemery:fleet`: the optional fleet monitor. Stack-level, because one monitor watches every host of the
 * stack; it runs on one of the stack's hosts, named here.
 */
import { z } from "zod";
import { ADDRESS_RULE, charsetString } from "./charsets";
import { alertRoutingFields, receiverProblems } from "./monitoring";

const port = z.number().int().min(1).max(65535);

export const fleetAlertsSchema = z
  .strictObject({
    silentSec: z.number().int().min(10).max(3000).default(300)
      .describe("FleetNodeSilent: a node that sent series in the last hour has sent none for this many seconds."),
    iterationLagMinutes: z.number().int().min(1).max(1440).default(30)
      .describe("FleetIterationBehind: a node stays on an older iteration than the fleet's newest this long (the reset window)."),
    notSyncedShare: z.number().gt(0).lt(1).default(0.2)
      .describe("FleetNodesNotSynced: more than this share of the nodes report a syncing beacon node ..."),
    notSyncedMinutes: z.number().int().min(1).max(1440).default(15).describe("... for this many minutes."),
  })
  .prefault({});

export const fleetSchema = z
  .strictObject({
    host: z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, "must be the name of a host in ephemery:hosts")
      .describe("The host of ephemery:hosts that runs the fleet monitor, beside its node: it reuses that host's connection, Docker engine, monitoring images and Grafana password, so the fleet needs no machine or credentials of its own (for a dedicated monitor machine, list a small full node for it). Its monitoring must be enabled."),
    address: charsetString(ADDRESS_RULE).optional()
      .describe("Address the nodes dial to reach the fleet monitor, and the name in its TLS certificate (default: the monitor host's address; required unless that host is kind ssh)."),
    port: port.default(9443)
      .describe("Port the fleet monitor receives remote_write on (TLS and basic auth), published on all addresses of the monitor host only, and opened in its cloud firewall; nodes open no new port."),
    alertmanagerPort: port.default(9193).describe("Fleet Alertmanager port on the monitor host's loopback."),
    grafanaPort: port.default(3100).describe("Fleet Grafana port on the monitor host's loopback (when the host's monitoring.grafana is on)."),
    retentionDays: z.number().int().min(1).default(30).describe("Fleet Prometheus retention time in days."),
    retentionSizeGiB: z.number().int().min(1).default(20).describe("Fleet Prometheus disk budget in GiB."),
    evaluationIntervalSec: z.number().int().min(5).max(300).default(15).describe("How often the fleet Prometheus evaluates the fleet rules."),
    remoteWriteDeadlineSec: z.number().int().min(1).max(60).default(5)
      .describe("Longest a node's Prometheus holds samples before sending them to the fleet monitor."),
    alerts: fleetAlertsSchema.describe("Fleet alert thresholds."),
    ...alertRoutingFields,
  })
  .superRefine((f, ctx) => {
    for (const p of receiverProblems(f.receivers)) ctx.addIssue({ code: "custom", ...p });
    const ports = [f.port, f.alertmanagerPort, f.grafanaPort];
    if (new Set(ports).size !== ports.length) ctx.addIssue({ code: "custom", path: ["port"], message: `fleet ports collide (${ports.join(", ")}); give each its own` });
  });

export type FleetConfig = z.output<typeof fleetSchema>;
