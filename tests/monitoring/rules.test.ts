/**
 * `promtool test rules` unit tests for every generated alert, over several client mixes: each alert fires on
 * series that should trip it and stays quiet on series that should not. The series are built from the same
 * per-client table the rules use, so a rule that reads the wrong metric for a client fails here.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { validatorClientOf } from "../../lib/clients";
import { HostConfig } from "../../lib/config/schema";
import { CONSENSUS_METRICS, EXECUTION_METRICS, select, VALIDATOR_METRICS } from "../../lib/monitoring/clientMetrics";
import { AlertRule, buildRuleGroups, diskThresholdsGiB, renderRuleFile } from "../../lib/monitoring/rules";
import { hostFor, MIXES, tmpDir } from "./support";

const GiB = 1024 ** 3;

interface Series { series: string; values: string }
interface Case {
  alert: string;
  name: string;
  series: Series[];
  /** Minutes after the first sample. */
  at: number;
  /** Labels the alert carries besides alertname and the rule's own labels; undefined = must stay quiet. */
  fires?: Record<string, string>;
  /** Other alerts the same series rightly trip, with their labels (they share the test group). */
  also?: { alert: string; labels: Record<string, string> }[];
}

/** `metric{a="b"}` -> the series with the node label added, and its labels. */
function seriesOf(selector: string, extra: Record<string, string> = {}): { series: string; labels: Record<string, string> } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/.exec(selector);
  if (!m) throw new Error(`not a plain selector: ${selector}`);
  const labels: Record<string, string> = {};
  for (const part of (m[2] ?? "").split(",").filter(Boolean)) {
    const lm = /^(\w+)="(.*)"$/.exec(part);
    if (!lm) throw new Error(`only equality matchers can become series: ${selector}`);
    labels[lm[1]] = lm[2];
  }
  Object.assign(labels, { node: "n1" }, extra);
  return { series: `${m[1]}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`, labels };
}

