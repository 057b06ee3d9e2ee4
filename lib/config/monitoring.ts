import { z } from "zod";
import { SECRET_PLACEHOLDER } from "./stackFile";
import { charsetProblem, RECEIVER_URL_RULE } from "./charsets";
import { imageRefSchema } from "./images";

const port = z.number().int().min(1).max(65535);
const secretName = z.string().regex(/^[A-Za-z0-9_.-]+$/, "must name an entry of ephemery:alertmanagerSecrets (letters, digits, _ . -)");
const receiverName = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "must start with a letter and use only a-z, 0-9 and -");
const email = z.string().regex(/^[^\s@]+@[^\s@]+$/, "must be an e-mail address");

/** Thresholds of the generated alert rules; every default is what the README's alert table shows. */
export const alertThresholdsSchema = z
  .strictObject({
    executionHeadStallMinutes: z.number().int().min(1).default(5)
      .describe("Alert when the execution head has not advanced for this many minutes."),
    syncDistanceSlots: z.number().int().min(1).default(16)
      .describe("Alert when the beacon node is more than this many slots behind the wall clock."),
    executionMinPeers: z.number().int().min(0).default(5).describe("Alert when the execution client has fewer peers."),
    consensusMinPeers: z.number().int().min(0).default(10).describe("Alert when the beacon node has fewer peers."),
    finalityStallEpochs: z.number().int().min(2).default(4)
      .describe("Alert when the finalized epoch has not advanced for this many epochs (6.4 minutes each)."),
    missedAttestationRatio: z.number().min(0).max(1).default(0.1)
      .describe("Alert when more than this share of the node's attestations in the last hour missed."),
    diskFreeWarningGiB: z.number().min(1).optional()
      .describe("Warn when the Docker data filesystem has less free space (default: 25% of the node's clients' disk need)."),
    diskFreeCriticalGiB: z.number().min(1).optional()
      .describe("Page when the Docker data filesystem has less free space (default: 10% of the clients' disk need)."),
    memoryAvailableMinPercent: z.number().min(1).max(99).default(10)
      .describe("Alert when less than this share of memory stays available for 10 minutes."),
    clientTargetDownMinutes: z.number().int().min(1).default(5)
      .describe("Alert when Prometheus could not scrape a client (execution, consensus, validator) for this many minutes."),
    containerRestarts: z.number().int().min(1).default(3)
      .describe("Alert when a container restarted this many times within 15 minutes."),
    resetGraceMinutes: z.number().int().min(1).default(60)
      .describe("The reset counts as overdue when the iteration has not increased this long after the reset time."),
    releaseStagedMinutes: z.number().int().min(1).default(60)
      .describe("Alert when the next release is not staged this long before the reset."),
    resetWindowBeforeMinutes: z.number().int().min(0).default(10)
      .describe("Sync and peer alerts are held back from this long before the reset ..."),
    resetWindowAfterMinutes: z.number().int().min(1).default(60)
      .describe("... until this long after it (the new chain starts 10 minutes after the reset)."),
  })
  .prefault({});

const receiverBase = { name: receiverName.describe("Receiver name; routes refer to it.") };

/** One Alertmanager receiver. Secret parts (URLs, tokens, passwords) are named entries of ephemery:alertmanagerSecrets. */
export const receiverSchema = z.discriminatedUnion("type", [
  z.strictObject({ ...receiverBase, type: z.literal("webhook"), urlSecret: secretName.describe("Secret holding the webhook URL.") }),
  z.strictObject({
    ...receiverBase,
    type: z.literal("slack"),
    webhookUrlSecret: secretName.describe("Secret holding the Slack incoming-webhook URL."),
    channel: z.string().min(1).optional().describe("Channel override, e.g. #ephemery."),
  }),
  z.strictObject({ ...receiverBase, type: z.literal("discord"), webhookUrlSecret: secretName.describe("Secret holding the Discord webhook URL.") }),
  z.strictObject({
    ...receiverBase,
    type: z.literal("telegram"),
    botTokenSecret: secretName.describe("Secret holding the Telegram bot token."),
    chatId: z.number().int().describe("Telegram chat id to post to."),
  }),
  z.strictObject({
    ...receiverBase,
    type: z.literal("email"),
    to: email.describe("Recipient address."),
    from: email.describe("Sender address."),
    smarthost: z.string().regex(/^[^\s:]+:\d+$/, "must be host:port, e.g. smtp.example.org:587").describe("SMTP server host:port."),
    authUsername: z.string().min(1).optional().describe("SMTP user name."),
    authPasswordSecret: secretName.optional().describe("Secret holding the SMTP password."),
    requireTls: z.boolean().default(true).describe("Require STARTTLS."),
  }),
]);

