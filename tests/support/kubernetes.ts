/**
 * A real one-node Kubernetes cluster for the k8s tier, started under a temp dir and stopped by pid:
 * etcd (Debian etcd-server), kube-apiserver, kube-controller-manager, kube-scheduler and kubelet
 * (scripts/k8s-binaries.sh, v1.34.4) and a containerd of its own (Debian containerd + runc, CNI plugins from
 * containernetworking-plugins: a bridge with no gateway and no masquerade, so pods get an address and nothing
 * leaves the machine). Everything listens on 127.0.0.24, ports 24xxx; containerd and the kubelet keep their state
 * under the temp dir.
 *
 * Simplifications a real cluster does not make, and why: one client certificate (CN admin, O system:masters)
 * serves kubectl, the controller manager, the scheduler and the kubelet (the tier tests the node's objects, not
 * cluster RBAC); the kubelet authorizes every caller (AlwaysAllow) and serves on loopback, so `kubectl exec/logs`
 * do not work: containers are inspected with `ctr tasks exec` on our own containerd instead. No kube-proxy, no
 * cluster DNS (the node's pod needs neither), no hostPort forwarding (the portmap plugin would add iptables rules
 * to the machine's shared namespace): hostPorts are checked in the pod spec, not on the wire.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { claimPidFile } from "./processes";

export const K8S_VERSION = "v1.34.4";
export const API_ADDRESS = "127.0.0.24";
export const API_PORT = 24443;
const ETCD_PORT = 24379;
const ETCD_PEER_PORT = 24380;
const CM_PORT = 24257;
const SCHED_PORT = 24259;
const KUBELET_PORT = 24250;
const KUBELET_HEALTHZ_PORT = 24248;
const STREAM_PORT = 24010;
export const NODE_NAME = "ephemery-k8s-node";
export const BRIDGE = "ephk8s0";
const POD_SUBNET = "10.247.24.0/24";
/**
 * The bridge's gateway address, which host-local IPAM never hands to a pod: a test that must serve pods from the
 * machine (tests/k8s/reset.test.ts) puts it on the bridge; the API server's certificate names it too.
 */
export const POD_GATEWAY = "10.247.24.1";
const SERVICE_RANGE = "10.247.0.0/24";
/** The sandbox ("pause") image containerd's CRI starts first in every pod; built here, never pulled. */
export const PAUSE_IMAGE = "ephemery-k8s/pause:3.10";

export function k8sBinDir(): string {
  const cache = process.env.PULUMI_EPHEMERY_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-ephemery");
  return path.join(cache, `k8s-${K8S_VERSION}`);
}

/** Why the tier cannot run here, or undefined when it can. */
/**
 * What pods here lack and a real cluster has, stood in for on the pod bridge (nothing leaves the machine: the
 * bridge has no uplink and is deleted with the cluster):
 * - a route between this machine and the pods: POD_GATEWAY on the bridge (host-local IPAM never gives it to a pod),
 *   made before the first pod (the CNI bridge plugin takes an existing bridge);
 * - kube-proxy: a TCP forwarder on POD_GATEWAY:<apiForwardPort> to the API server, for pods' KUBERNETES_SERVICE_*;
 * - pod-to-pod frames: with br_netfilter loaded they pass iptables' FORWARD chain, whose policy (dockerd's) is DROP
 *   on this machine; one commented ACCEPT for frames within the bridge, as a real CNI installs, removed by stop().
 */
export class PodNetworkStandIn {
  private forwarder?: net.Server;
  /** Open connections: watches (Prometheus's) never end on their own, and close() waits for them. */
  private readonly open = new Set<net.Socket>();
  private readonly rule: string[];
  private ruleAdded = false;
  private bridgeMade = false;

  constructor(private readonly apiForwardPort: number, ruleComment: string) {
    this.rule = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-m", "comment", "--comment", ruleComment, "-j", "ACCEPT"];
  }

