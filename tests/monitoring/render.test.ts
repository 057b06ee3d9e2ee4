/**
 * The rendered files of several client mixes, checked by the real tools (promtool check config / check rules,
 * amtool check-config), every dashboard query parsed by Prometheus' own parser, and every metric a rule or panel
 * reads traced to a target of that node.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { buildNodeSpecs, validatorClientOf } from "../../lib/clients";
import { HostConfig } from "../../lib/config/schema";
import { placeholderSecrets, renderMonitoring, secretLookup } from "../../lib/monitoring";
import { CONSENSUS_METRICS, EXECUTION_METRICS, VALIDATOR_METRICS } from "../../lib/monitoring/clientMetrics";
import { allQueries, buildDashboards } from "../../lib/monitoring/dashboards";
import { CONTAINER_METRICS, EXPORTER_METRICS, NODE_EXPORTER_METRICS, RELEASE_METRICS, RESET_METRICS } from "../../lib/monitoring/exporterMetrics";
import { buildRuleGroups } from "../../lib/monitoring/rules";
import { hostFor, MIXES, tmpDir } from "./support";

const ALL_RECEIVERS = [
  { name: "hook", type: "webhook", urlSecret: "hookUrl" },
  { name: "slack", type: "slack", webhookUrlSecret: "slackUrl", channel: "#ephemery" },
  { name: "discord", type: "discord", webhookUrlSecret: "discordUrl" },
  { name: "telegram", type: "telegram", botTokenSecret: "tgToken", chatId: -100123 },
  { name: "mail", type: "email", to: "ops@example.org", from: "node@example.org", smarthost: "smtp.example.org:587", authUsername: "node", authPasswordSecret: "smtpPassword" },
];

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

function writeAll(dir: string, host: HostConfig): ReturnType<typeof renderMonitoring> {
  const r = renderMonitoring(host, buildNodeSpecs({ node: host.name, host, checkpointSyncUrls: [] }), placeholderSecrets);
  for (const f of [...r.files, r.alertmanager]) {
    const p = path.join(dir, f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, f.content);
  }
  return r;
}

/** Metric names a PromQL expression reads (identifiers that are not functions, keywords, labels or durations). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const keywords = new Set(["and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"]);
  // Whole identifiers only; one followed by "(" is a function. Numbers (1e3) and durations (5m) are skipped with their digits.
  return [...stripped.matchAll(/[0-9.]+(?:e[0-9]+|[smhdwy]+)?|([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => m[1] !== undefined && m[2] === undefined)
    .map((m) => m[1])
    .filter((name, i, all) => !keywords.has(name.toLowerCase()) && all.indexOf(name) === i);
}

/** Everything the node's own targets export that rules and dashboards may read. */
function exportedBy(host: HostConfig): Set<string> {
  const vc = validatorClientOf(host);
  const client = [
    ...Object.values(EXECUTION_METRICS[host.execution.client]),
    ...Object.values(CONSENSUS_METRICS[host.consensus.client]),
    ...(vc ? Object.values(VALIDATOR_METRICS[vc]) : []),
  ].flatMap((s) => s.metrics);
  return new Set(["up", ...client, ...Object.values(EXPORTER_METRICS), ...Object.values(RESET_METRICS), ...Object.values(RELEASE_METRICS), ...Object.values(CONTAINER_METRICS), ...NODE_EXPORTER_METRICS]);
}