/** Where alerts go and how Alertmanager groups them: a node's monitoring and the fleet monitor alike. */
export const alertRoutingFields = {
  receivers: z.array(receiverSchema).default([])
    .describe("Where alerts go; none means alerts are only shown in Alertmanager's UI."),
  groupBy: z.array(z.string().min(1)).default(["alertname", "node"]).describe("Labels Alertmanager groups alerts by."),
  groupWaitSec: z.number().int().min(0).default(30).describe("Wait before the first notification of a group."),
  groupIntervalMinutes: z.number().int().min(1).default(5).describe("Wait before notifying about new alerts of a group."),
  repeatIntervalHours: z.number().int().min(1).default(4).describe("Resend a still-firing alert after this long."),
};

/** Receiver names are unique within one Alertmanager. */
export function receiverProblems(receivers: ReceiverConfig[]): { path: (string | number)[]; message: string }[] {
  const seen = new Set<string>();
  const out: { path: (string | number)[]; message: string }[] = [];
  receivers.forEach((r, i) => {
    if (seen.has(r.name)) out.push({ path: ["receivers", i, "name"], message: `"${r.name}" is used by another receiver; receiver names must be unique` });
    seen.add(r.name);
    if (r.type === "email" && r.authPasswordSecret && !r.authUsername) {
      out.push({ path: ["receivers", i, "authUsername"], message: "authPasswordSecret needs authUsername too" });
    }
  });
  return out;
}

/** Per-container image overrides, e.g. a registry mirror or images built in-house. */
const monitoringImagesSchema = z
  .strictObject({
    prometheus: imageRefSchema.optional().describe("Prometheus image."),
    alertmanager: imageRefSchema.optional().describe("Alertmanager image."),
    grafana: imageRefSchema.optional().describe("Grafana image."),
    nodeExporter: imageRefSchema.optional().describe("node-exporter image."),
    validatorExporter: imageRefSchema.optional().describe("Node.js image that runs the validator-performance exporter."),
  })
  .prefault({});