function casesFor(host: HostConfig): Case[] {
  const a = host.monitoring.alerts;
  const el = EXECUTION_METRICS[host.execution.client];
  const cl = CONSENSUS_METRICS[host.consensus.client];
  const disk = diskThresholdsGiB(host);
  const cases: Case[] = [];
  const pair = (alert: string, selector: string, fire: string, quiet: string, at: number, extra: Record<string, string> = {}) => {
    const s = seriesOf(selector, extra);
    cases.push({ alert, name: "fires", series: [{ series: s.series, values: fire }], at, fires: s.labels });
    cases.push({ alert, name: "quiet", series: [{ series: s.series, values: quiet }], at });
  };
  pair("ExecutionHeadStalled", select(el.head, "execution"), "100x20", "100+1x20", 10);
  pair("ExecutionNotSynced", 'ephemery_execution_syncing{job="exporter"}', "1x40", "0x40", 35);
  pair("ConsensusSyncDistanceHigh", select(cl.syncDistance, "consensus"), `${a.syncDistanceSlots + 5}x20`, `${a.syncDistanceSlots}x20`, 15);
  pair("ExecutionPeersLow", select(el.peers, "execution"), `${a.executionMinPeers - 1}x20`, `${a.executionMinPeers}x20`, 15);
  pair("ConsensusPeersLow", select(cl.peers, "consensus"), `${a.consensusMinPeers - 1}x20`, `${a.consensusMinPeers}x20`, 15);
  pair("FinalityStalled", select(cl.finalizedEpoch, "consensus"), "8x60", "8+1x60", 40);

  const vc = validatorClientOf(host);
  if (vc) {
    const reach = VALIDATOR_METRICS[vc].beaconReachable;
    pair("ValidatorBeaconNodeUnreachable", select(reach, "validator"), "0x10", "1x10", 5);
    const duties = seriesOf('ephemery_validator_attestation_duties_total{job="exporter",validator="11"}');
    const missed = seriesOf('ephemery_validator_attestations_missed_total{job="exporter",validator="11"}');
    cases.push({ alert: "AttestationsMissed", name: "fires", at: 90, fires: { node: "n1" }, series: [{ series: duties.series, values: "0+1x120" }, { series: missed.series, values: "0+0.5x120" }] });
    cases.push({ alert: "AttestationsMissed", name: "quiet", at: 90, series: [{ series: duties.series, values: "0+1x120" }, { series: missed.series, values: `0+${a.missedAttestationRatio / 2}x120` }] });
    pair("ProposalMissed", 'ephemery_validator_proposals_total{job="exporter",result="missed",validator="12"}', "0 0 0 1 1 1 1 1 1 1", "0x10", 8);
  }

  const root = 'node_filesystem_avail_bytes{job="node",mountpoint="/"}';
  const docker = 'node_filesystem_avail_bytes{job="node",mountpoint="/var/lib/docker"}';
  pair("DiskFreeLow", root, `${(disk.warning - 1) * GiB}x30`, `${(disk.warning + 1) * GiB}x30`, 20);
  // A small root filesystem does not count when Docker's data has its own, roomy filesystem.
  cases.push({ alert: "DiskFreeLow", name: "own docker filesystem", at: 20, series: [{ series: seriesOf(root).series, values: `${GiB}x30` }, { series: seriesOf(docker).series, values: `${(disk.warning + 1) * GiB}x30` }] });
  cases.push({ alert: "DiskFreeCritical", name: "own docker filesystem fires", at: 20, fires: seriesOf(docker).labels, series: [{ series: seriesOf(root).series, values: `${1000 * GiB}x30` }, { series: seriesOf(docker).series, values: `${(disk.critical - 1) * GiB}x30` }] });
  pair("DiskFreeCritical", root, `${(disk.critical - 1) * GiB}x30`, `${(disk.critical + 1) * GiB}x30`, 20);
  // Every DiskFreeCritical case sits below the warning level, so DiskFreeLow fires beside it.
  for (const c of cases) if (c.alert === "DiskFreeCritical") c.also = [{ alert: "DiskFreeLow", labels: c.fires ?? seriesOf(root).labels }];
  const avail = seriesOf('node_memory_MemAvailable_bytes{job="node"}');
  const total = seriesOf('node_memory_MemTotal_bytes{job="node"}');
  cases.push({ alert: "MemoryPressure", name: "fires", at: 15, fires: avail.labels, series: [{ series: avail.series, values: `${a.memoryAvailableMinPercent - 1}x20` }, { series: total.series, values: "100x20" }] });
  cases.push({ alert: "MemoryPressure", name: "quiet", at: 15, series: [{ series: avail.series, values: `${a.memoryAvailableMinPercent + 1}x20` }, { series: total.series, values: "100x20" }] });
  pair("ContainerRestarting", 'ephemery_container_restarts_total{job="node",container="n1-execution"}', "0 1 2 3 4 4 4 4", "0 0 1 1 1 1 1 1", 6);
  pair("ClientTargetDown", 'up{job="consensus"}', "0x10", "1x10", 7);
  pair("MonitoringTargetDown", 'up{job="exporter"}', "0x10", "1x10", 7);
  // A client target down is not a monitoring target down, and the other way round.
  const clientUp = seriesOf('up{job="execution"}');
  cases.push({ alert: "MonitoringTargetDown", name: "client down is not monitoring", at: 7, series: [{ series: clientUp.series, values: "0x10" }], also: [{ alert: "ClientTargetDown", labels: clientUp.labels }] });

  // promtool evaluates from unix time 0: reset times are given relative to it.
  const next = seriesOf('ephemery_next_reset_timestamp_seconds{job="node"}');
  const last = seriesOf('ephemery_last_reset_timestamp_seconds{job="node"}');
  const staged = seriesOf('ephemery_release_staged{job="node"}');
  const window = (name: string, nextAt: number, lastAt: number, fires: boolean): Case => ({
    alert: "EphemeryResetWindow", name, at: 10, fires: fires ? next.labels : undefined,
    series: [{ series: next.series, values: `${nextAt}x15` }, { series: last.series, values: `${lastAt}x15` }],
  });
  cases.push(window("before the reset", 600 + a.resetWindowBeforeMinutes * 60 - 60, -1e7, true));
  cases.push(window("after the reset", 1e7, 600 - (a.resetWindowAfterMinutes * 60 - 60), true));
  cases.push(window("far from a reset", 1e7, -1e7, false));
  cases.push(window("just outside the window before", 600 + a.resetWindowBeforeMinutes * 60 + 60, 600 - a.resetWindowAfterMinutes * 60 - 60, false));
  // Overdue when the installed iteration's end plus the grace lies before t = 600 s.
  const grace = a.resetGraceMinutes * 60;
  // The quiet one lies inside the reset window's grace, so EphemeryResetWindow rightly fires for it.
  const overdue = seriesOf('ephemery_next_reset_timestamp_seconds{job="node"}');
  const inWindow = [{ alert: "EphemeryResetWindow", labels: overdue.labels }];
  cases.push({ alert: "EphemeryResetOverdue", name: "fires", at: 10, fires: overdue.labels, series: [{ series: overdue.series, values: `${600 - grace - 60}x15` }] });
  cases.push({ alert: "EphemeryResetOverdue", name: "quiet", at: 10, also: inWindow, series: [{ series: overdue.series, values: `${600 - grace + 60}x15` }] });
  pair("EphemeryResetFailed", 'ephemery_reset_failures_total{job="node"}', "0 0 1 1 1 1", "0 0 0 0 0 0", 5);
  cases.push({ alert: "EphemeryReleaseNotStaged", name: "fires", at: 10, fires: staged.labels, series: [{ series: staged.series, values: "0x15" }, { series: next.series, values: `${600 + a.releaseStagedMinutes * 60 - 60}x15` }] });
  cases.push({ alert: "EphemeryReleaseNotStaged", name: "staged", at: 10, series: [{ series: staged.series, values: "1x15" }, { series: next.series, values: `${600 + a.releaseStagedMinutes * 60 - 60}x15` }] });
  cases.push({ alert: "EphemeryReleaseNotStaged", name: "reset far away", at: 10, series: [{ series: staged.series, values: "0x15" }, { series: next.series, values: "1e7x15" }] });
  pair("EphemeryForkUnsupported", 'ephemery_release_fork_unsupported{job="node"}', "1x15", "0x15", 10, { iteration: "161", fork: "gloas", epoch: "2048", role: "execution", client: "geth", version: "v1.16.7" });
  pair("EphemeryScheduleMismatch", 'ephemery_release_schedule_mismatch{job="node"}', "1x15", "0x15", 10, { iteration: "161" });
  cases.push({ alert: "EphemeryResetMetricsMissing", name: "fires", at: 40, fires: { job: "node" }, series: [{ series: seriesOf('up{job="node"}').series, values: "1x50" }] });
  cases.push({ alert: "EphemeryResetMetricsMissing", name: "quiet", at: 40, series: [{ series: seriesOf('ephemery_iteration{job="node"}').series, values: "150x50" }] });
  return cases;
}

