/**
 * alertmanager.yml: receivers from `monitoring.receivers`, grouping from config, and the inhibition that holds
 * back sync and peer alerts during an Ephemery reset window. Secret values arrive through `secretValue`, so the
 * program passes the real ones (inside a Pulumi secret) and the offline renderer passes placeholders.
 */
import * as yaml from "js-yaml";
import { MonitoringConfig, ReceiverConfig } from "../config/monitoring";
import { RESET_WINDOW_ALERT, SILENCE_LABEL } from "./rules";

export const NULL_RECEIVER = "null";

/** Looks up an entry of ephemery:alertmanagerSecrets; throws a clear error when it is missing. */
export type SecretLookup = (name: string) => string;

export function secretLookup(secrets: Record<string, string> | undefined): SecretLookup {
  return (name) => {
    const v = secrets?.[name];
    if (v === undefined) throw new Error(`ephemery:alertmanagerSecrets has no entry "${name}"; run: pulumi config set --secret --path 'ephemery:alertmanagerSecrets.${name}' <value>`);
    return v;
  };
}

/** For offline rendering: a syntactically valid stand-in that names the secret instead of holding it. */
export const placeholderSecrets: SecretLookup = (name) => `https://redacted.invalid/alertmanagerSecrets/${encodeURIComponent(name)}`;

function receiverConfig(r: ReceiverConfig, secret: SecretLookup): Record<string, unknown> {
  switch (r.type) {
    case "webhook":
      return { name: r.name, webhook_configs: [{ url: secret(r.urlSecret), send_resolved: true }] };
    case "slack":
      return { name: r.name, slack_configs: [{ api_url: secret(r.webhookUrlSecret), send_resolved: true, ...(r.channel ? { channel: r.channel } : {}), title: "{{ .CommonAnnotations.summary }}", text: "{{ range .Alerts }}{{ .Annotations.description }}\n{{ end }}" }] };
    case "discord":
      return { name: r.name, discord_configs: [{ webhook_url: secret(r.webhookUrlSecret), send_resolved: true }] };
    case "telegram":
      return { name: r.name, telegram_configs: [{ bot_token: secret(r.botTokenSecret), chat_id: r.chatId, send_resolved: true }] };
    case "email":
      return {
        name: r.name,
        email_configs: [{
          to: r.to,
          from: r.from,
          smarthost: r.smarthost,
          require_tls: r.requireTls,
          send_resolved: true,
          ...(r.authUsername ? { auth_username: r.authUsername } : {}),
          ...(r.authPasswordSecret ? { auth_password: secret(r.authPasswordSecret) } : {}),
        }],
      };
  }
}

/** The routing settings alertmanager.yml is made of (a node's `monitoring`, or `ephemery:fleet`). */
export type AlertRouting = Pick<MonitoringConfig, "receivers" | "groupBy" | "groupWaitSec" | "groupIntervalMinutes" | "repeatIntervalHours">;

export function renderAlertmanagerConfig(m: AlertRouting, secret: SecretLookup, node: string): string {
  const doc = {
    route: {
      receiver: NULL_RECEIVER,
      group_by: m.groupBy,
      group_wait: `${m.groupWaitSec}s`,
      group_interval: `${m.groupIntervalMinutes}m`,
      repeat_interval: `${m.repeatIntervalHours}h`,
      routes: [
        // The reset window only exists to inhibit; it never notifies anyone.
        { receiver: NULL_RECEIVER, matchers: [`alertname="${RESET_WINDOW_ALERT}"`] },
        ...m.receivers.map((r) => ({ receiver: r.name, continue: true })),
      ],
    },
    inhibit_rules: [
      { source_matchers: [`alertname="${RESET_WINDOW_ALERT}"`], target_matchers: [`${SILENCE_LABEL}="true"`], equal: ["node"] },
      { source_matchers: ['alertname="DiskFreeCritical"'], target_matchers: ['alertname="DiskFreeLow"'], equal: ["node"] },
      // A client that is down explains its stalled head and missing peers.
      { source_matchers: ['alertname="ClientTargetDown"', 'job="execution"'], target_matchers: ['alertname=~"ExecutionHeadStalled|ExecutionPeersLow"'], equal: ["node"] },
      { source_matchers: ['alertname="ClientTargetDown"', 'job="consensus"'], target_matchers: ['alertname=~"ConsensusPeersLow|FinalityStalled"'], equal: ["node"] },
    ],
    receivers: [{ name: NULL_RECEIVER }, ...m.receivers.map((r) => receiverConfig(r, secret))],
  };
  return `# Written by pulumi-ephemery for node ${node}; holds receiver secrets, keep it 0600.\n${yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false })}`;
}