  /** Call before the cluster's first pod. */
  async start(): Promise<void> {
    for (const args of [["link", "add", BRIDGE, "type", "bridge"], ["addr", "add", `${POD_GATEWAY}/24`, "dev", BRIDGE], ["link", "set", BRIDGE, "up"]]) {
      const r = spawnSync("ip", args, { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
      this.bridgeMade = true;
    }
    if (spawnSync("iptables", ["-C", ...this.rule]).status !== 0) {
      const r = spawnSync("iptables", ["-I", ...this.rule], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`iptables -I ${this.rule.join(" ")}: ${r.stderr}`);
      this.ruleAdded = true;
    }
    const forwarder = net.createServer((c) => {
      const up = net.connect(API_PORT, API_ADDRESS);
      this.open.add(c).add(up);
      c.on("close", () => this.open.delete(c));
      up.on("close", () => this.open.delete(up));
      c.pipe(up).pipe(c);
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
    });
    this.forwarder = forwarder;
    await new Promise<void>((resolve, reject) => { forwarder.once("error", reject); forwarder.listen(this.apiForwardPort, POD_GATEWAY, resolve); });
  }

  /** The forwarder and the rule; the bridge goes with cluster.stop(), or here when there is no cluster. */
  async stop(clusterStops: boolean): Promise<void> {
    if (this.forwarder) {
      const closed = new Promise((r) => this.forwarder!.close(r));
      for (const sock of this.open) sock.destroy();
      await closed;
    }
    if (!clusterStops && this.bridgeMade) spawnSync("ip", ["link", "delete", BRIDGE]);
    if (this.ruleAdded) spawnSync("iptables", ["-D", ...this.rule]);
  }
}

export function missingPrerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return "the Kubernetes tier runs as root (kubelet, containerd, CNI)";
  const bins = k8sBinDir();
  if (!fs.existsSync(path.join(bins, ".done"))) return `no Kubernetes binaries in ${bins}: run bash scripts/k8s-binaries.sh`;
  for (const b of ["etcd", "containerd", "containerd-shim-runc-v2", "runc", "ctr", "openssl", "gcc"]) {
    if (spawnSync("sh", ["-c", `command -v ${b}`]).status !== 0) return `${b} is missing: apt-get install etcd-server containerd runc containernetworking-plugins openssl gcc libc6-dev`;
  }
  if (!fs.existsSync("/usr/lib/cni/bridge")) return "CNI plugins are missing: apt-get install containernetworking-plugins";
  return undefined;
}

function sh(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { input: opts.input, env: opts.env ?? process.env, cwd: opts.cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>, describe?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ""}${describe ? `\n${describe()}` : ""}`);
    await sleep(1000);
  }
}

interface Proc { name: string; child: ChildProcess; log: string }

/**
 * The machine's one test cluster: its ports, the pod bridge and the iptables rule are fixed, so a second cluster
 * started beside a running one would fail and, stopping, delete the first one's bridge. The claim is a pid file
 * made with O_EXCL; a claim whose process is gone is stale and taken over.
 */
export const CLUSTER_CLAIM = path.join(os.tmpdir(), "ephemery-k8s-cluster.pid");

/** Takes `claim` for this process (again, if it holds it: jest runs a tier's files in one worker), or throws naming the holder. */
export function claimTestCluster(claim = CLUSTER_CLAIM): void {
  const holder = claimPidFile(claim);
  if (holder === undefined || holder === process.pid) return;
  if (!holder) throw new Error(`could not claim ${claim}: another process is making it; run the tier's files one at a time`);
  throw new Error(`another Kubernetes test cluster runs on this machine (pid ${holder}, ${claim}): its ports and bridge ${BRIDGE} are taken; wait until it ends (run the tier's files one at a time: flock /tmp/ephemery-k8s-cluster.lock npm run test:k8s)`);
}

export function releaseTestCluster(claim = CLUSTER_CLAIM): void {
  try {
    if (fs.readFileSync(claim, "utf8").trim() === String(process.pid)) fs.rmSync(claim, { force: true });
  } catch { /* not held */ }
}

export class TestCluster {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly containerdSock: string;
  private procs: Proc[] = [];