/**
 * One promtool test group holds every case (each under its own node label, so cases cannot see each other) with
 * one check per alert; `absent()` looks across all series, so its cases get groups of their own.
 */
function promtoolTest(rules: AlertRule[], cases: Case[], ruleFiles: string[], dir: string): { ok: boolean; output: string } {
  const byName = new Map(rules.map((r) => [r.alert, r]));
  const isolated = (c: Case) => c.alert === "EphemeryResetMetricsMissing";
  const group = (name: string, members: Case[]) => {
    const relabeled = members.map((c, i) => ({
      ...c,
      series: c.series.map((s) => ({ ...s, series: s.series.replace('node="n1"', `node="case${i}"`) })),
      fires: c.fires && (c.fires.node ? { ...c.fires, node: `case${i}` } : c.fires),
      also: c.also?.map((x) => ({ ...x, labels: { ...x.labels, node: `case${i}` } })),
    }));
    const expect = (alert: string, labels: Record<string, string>) => {
      const rule = byName.get(alert)!;
      const ruleLabels = { severity: rule.severity, ...(rule.silenceDuringReset ? { silence_during_reset: "true" } : {}) };
      return { exp_labels: { ...labels, ...ruleLabels }, exp_annotations: { summary: `[n1] ${rule.summary}`, description: rule.description } };
    };
    const checks = new Map<string, { at: number; alerts: unknown[] }>();
    for (const c of relabeled) {
      const check = checks.get(c.alert) ?? { at: c.at, alerts: [] };
      if (check.at !== c.at) throw new Error(`cases of ${c.alert} must share one evaluation time`);
      if (c.fires) check.alerts.push(expect(c.alert, c.fires));
      checks.set(c.alert, check);
    }
    for (const c of relabeled) for (const x of c.also ?? []) checks.get(x.alert)?.alerts.push(expect(x.alert, x.labels));
    return {
      interval: "1m",
      name,
      input_series: relabeled.flatMap((c) => c.series),
      alert_rule_test: [...checks].map(([alertname, c]) => ({ eval_time: `${c.at}m`, alertname, exp_alerts: c.alerts })),
    };
  };
  const tests = [group("all alerts", cases.filter((c) => !isolated(c))), ...cases.filter(isolated).map((c) => group(`${c.alert}: ${c.name}`, [c]))];
  const file = path.join(dir, "tests.yml");
  fs.writeFileSync(file, yaml.dump({ rule_files: ruleFiles, evaluation_interval: "1m", tests }, { lineWidth: -1 }));
  try {
    return { ok: true, output: execFileSync("promtool", ["test", "rules", file], { encoding: "utf8", stdio: "pipe" }) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

describe.each(MIXES)("alert rules for %s + %s + %s", (el, cl, vc) => {
  const host = hostFor(el, cl, vc);
  const groups = buildRuleGroups(host);
  const rules = groups.flatMap((g) => g.rules);
  const cases = casesFor(host);
  let dir: string;
  let ruleFiles: string[];

  beforeAll(() => {
    dir = tmpDir("rules");
    ruleFiles = groups.map((g) => {
      const f = path.join(dir, `${g.name}.yml`);
      fs.writeFileSync(f, renderRuleFile(g, "n1"));
      return f;
    });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("has a firing and a quiet case for every alert", () => {
    for (const r of rules) {
      const mine = cases.filter((c) => c.alert === r.alert);
      expect({ alert: r.alert, fires: mine.some((c) => c.fires), quiet: mine.some((c) => !c.fires) }).toEqual({ alert: r.alert, fires: true, quiet: true });
    }
    expect(new Set(cases.map((c) => c.alert))).toEqual(new Set(rules.map((r) => r.alert)));
  });

  it("passes promtool test rules", () => {
    const result = promtoolTest(rules, cases, ruleFiles, dir);
    if (!result.ok) throw new Error(result.output);
    expect(result.output).toContain("SUCCESS");
  });
});

describe("promtool test rules can fail", () => {
  it("reports a case whose expectation is wrong (so the passing runs above mean something)", () => {
    const host = hostFor("geth", "lighthouse", null);
    const groups = buildRuleGroups(host);
    const dir = tmpDir("rules-neg");
    try {
      const files = groups.map((g) => { const f = path.join(dir, `${g.name}.yml`); fs.writeFileSync(f, renderRuleFile(g, "n1")); return f; });
      const quiet = casesFor(host).filter((c) => c.alert === "ExecutionPeersLow" && !c.fires);
      // Claim the quiet series fires.
      const wrong = quiet.map((c) => ({ ...c, fires: seriesOf(select(EXECUTION_METRICS.geth.peers, "execution")).labels }));
      const result = promtoolTest(groups.flatMap((g) => g.rules), wrong, files, dir);
      expect(result.ok).toBe(false);
      expect(result.output).toContain("ExecutionPeersLow");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("uses configured thresholds", () => {
    const host = hostFor("geth", "lighthouse", null, { alerts: { executionMinPeers: 25, diskFreeWarningGiB: 300, diskFreeCriticalGiB: 100 } });
    const rules = buildRuleGroups(host).flatMap((g) => g.rules);
    expect(rules.find((r) => r.alert === "ExecutionPeersLow")!.expr).toBe('p2p_peers{job="execution"} < 25');
    expect(rules.find((r) => r.alert === "DiskFreeCritical")!.expr).toMatch(/< 100 \* 1024\^3$/);
    expect(diskThresholdsGiB(hostFor("geth", "lighthouse", null))).toEqual({ warning: 25, critical: 10 });
  });
});