describe.each(MIXES)("monitoring files for %s + %s + %s", (el, cl, vc) => {
  const host = hostFor(el, cl, vc, { receivers: ALL_RECEIVERS });
  let dir: string;
  let rendered: ReturnType<typeof renderMonitoring>;

  beforeAll(() => {
    dir = tmpDir("render");
    rendered = writeAll(dir, host);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("passes promtool check config (which also loads the rule files) and check rules", () => {
    expect(run("promtool", ["check", "config", path.join(dir, "prometheus.yml")])).toMatch(/SUCCESS: .*prometheus\.yml is valid/);
    const rules = fs.readdirSync(path.join(dir, "rules")).map((f) => path.join(dir, "rules", f));
    const out = run("promtool", ["check", "rules", ...rules]);
    const total = [...out.matchAll(/SUCCESS: (\d+) rules found/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(total).toBe(rendered.alertCount);
  });

  it("passes amtool check-config with every receiver type", () => {
    const out = run("amtool", ["check-config", path.join(dir, "alertmanager.yml")]);
    expect(out).toContain("SUCCESS");
    expect(out).toContain(`${ALL_RECEIVERS.length + 1} receivers`);
  });

  it("scrapes every client and monitoring target by container name on the node network", () => {
    const doc = yaml.load(fs.readFileSync(path.join(dir, "prometheus.yml"), "utf8")) as { scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[] };
    const jobs = Object.fromEntries(doc.scrape_configs.map((s) => [s.job_name, `${s.static_configs[0].targets[0]}${s.metrics_path}`]));
    const specs = buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: [] });
    expect(jobs.execution).toBe(`n1-execution:${specs.execution.metrics!.port}${specs.execution.metrics!.path}`);
    expect(jobs.consensus).toBe(`n1-consensus:${specs.consensus.metrics!.port}/metrics`);
    expect(jobs.validator).toBe(vc ? `n1-validator:${specs.validator!.metrics!.port}/metrics` : undefined);
    expect(jobs).toMatchObject({ node: "n1-node-exporter:9100/metrics", exporter: "n1-exporter:9106/metrics", prometheus: "n1-prometheus:9090/metrics", alertmanager: "n1-alertmanager:9093/metrics" });
  });

  it("parses every dashboard query with Prometheus' own parser", () => {
    const queries = allQueries(buildDashboards(host));
    expect(queries.length).toBeGreaterThan(20);
    const file = path.join(dir, "queries.yml");
    fs.writeFileSync(file, yaml.dump({ groups: [{ name: "dashboard-queries", rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })) }] }, { lineWidth: -1 }));
    expect(run("promtool", ["check", "rules", file])).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it("reads only metrics that this node's targets export", () => {
    const allowed = exportedBy(host);
    const exprs = [
      ...buildRuleGroups(host).flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr }))),
      ...allQueries(buildDashboards(host)).map((q) => ({ where: `${q.dashboard} / ${q.panel}`, expr: q.expr })),
    ];
    const unknown = exprs.flatMap((e) => metricNames(e.expr).filter((n) => !allowed.has(n)).map((n) => `${e.where}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it("writes dashboards as provisionable JSON with a validator dashboard only where a validator runs", () => {
    const files = fs.readdirSync(path.join(dir, "dashboards")).sort();
    expect(files).toEqual(vc ? ["ephemery-n1-host.json", "ephemery-n1-overview.json", "ephemery-n1-validators.json"] : ["ephemery-n1-host.json", "ephemery-n1-overview.json"]);
    for (const f of files) {
      const d = JSON.parse(fs.readFileSync(path.join(dir, "dashboards", f), "utf8"));
      expect(d.uid).toBe(f.replace(/\.json$/, ""));
      for (const p of d.panels) expect(p.datasource.uid).toBe("ephemery-prometheus");
    }
  });
});

describe("metric name extraction", () => {
  it("finds metrics and skips functions, labels, keywords and durations", () => {
    expect(metricNames('sum by (node) (increase(a_total{job="x",b=~"y|z"}[1h])) / on(node) group_left b and c offset 5m > 1e3')).toEqual(["a_total", "b", "c"]);
    expect(metricNames(`(x{mountpoint="/"} or on(node) y) < 25 * 1024^3`)).toEqual(["x", "y"]);
  });
  it("catches a metric no target exports", () => {
    expect(metricNames("nonexistent_metric > 0").filter((n) => !exportedBy(hostFor("geth", "lighthouse", null)).has(n))).toEqual(["nonexistent_metric"]);
    expect(exportedBy(hostFor("geth", "lighthouse", null)).has("ethereum_peer_count")).toBe(false);
  });
});

describe("alertmanager secrets", () => {
  const host = hostFor("geth", "lighthouse", null, { receivers: ALL_RECEIVERS });
  const specs = buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: [] });

  it("renders real values when they are given, and names a missing one with the command that sets it", () => {
    const secrets = { hookUrl: "https://hooks.example.org/abc", slackUrl: "https://hooks.slack.com/services/T/B/X", discordUrl: "https://discord.com/api/webhooks/1/x", tgToken: "123:abc", smtpPassword: "pw" };
    const am = renderMonitoring(host, specs, secretLookup(secrets)).alertmanager.content;
    for (const v of Object.values(secrets)) expect(am).toContain(v);
    expect(() => renderMonitoring(host, specs, secretLookup({ hookUrl: "https://x" }))).toThrow(/alertmanagerSecrets has no entry "slackUrl".*pulumi config set --secret --path 'ephemery:alertmanagerSecrets.slackUrl'/);
  });

  it("keeps placeholders out of every file but alertmanager.yml, and secrets out of all of them offline", () => {
    const r = renderMonitoring(host, specs, placeholderSecrets);
    expect(r.alertmanager.content).toContain("https://redacted.invalid/alertmanagerSecrets/hookUrl");
    for (const f of r.files) expect(f.content).not.toContain("alertmanagerSecrets");
  });
});