  /** Claims the machine's one test cluster (throws naming the holder when another runs), before any bridge or port is touched. */
  constructor() {
    claimTestCluster();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-k8s-"));
    this.kubeconfig = path.join(this.dir, "admin.kubeconfig");
    this.containerdSock = path.join(this.dir, "containerd", "containerd.sock");
  }

  logFile(name: string): string { return path.join(this.dir, "logs", `${name}.log`); }
  get podLogsDir(): string { return path.join(this.dir, "pod-logs"); }

  private spawnProc(name: string, cmd: string, args: string[]): void {
    fs.mkdirSync(path.join(this.dir, "logs"), { recursive: true });
    const log = this.logFile(name);
    const fd = fs.openSync(log, "a");
    const child = spawn(cmd, args, { stdio: ["ignore", fd, fd], env: { ...process.env, PATH: `${k8sBinDir()}:${process.env.PATH}` } });
    fs.closeSync(fd);
    this.procs.push({ name, child, log });
  }

  private tail(name: string, lines = 30): string {
    try { return `--- ${name} log (last ${lines} lines) ---\n${fs.readFileSync(this.logFile(name), "utf8").split("\n").slice(-lines).join("\n")}`; } catch { return ""; }
  }

  private assertAlive(): void {
    for (const p of this.procs) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode})\n${this.tail(p.name)}`);
    }
  }

  /** Generates certificates, starts every component and waits until the node is Ready. */
  async start(): Promise<void> {
    this.certificates();
    const bin = (b: string) => path.join(k8sBinDir(), b);
    const pki = path.join(this.dir, "pki");

    this.spawnProc("etcd", "etcd", [
      "--name=ephemery-k8s", `--data-dir=${path.join(this.dir, "etcd")}`,
      `--listen-client-urls=http://${API_ADDRESS}:${ETCD_PORT}`, `--advertise-client-urls=http://${API_ADDRESS}:${ETCD_PORT}`,
      `--listen-peer-urls=http://${API_ADDRESS}:${ETCD_PEER_PORT}`, `--initial-advertise-peer-urls=http://${API_ADDRESS}:${ETCD_PEER_PORT}`,
      `--initial-cluster=ephemery-k8s=http://${API_ADDRESS}:${ETCD_PEER_PORT}`, "--listen-metrics-urls=", "--log-level=warn",
    ]);
    this.spawnProc("kube-apiserver", bin("kube-apiserver"), [
      `--etcd-servers=http://${API_ADDRESS}:${ETCD_PORT}`, `--bind-address=${API_ADDRESS}`, `--secure-port=${API_PORT}`,
      `--tls-cert-file=${pki}/apiserver.crt`, `--tls-private-key-file=${pki}/apiserver.key`, `--client-ca-file=${pki}/ca.crt`,
      `--service-account-key-file=${pki}/sa.pub`, `--service-account-signing-key-file=${pki}/sa.key`,
      "--service-account-issuer=https://kubernetes.default.svc", "--authorization-mode=Node,RBAC",
      `--service-cluster-ip-range=${SERVICE_RANGE}`, `--kubelet-client-certificate=${pki}/admin.crt`, `--kubelet-client-key=${pki}/admin.key`,
      "--profiling=false", "--v=1",
    ]);
    await waitFor("kube-apiserver /readyz", 120_000, () => { this.assertAlive(); return this.kubectl(["get", "--raw", "/readyz"]).trim() === "ok" || undefined; }, () => this.tail("kube-apiserver"));

    this.spawnProc("kube-controller-manager", bin("kube-controller-manager"), [
      `--kubeconfig=${this.kubeconfig}`, `--bind-address=${API_ADDRESS}`, `--secure-port=${CM_PORT}`, "--leader-elect=false",
      `--service-account-private-key-file=${pki}/sa.key`, `--root-ca-file=${pki}/ca.crt`,
      // Under RBAC its controllers act with their own service accounts, or they are forbidden to create pods.
      "--use-service-account-credentials=true", "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller", "--v=1",
    ]);
    this.spawnProc("kube-scheduler", bin("kube-scheduler"), [`--kubeconfig=${this.kubeconfig}`, `--bind-address=${API_ADDRESS}`, `--secure-port=${SCHED_PORT}`, "--leader-elect=false", "--v=1"]);

    this.containerdConfig();
    this.spawnProc("containerd", "containerd", ["--config", path.join(this.dir, "containerd", "config.toml")]);
    await waitFor("containerd", 60_000, () => { this.assertAlive(); return this.ctr(["version"]).includes("Server") || undefined; }, () => this.tail("containerd"));
    this.importImage(buildPauseImage(this.dir));

    this.kubeletConfig();
    this.spawnProc("kubelet", bin("kubelet"), [
      `--config=${path.join(this.dir, "kubelet", "config.yaml")}`, `--kubeconfig=${this.kubeconfig}`,
      `--root-dir=${path.join(this.dir, "kubelet", "root")}`, `--hostname-override=${NODE_NAME}`, "--v=1",
    ]);
    await waitFor(`node ${NODE_NAME} Ready`, 180_000, () => {
      this.assertAlive();
      const node = JSON.parse(this.kubectl(["get", "node", NODE_NAME, "-o", "json"]));
      return node.status.conditions.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True") || undefined;
    }, () => this.tail("kubelet"));
    // The default service account appears shortly after a namespace; pods wait for it (ServiceAccount admission).
    await waitFor("default service account", 60_000, () => this.kubectl(["get", "serviceaccount", "default", "-n", "default", "-o", "name"]).trim() || undefined, () => this.tail("kube-controller-manager"));
  }

  kubectl(args: string[], input?: string): string {
    return sh(path.join(k8sBinDir(), "kubectl"), [`--kubeconfig=${this.kubeconfig}`, ...args], { input });
  }

  ctr(args: string[], input?: string): string {
    return sh("ctr", ["--address", this.containerdSock, ...args], { input });
  }

  importImage(tarFile: string): void {
    this.ctr(["-n", "k8s.io", "images", "import", "--no-unpack", tarFile]);
  }

  /**
   * Runs argv in the running container of `pod`/`container` (containerd's task exec: kubectl exec needs a reachable
   * kubelet), as the container's user or as `user` (a uid, to check what another user of the pod may read).
   */
  execIn(namespace: string, pod: string, container: string, argv: string[], user?: number): string {
    const id = this.containerId(namespace, pod, container);
    return this.ctr(["-n", "k8s.io", "tasks", "exec", "--exec-id", `t${crypto.randomBytes(4).toString("hex")}`, ...(user === undefined ? [] : ["--user", `${user}:${user}`]), id, ...argv]);
  }

  /** The OCI spec containerd runs a container with (process.args is the argv the kubelet asked for). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  containerSpec(namespace: string, pod: string, container: string): any {
    return JSON.parse(this.ctr(["-n", "k8s.io", "containers", "info", this.containerId(namespace, pod, container)])).Spec;
  }

  containerId(namespace: string, pod: string, container: string): string {
    const out = this.ctr(["-n", "k8s.io", "containers", "ls", "-q",
      `labels."io.kubernetes.pod.namespace"==${namespace},labels."io.kubernetes.pod.name"==${pod},labels."io.kubernetes.container.name"==${container}`]);
    const tasks = new Map(this.ctr(["-n", "k8s.io", "tasks", "ls"]).split("\n").slice(1).map((l) => l.trim().split(/\s+/)).map((f) => [f[0], f[2]]));
    const running = out.split("\n").filter(Boolean).filter((id) => tasks.get(id) === "RUNNING");
    if (running.length !== 1) throw new Error(`expected one running ${container} container of ${namespace}/${pod}, found ${running.length} (${out.trim()})`);
    return running[0];
  }

  /** A hostPath PersistentVolume pre-bound to one claim (no provisioner here). Returns its directory. */
  persistentVolume(name: string, claim: { namespace: string; name: string }, gib: number): string {
    const dir = path.join(this.dir, "pv", name);
    fs.mkdirSync(dir, { recursive: true });
    const pv = {
      apiVersion: "v1", kind: "PersistentVolume", metadata: { name },
      spec: {
        capacity: { storage: `${gib}Gi` }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain",
        storageClassName: "", hostPath: { path: dir, type: "Directory" }, claimRef: { namespace: claim.namespace, name: claim.name },
      },
    };
    this.kubectl(["apply", "-f", "-"], JSON.stringify(pv));
    return dir;
  }

  async stop(): Promise<void> {
    // Pods first, while the kubelet still runs: it stops their containers and tears down their sandboxes and mounts.
    try {
      const nss = this.kubectl(["get", "ns", "-o", "jsonpath={.items[*].metadata.name}"]).split(" ").filter((n) => n && !n.startsWith("kube-") && n !== "default");
      for (const ns of nss) this.kubectl(["delete", "statefulsets,pods", "--all", "-n", ns, "--grace-period=1", "--wait=false"]);
      await waitFor("pods gone", 60_000, () => this.kubectl(["get", "pods", "-A", "-o", "name"]).trim() === "" || undefined);
    } catch { /* best effort: the forced cleanup below still runs */ }
    const kubelet = this.procs.find((p) => p.name === "kubelet");
    if (kubelet) await stopProc(kubelet);
    // Whatever containers are left, by id in our own containerd.
    try {
      for (const id of this.ctr(["-n", "k8s.io", "tasks", "ls", "-q"]).split("\n").filter(Boolean)) {
        try { this.ctr(["-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id]); } catch { /* gone */ }
        await sleep(200);
        try { this.ctr(["-n", "k8s.io", "tasks", "delete", "-f", id]); } catch { /* gone */ }
      }
    } catch { /* containerd not up */ }
    for (const p of [...this.procs].reverse()) if (p.name !== "kubelet") await stopProc(p);
    // Mounts the kubelet and containerd made under our dir (secret tmpfs, overlay rootfs), deepest first.
    const mounts = fs.readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m && m.startsWith(this.dir)).reverse();
    for (const m of mounts) spawnSync("umount", ["-l", m]);
    spawnSync("ip", ["link", "delete", BRIDGE]);
    if (!process.env.EPHEMERY_K8S_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
    releaseTestCluster();
  }

  private certificates(): void {
    const pki = path.join(this.dir, "pki");
    fs.mkdirSync(pki, { recursive: true, mode: 0o700 });
    const o = (args: string[]) => sh("openssl", args, { cwd: pki });
    o(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ephemery-k8s-ca"]);
    const leaf = (name: string, subj: string, ext?: string) => {
      o(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
      if (ext) fs.writeFileSync(path.join(pki, `${name}.ext`), ext);
      o(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", ...(ext ? ["-extfile", `${name}.ext`] : [])]);
    };
    leaf("apiserver", "/CN=kube-apiserver", `subjectAltName=IP:${API_ADDRESS},IP:10.247.0.1,IP:${POD_GATEWAY},DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth`);
    leaf("admin", "/CN=admin/O=system:masters", "extendedKeyUsage=clientAuth");
    o(["genrsa", "-out", "sa.key", "2048"]);
    o(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
    const b64 = (f: string) => fs.readFileSync(path.join(pki, f)).toString("base64");
    const kc = {
      apiVersion: "v1", kind: "Config", "current-context": "ephemery-k8s",
      clusters: [{ name: "ephemery-k8s", cluster: { server: `https://${API_ADDRESS}:${API_PORT}`, "certificate-authority-data": b64("ca.crt") } }],
      users: [{ name: "admin", user: { "client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key") } }],
      contexts: [{ name: "ephemery-k8s", context: { cluster: "ephemery-k8s", user: "admin" } }],
    };
    fs.writeFileSync(this.kubeconfig, JSON.stringify(kc), { mode: 0o600 });
  }

  private containerdConfig(): void {
    const d = path.join(this.dir, "containerd");
    const cni = path.join(this.dir, "cni");
    fs.mkdirSync(path.join(cni, "net.d"), { recursive: true });
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(cni, "net.d", "10-ephemery.conflist"), JSON.stringify({
      cniVersion: "0.4.0", name: "ephemery-k8s",
      plugins: [
        // No gateway and no masquerade: pods get an address on an isolated bridge, and no packet leaves the machine.
        { type: "bridge", bridge: BRIDGE, isGateway: false, ipMasq: false, hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: POD_SUBNET }]], dataDir: path.join(cni, "ipam") } },
      ],
    }));
    fs.writeFileSync(path.join(d, "config.toml"), [
      "version = 2",
      `root = "${d}/root"`,
      `state = "${d}/state"`,
      `[grpc]\n  address = "${this.containerdSock}"`,
      `[ttrpc]\n  address = "${this.containerdSock}.ttrpc"`,
      `[debug]\n  address = ""`,
      `[plugins."io.containerd.internal.v1.opt"]\n  path = "${d}/opt"`,
      `[plugins."io.containerd.grpc.v1.cri"]`,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      // Root here lacks CAP_SYS_RESOURCE: without this, lowering a container's oom_score_adj below ours fails.
      "  restrict_oom_score_adj = true",
      `  stream_server_address = "${API_ADDRESS}"`,
      `  stream_server_port = "${STREAM_PORT}"`,
      "  enable_selinux = false",
      `  [plugins."io.containerd.grpc.v1.cri".containerd]`,
      `    snapshotter = "overlayfs"`,
      `    default_runtime_name = "runc"`,
      `    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`,
      `      runtime_type = "io.containerd.runc.v2"`,
      `      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`,
      "        SystemdCgroup = false",
      `  [plugins."io.containerd.grpc.v1.cri".cni]`,
      `    bin_dir = "/usr/lib/cni"`,
      `    conf_dir = "${cni}/net.d"`,
      "",
    ].join("\n"));
  }

  private kubeletConfig(): void {
    const d = path.join(this.dir, "kubelet");
    fs.mkdirSync(path.join(d, "root"), { recursive: true });
    fs.mkdirSync(this.podLogsDir, { recursive: true });
    const pki = path.join(this.dir, "pki");
    fs.writeFileSync(path.join(d, "config.yaml"), JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration",
      cgroupDriver: "cgroupfs", failSwapOn: false,
      address: API_ADDRESS, port: KUBELET_PORT, readOnlyPort: 0, healthzBindAddress: API_ADDRESS, healthzPort: KUBELET_HEALTHZ_PORT,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: `${pki}/ca.crt` } },
      authorization: { mode: "AlwaysAllow" },
      containerRuntimeEndpoint: `unix://${this.containerdSock}`,
      podLogsDir: this.podLogsDir,
      // The machine's disk is shared and often full-ish: never evict or garbage-collect on its numbers.
      evictionHard: { "memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
      imageGCHighThresholdPercent: 100, imageGCLowThresholdPercent: 99,
      // No iptables chains in the machine's shared network namespace.
      makeIPTablesUtilChains: false,
      serializeImagePulls: false,
      maxPods: 20,
      enableControllerAttachDetach: true,
      staticPodPath: "",
    }));
  }
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null || p.child.pid === undefined) return;
  const done = new Promise<void>((r) => p.child.once("exit", () => r()));
  process.kill(p.child.pid, "SIGTERM");
  const timer = setTimeout(() => { try { process.kill(p.child.pid!, "SIGKILL"); } catch { /* gone */ } }, 10_000);
  await done;
  clearTimeout(timer);
}