/** `hosts[].monitoring`: Prometheus, Alertmanager, Grafana and exporters beside the node. */
export const monitoringSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Run the monitoring stack on this host."),
    grafana: z.boolean().default(true)
      .describe("Run Grafana with the node's dashboards (off: Prometheus, Alertmanager and the exporters still run)."),
    images: monitoringImagesSchema.describe("Images of the stack's containers (default: the pinned images of lib/config/images.ts)."),
    retentionDays: z.number().int().min(1).default(15).describe("Prometheus retention time in days."),
    retentionSizeGiB: z.number().int().min(1).default(10).describe("Prometheus disk budget in GiB."),
    scrapeIntervalSec: z.number().int().min(5).max(300).default(15).describe("How often Prometheus scrapes every target."),
    prometheusPort: port.default(9090).describe("Prometheus port on the host's loopback."),
    alertmanagerPort: port.default(9093).describe("Alertmanager port on the host's loopback."),
    grafanaPort: port.default(3000).describe("Grafana port on the host's loopback."),
    nodeExporterPort: port.default(9100).describe("node-exporter port on the host's loopback."),
    validatorExporterPort: port.default(9106).describe("Validator-performance exporter port on the host's loopback."),
    exposePublicly: z.boolean().default(false)
      .describe("Bind the monitoring ports on all addresses instead of loopback (not recommended)."),
    grafanaAdminUser: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a simple lower-case user name").default("admin")
      .describe("Grafana admin user; its password is ephemery:grafanaAdminPassword or generated."),
    alerts: alertThresholdsSchema.describe("Alert thresholds."),
    ...alertRoutingFields,
  })
  .prefault({})
  .superRefine((m, ctx) => {
    for (const p of receiverProblems(m.receivers)) ctx.addIssue({ code: "custom", ...p });
    const a = m.alerts;
    if (a.diskFreeWarningGiB !== undefined && a.diskFreeCriticalGiB !== undefined && a.diskFreeCriticalGiB >= a.diskFreeWarningGiB) {
      ctx.addIssue({ code: "custom", path: ["alerts", "diskFreeCriticalGiB"], message: `must be below diskFreeWarningGiB (${a.diskFreeWarningGiB}), got ${a.diskFreeCriticalGiB}` });
    }
    const ports = [m.prometheusPort, m.alertmanagerPort, m.grafanaPort, m.nodeExporterPort, m.validatorExporterPort];
    if (new Set(ports).size !== ports.length) {
      ctx.addIssue({ code: "custom", path: ["prometheusPort"], message: `monitoring ports collide (${ports.join(", ")}); give each its own` });
    }
  });

export type MonitoringConfig = z.output<typeof monitoringSchema>;
export type AlertThresholds = z.output<typeof alertThresholdsSchema>;
export type ReceiverConfig = z.output<typeof receiverSchema>;

/** The secret names a host's receivers refer to. */
export function receiverSecretNames(m: Pick<MonitoringConfig, "receivers">): string[] {
  const out: string[] = [];
  for (const r of m.receivers) {
    if (r.type === "webhook") out.push(r.urlSecret);
    else if (r.type === "slack" || r.type === "discord") out.push(r.webhookUrlSecret);
    else if (r.type === "telegram") out.push(r.botTokenSecret);
    else if (r.authPasswordSecret) out.push(r.authPasswordSecret);
  }
  return out;
}

/** Receiver secrets that hold a URL (webhook, Slack, Discord): checked like every other URL, never echoed. */
export function receiverUrlProblems(m: Pick<MonitoringConfig, "receivers">, secrets: Record<string, string> | undefined, at: string): { path: string; message: string }[] {
  return m.receivers.flatMap((r, i) => {
    const field = r.type === "webhook" ? "urlSecret" : r.type === "slack" || r.type === "discord" ? "webhookUrlSecret" : undefined;
    const name = field ? (r as Record<string, string>)[field] : undefined;
    const value = name === undefined ? undefined : secrets?.[name];
    // Offline (config check, monitoring render) a secret is only known to exist: its value is checked at `pulumi up`.
    if (field === undefined || value === undefined || value === SECRET_PLACEHOLDER) return [];
    const problem = charsetProblem(value, RECEIVER_URL_RULE, `the secret ephemery:alertmanagerSecrets.${name} (value not shown)`);
    return problem ? [{ path: `${at}.receivers[${i}].${field}`, message: problem }] : [];
  });
}

/** Receivers naming a secret that ephemery:alertmanagerSecrets does not hold; `at` is the host's config path. */
export function missingReceiverSecrets(m: Pick<MonitoringConfig, "receivers">, secrets: Record<string, string> | undefined, at: string): { path: string; message: string }[] {
  return m.receivers.flatMap((r, i) =>
    receiverSecretNames({ ...m, receivers: [r] })
      .filter((name) => secrets?.[name] === undefined)
      .map((name) => ({
        path: `${at}.receivers[${i}]`,
        message: `refers to secret "${name}", which ephemery:alertmanagerSecrets does not hold; run: pulumi config set --secret --path 'ephemery:alertmanagerSecrets.${name}' <value>`,
      })),
  );
}
