/**
 * host-scripts/container-metrics.sh against the real Docker engine: a crash-looping container of the node shows
 * its restart count, a healthy one shows running, another node's containers stay out; promtool accepts the file.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { renderHostScript } from "../../lib/hostScripts";
import { containerMetricsValues, CONTAINER_METRICS_SCRIPT } from "../../lib/monitoring/hostFiles";
import { busyboxImage, docker } from "../support/dockerd";
import { parseExposition, tmpDir, waitFor } from "./support";

const NODE = `cm${process.pid}`;
const OTHER = `other${process.pid}`;

describe("container-metrics.sh", () => {
  let dir: string;
  const containers = [`${NODE}-crash`, `${NODE}-ok`, `${OTHER}-ok`];

  beforeAll(() => {
    dir = tmpDir("container-metrics");
    const image = busyboxImage("ephemery-test-busybox");
    docker(["run", "-d", "--name", `${NODE}-crash`, "--restart=always", image, "sh", "-c", "sleep 0.2; exit 3"]);
    docker(["run", "-d", "--name", `${NODE}-ok`, image, "sleep", "600"]);
    docker(["run", "-d", "--name", `${OTHER}-ok`, image, "sleep", "600"]);
  });

  afterAll(() => {
    for (const c of containers) {
      try { docker(["rm", "-f", c]); } catch { /* not created */ }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("publishes restart counts and running state of the node's containers only", async () => {
    const script = path.join(dir, "container-metrics");
    fs.writeFileSync(script, renderHostScript(CONTAINER_METRICS_SCRIPT, containerMetricsValues(NODE, path.join(dir, "textfile"))), { mode: 0o755 });
    await waitFor("two restarts", async () => (Number(docker(["inspect", "--format", "{{.RestartCount}}", `${NODE}-crash`]).trim()) >= 2 ? true : undefined), 60_000, 500);

    execFileSync(script, { stdio: "pipe" });
    const file = path.join(dir, "textfile", "containers.prom");
    const text = fs.readFileSync(file, "utf8");
    const m = parseExposition(text);
    const restarts = m.get(`ephemery_container_restarts_total{container="${NODE}-crash"}`)!;
    expect(restarts).toBeGreaterThanOrEqual(2);
    expect(restarts).toBeLessThanOrEqual(Number(docker(["inspect", "--format", "{{.RestartCount}}", `${NODE}-crash`]).trim()));
    expect(m.get(`ephemery_container_restarts_total{container="${NODE}-ok"}`)).toBe(0);
    expect(m.get(`ephemery_container_running{container="${NODE}-ok"}`)).toBe(1);
    expect(text).not.toContain(OTHER);
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe("644");
    // node-exporter rejects files that are not valid exposition format; promtool applies the same parser.
    execFileSync("promtool", ["check", "metrics"], { input: text, stdio: ["pipe", "pipe", "pipe"] });

    docker(["stop", "-t", "1", `${NODE}-ok`]);
    execFileSync(script, { stdio: "pipe" });
    expect(parseExposition(fs.readFileSync(file, "utf8")).get(`ephemery_container_running{container="${NODE}-ok"}`)).toBe(0);
  });
});