/** The image config fields the tier's images set; Env replaces the default PATH when given. */
export interface ImageConfig { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string }

/**
 * A docker-archive tarball (what `docker save` writes and `ctr images import` reads) with one layer made from
 * `rootfs`: the images of this tier are built here, never pulled.
 */
export function dockerArchive(rootfs: string, ref: string, config: ImageConfig, outDir: string): string {
  const work = fs.mkdtempSync(path.join(outDir, "img-"));
  execFileSync("tar", ["--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=@0", "-C", rootfs, "-cf", path.join(work, "layer.tar"), "."]);
  return archiveOf(work, ref, config, outDir);
}

/** The same from a ready rootfs tarball (scripts/client-images.sh --tars prints them). */
export function layerArchive(layerTar: string, ref: string, config: ImageConfig, outDir: string): string {
  const work = fs.mkdtempSync(path.join(outDir, "img-"));
  fs.copyFileSync(layerTar, path.join(work, "layer.tar"));
  return archiveOf(work, ref, config, outDir);
}

function archiveOf(work: string, ref: string, config: ImageConfig, outDir: string): string {
  const layer = fs.readFileSync(path.join(work, "layer.tar"));
  const diffId = `sha256:${crypto.createHash("sha256").update(layer).digest("hex")}`;
  const cfg = JSON.stringify({
    architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], ...config },
    rootfs: { type: "layers", diff_ids: [diffId] },
  });
  const cfgName = `${crypto.createHash("sha256").update(cfg).digest("hex")}.json`;
  fs.writeFileSync(path.join(work, cfgName), cfg);
  fs.writeFileSync(path.join(work, "manifest.json"), JSON.stringify([{ Config: cfgName, RepoTags: [ref], Layers: ["layer.tar"] }]));
  const out = path.join(outDir, `${ref.replace(/[^A-Za-z0-9._-]/g, "_")}.tar`);
  execFileSync("tar", ["-C", work, "-cf", out, "manifest.json", cfgName, "layer.tar"]);
  fs.rmSync(work, { recursive: true, force: true });
  return out;
}

