import { z } from "zod";

const port = z.number().int().min(1).max(65535);

/** `hosts[].monitoring`: Prometheus, Alertmanager, Grafana and exporters beside the node. */
export const monitoringSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Run the monitoring stack on this host."),
    retentionDays: z.number().int().min(1).default(15).describe("Prometheus retention time in days."),
    retentionSizeGiB: z.number().int().min(1).default(10).describe("Prometheus disk budget in GiB."),
    prometheusPort: port.default(9090).describe("Prometheus port on the host's loopback."),
    alertmanagerPort: port.default(9093).describe("Alertmanager port on the host's loopback."),
    grafanaPort: port.default(3000).describe("Grafana port on the host's loopback."),
    nodeExporterPort: port.default(9100).describe("node-exporter port on the host's loopback."),
    exposePublicly: z.boolean().default(false)
      .describe("Bind the monitoring ports on all addresses instead of loopback (not recommended)."),
  })
  .prefault({});

export type MonitoringConfig = z.output<typeof monitoringSchema>;
