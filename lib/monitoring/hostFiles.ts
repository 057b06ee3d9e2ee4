/** Host-side pieces of the monitoring stack: the container-metrics script's values and its cron entry. Pure. */
import { ScriptValues } from "../hostScripts";

export const CONTAINER_METRICS_SCRIPT = "container-metrics.sh";

export function containerMetricsValues(node: string, textfileDir: string): ScriptValues {
  return { NODE: node, TEXTFILE_DIR: textfileDir };
}

export function containerMetricsCronFile(node: string): string {
  return `/etc/cron.d/ephemery-${node}-container-metrics`;
}

export function containerMetricsCron(node: string, scriptPath: string): string {
  return [
    `# Written by pulumi-ephemery: restart counts of node ${node}'s containers for node-exporter.`,
    "SHELL=/bin/bash",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `* * * * * root ${scriptPath} >/dev/null 2>&1`,
    "",
  ].join("\n");
}