/**
 * The pod sandbox: kubernetes' pause (build/pause/linux/pause.c) in a few lines of C, static, so the image is
 * one file. It sleeps until SIGINT/SIGTERM and reaps orphans as PID 1.
 */
function buildPauseImage(dir: string): string {
  const root = path.join(dir, "pause-rootfs");
  fs.mkdirSync(root, { recursive: true });
  const src = path.join(dir, "pause.c");
  fs.writeFileSync(src, [
    "#include <signal.h>", "#include <stdlib.h>", "#include <sys/wait.h>", "#include <unistd.h>",
    "static void die(int s) { (void)s; _exit(0); }",
    "static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }",
    "int main(void) {",
    "  struct sigaction a = { .sa_handler = die }, r = { .sa_handler = reap, .sa_flags = SA_NOCLDSTOP };",
    "  sigaction(SIGINT, &a, NULL); sigaction(SIGTERM, &a, NULL); sigaction(SIGCHLD, &r, NULL);",
    "  for (;;) pause();",
    "}", "",
  ].join("\n"));
  execFileSync("gcc", ["-static", "-Os", "-o", path.join(root, "pause"), src]);
  return dockerArchive(root, PAUSE_IMAGE, { Entrypoint: ["/pause"] }, dir);
}

export { busyboxRootfs } from "./dockerd";

/**
 * A command run without blocking this process (stdin given, output collected): what the k8s files use when a
 * stand-in in this process (the API forwarder, the release server) must answer while it runs.
 */
export function runAsync(cmd: string, args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}
