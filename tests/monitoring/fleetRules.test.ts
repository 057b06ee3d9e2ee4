/**
 * The fleet monitor's pure parts: each fleet alert unit-tested with `promtool test rules` (fires on series that
 * should trip it, quiet on series that should not), and the remote_write / web config renderers' refusals.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { allQueries, dashboardJson } from "../../lib/monitoring/dashboards";
import {
  buildFleetDashboard, buildFleetRuleGroup, DEFAULT_FLEET_THRESHOLDS, remoteWriteConfig, renderFleetPrometheusConfig, renderFleetRuleFile, renderFleetWebConfig,
} from "../../lib/monitoring/fleet";
import { EXPORTER_METRICS, RESET_METRICS } from "../../lib/monitoring/exporterMetrics";
import { tmpDir } from "./support";

interface Series { series: string; values: string }
interface Expectation { at: number; alert: string; fires: Record<string, string>[] }

const group = buildFleetRuleGroup();
const ruleOf = (alert: string) => group.rules.find((r) => r.alert === alert)!;

/** One promtool test group per scenario (groups do not share series). */
function promtoolTest(scenarios: { name: string; series: Series[]; expect: Expectation[] }[]): string {
  const dir = tmpDir("fleet-rules-");
  fs.writeFileSync(path.join(dir, "fleet.yml"), renderFleetRuleFile(group));
  const tests = scenarios.map((s) => ({
    name: s.name,
    interval: "1m",
    input_series: s.series,
    alert_rule_test: s.expect.map((e) => ({
      eval_time: `${e.at}m`,
      alertname: e.alert,
      exp_alerts: e.fires.map((labels) => ({
        exp_labels: { ...labels, severity: ruleOf(e.alert).severity, scope: "fleet" },
        exp_annotations: { summary: ruleOf(e.alert).summary, description: ruleOf(e.alert).description },
      })),
    })),
  }));
  fs.writeFileSync(path.join(dir, "test.yml"), yaml.dump({ rule_files: ["fleet.yml"], evaluation_interval: "1m", tests }));
  try {
    return execFileSync("promtool", ["test", "rules", path.join(dir, "test.yml")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`promtool test rules failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const up = (node: string, values: string): Series => ({ series: `up{job="node",node="${node}"}`, values });
const iteration = (node: string, values: string): Series => ({ series: `${RESET_METRICS.iteration}{job="node",node="${node}"}`, values });
const syncing = (node: string, v: 0 | 1): Series => ({ series: `${EXPORTER_METRICS.beaconSyncing}{job="exporter",node="${node}"}`, values: `${v}x40` });

describe("fleet alert rules under promtool", () => {
  test("the rule file passes promtool check rules", () => {
    const dir = tmpDir("fleet-check-");
    fs.writeFileSync(path.join(dir, "fleet.yml"), renderFleetRuleFile(group));
    execFileSync("promtool", ["check", "rules", path.join(dir, "fleet.yml")], { stdio: "pipe" });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("FleetNodeSilent names the node that stopped sending, once its silence passes the threshold", () => {
    const silent = DEFAULT_FLEET_THRESHOLDS.silentSec / 60;
    promtoolTest([{
      name: "one of two nodes goes silent at minute 10",
      series: [up("a", "1x60"), up("b", `1x10 _x50`)],
      expect: [
        { at: 8, alert: "FleetNodeSilent", fires: [] },
        { at: 10 + silent - 1, alert: "FleetNodeSilent", fires: [] },
        { at: 10 + silent + 2, alert: "FleetNodeSilent", fires: [{ node: "b" }] },
      ],
    }]);
  });

  test("FleetIterationBehind names a node left on the old iteration after the reset window, not during it", () => {
    const lag = DEFAULT_FLEET_THRESHOLDS.iterationLagMinutes;
    promtoolTest([
      {
        name: "b never switches",
        series: [iteration("a", "170x5 171x80"), iteration("b", "170x85"), iteration("c", "170x5 171x80")],
        expect: [
          { at: 3, alert: "FleetIterationBehind", fires: [] },
          { at: 5 + lag - 2, alert: "FleetIterationBehind", fires: [] },
          { at: 5 + lag + 2, alert: "FleetIterationBehind", fires: [{ node: "b" }] },
        ],
      },
      {
        name: "b switches twenty minutes late: inside the window",
        series: [iteration("a", "170x5 171x80"), iteration("b", "170x25 171x60")],
        expect: [{ at: 5 + lag + 2, alert: "FleetIterationBehind", fires: [] }],
      },
    ]);
  });

  test("FleetNodesNotSynced fires when more than the configured share of nodes is syncing", () => {
    const at = DEFAULT_FLEET_THRESHOLDS.notSyncedMinutes + 2;
    promtoolTest([
      {
        name: "two of five syncing (40%)",
        series: [syncing("a", 1), syncing("b", 1), syncing("c", 0), syncing("d", 0), syncing("e", 0)],
        expect: [{ at: 5, alert: "FleetNodesNotSynced", fires: [] }, { at, alert: "FleetNodesNotSynced", fires: [{}] }],
      },
      {
        name: "one of five syncing (20%, not above)",
        series: [syncing("a", 1), syncing("b", 0), syncing("c", 0), syncing("d", 0), syncing("e", 0)],
        expect: [{ at, alert: "FleetNodesNotSynced", fires: [] }],
      },
      {
        name: "none syncing",
        series: [syncing("a", 0), syncing("b", 0)],
        expect: [{ at, alert: "FleetNodesNotSynced", fires: [] }],
      },
    ]);
  });

  test("thresholds out of range are refused with the setting's name", () => {
    expect(() => buildFleetRuleGroup({ ...DEFAULT_FLEET_THRESHOLDS, notSyncedShare: 1.5 })).toThrow("fleet.alerts.notSyncedShare must be between 0 and 1");
    expect(() => buildFleetRuleGroup({ ...DEFAULT_FLEET_THRESHOLDS, silentSec: 5 })).toThrow("fleet.alerts.silentSec must be a whole number of seconds");
    expect(() => buildFleetRuleGroup({ ...DEFAULT_FLEET_THRESHOLDS, iterationLagMinutes: 0 })).toThrow("fleet.alerts.iterationLagMinutes must be a whole number of minutes");
  });
});

describe("remote_write and the receiver's config", () => {
  const target = { url: "https://fleet.example:9443/api/v1/write", username: "nodes", passwordFile: "/etc/p", caFile: "/etc/ca.pem" };

  test("a node sends over https with basic auth from a password file and the fleet CA", () => {
    expect(remoteWriteConfig(target)).toMatchObject({
      url: "https://fleet.example:9443/api/v1/write",
      basic_auth: { username: "nodes", password_file: "/etc/p" },
      tls_config: { ca_file: "/etc/ca.pem" },
    });
  });

  test("clear-text URLs, credentials in the URL and odd user names are refused", () => {
    expect(() => remoteWriteConfig({ ...target, url: "http://fleet.example:9090/api/v1/write" })).toThrow("must use https");
    expect(() => remoteWriteConfig({ ...target, url: "https://u:p@fleet.example/api/v1/write" })).toThrow("must not hold credentials");
    expect(() => remoteWriteConfig({ ...target, url: "fleet" })).toThrow("must be a URL");
    expect(() => remoteWriteConfig({ ...target, username: "a b'" })).toThrow("fleet.username must be");
  });

  test("the receiver's web config takes only bcrypt hashes, and its prometheus.yml passes promtool", () => {
    expect(() => renderFleetWebConfig({ certFile: "c", keyFile: "k", users: { nodes: "plaintext" } })).toThrow("not a bcrypt hash");
    const dir = tmpDir("fleet-config-");
    fs.writeFileSync(path.join(dir, "fleet.yml"), renderFleetRuleFile(group));
    fs.writeFileSync(path.join(dir, "prometheus.yml"), renderFleetPrometheusConfig({ ruleFiles: ["fleet.yml"] }));
    execFileSync("promtool", ["check", "config", path.join(dir, "prometheus.yml")], { stdio: "pipe" });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("the fleet dashboard", () => {
  const published = new Set<string>(["up", ...Object.values(EXPORTER_METRICS), ...Object.values(RESET_METRICS)]);

  test("every query reads only series the nodes send, grouped by node where it draws one line per node", () => {
    const queries = allQueries([buildFleetDashboard()]);
    expect(queries.length).toBeGreaterThan(10);
    for (const q of queries) {
      const names = (q.expr.match(/[a-z_:][a-z0-9_:]*(?=\s*[[{)]|\s*$|\s*[<>=)])/g) ?? []).filter((n) => /^(up|ephemery_)/.test(n));
      expect([q.panel, names.length > 0]).toEqual([q.panel, true]);
      for (const n of names) expect([q.panel, n, published.has(n)]).toEqual([q.panel, n, true]);
    }
    for (const p of buildFleetDashboard().panels.filter((x) => x.kind === "timeseries")) {
      expect([p.title, p.queries.every((x) => x.legend === "{{node}}" && /by \(node\)/.test(x.expr))]).toEqual([p.title, true]);
    }
  });

  test("it covers iteration, sync, peers, validator effectiveness and reset status", () => {
    const text = JSON.stringify(dashboardJson(buildFleetDashboard()));
    for (const m of [RESET_METRICS.iteration, EXPORTER_METRICS.beaconSyncDistance, EXPORTER_METRICS.beaconPeers, EXPORTER_METRICS.attestationsMissed, RESET_METRICS.resetFailures]) {
      expect(text).toContain(m);
    }
  });
});
