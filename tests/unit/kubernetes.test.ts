import * as yaml from "js-yaml";
import { allSpecs, buildNodeSpecs } from "../../lib/clients";
import { PATHS } from "../../lib/clients/types";
import { renderCompose } from "../../lib/compose";
import { hostSchema, HostConfig } from "../../lib/config/schema";
import { clientLayout } from "../../lib/keys/layout";
import {
  KubeObject, KubernetesNodeOptions, KubernetesRenderError, renderNodeManifests, toYaml,
} from "../../lib/kubernetes/manifests";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const JWT = "ab".repeat(32);
const PASSWORD = "correct horse battery staple 7!";
const KEYSTORE = JSON.stringify({ crypto: { cipher: { message: "c1pherTextThatIsSecret" } }, pubkey: "aa".repeat(48), version: 4 });

function host(overrides: Record<string, unknown> = {}): HostConfig {
  return hostSchema.parse({ name: "n1", kind: "local", dataDir: "/srv/eph", validator: { feeRecipient: FEE }, ...overrides });
}

function opts(over: Partial<KubernetesNodeOptions> = {}): KubernetesNodeOptions {
  return {
    namespace: "ephemery", p2pExposure: "hostPort", imagePullPolicy: "IfNotPresent",
    volumeGiB: { testnet: 1, execution: 100, consensus: 50, validator: 1 }, dataDir: "/srv/eph", ...over,
  };
}

function render(h: HostConfig, o: Partial<KubernetesNodeOptions> = {}) {
  const specs = allSpecs(buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: [] }));
  const keyFiles = clientLayout("lighthouse", [{ pubkey: "aa".repeat(48), keystore: KEYSTORE, password: PASSWORD }]);
  return { specs, out: renderNodeManifests(h.name, specs, opts({ dataDir: h.dataDir, ...o }), { jwtHex: JWT, keyFiles }) };
}

const kindOf = (objs: KubeObject[], kind: string) => objs.filter((o) => o.kind === kind);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sts = (objs: KubeObject[]): any => kindOf(objs, "StatefulSet")[0];

/**
 * Stands in for the kubelet's expansion of container command/args (k8s.io/kubernetes third_party/forked/golang/expansion):
 * `$$` is one `$`, `$(NAME)` is NAME's env value when defined, anything else stays. The k8s tier checks the real one.
 */
function kubeExpand(s: string, env: Record<string, string>): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "$" || i + 1 >= s.length) { out += s[i]; continue; }
    if (s[i + 1] === "$") { out += "$"; i++; continue; }
    if (s[i + 1] === "(") {
      const end = s.indexOf(")", i + 2);
      const name = end > 0 ? s.slice(i + 2, end) : "";
      if (end > 0 && name in env) { out += env[name]; i = end; continue; }
    }
    out += s[i];
  }
  return out;
}

describe("Kubernetes manifests of one node", () => {
  test("one StatefulSet per node with a container per role, sharing the pod's network by the specs' names", () => {
    const { specs, out } = render(host());
    const set = sts(out.objects);
    expect(kindOf(out.objects, "StatefulSet")).toHaveLength(1);
    expect(set.spec.replicas).toBe(1);
    expect(set.metadata.namespace).toBe("ephemery");
    const containers = set.spec.template.spec.containers;
    expect(containers.map((c: { name: string }) => c.name)).toEqual(["execution", "consensus", "validator"]);
    expect(containers.map((c: { image: string }) => c.image)).toEqual(specs.map((s) => s.image));
    expect(set.spec.template.spec.hostAliases).toEqual([{ ip: "127.0.0.1", hostnames: ["n1-execution", "n1-consensus", "n1-validator"] }]);
    expect(set.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(set.spec.template.spec.terminationGracePeriodSeconds).toBe(180);
    expect(containers[0].resources.limits.memory).toBe("8Gi"); // 8192 MiB, as the API server stores it (memoryQuantity)
    expect(containers[0].securityContext).toEqual({ runAsUser: 0, runAsGroup: 0 });
  });

  test("mounts: testnet and data PVCs, the JWT and keys from Secrets with mode 0400, read-only where the spec says", () => {
    const { out } = render(host());
    const pod = sts(out.objects).spec.template.spec;
    const mounts = Object.fromEntries(pod.containers.map((c: { name: string; volumeMounts: unknown }) => [c.name, c.volumeMounts]));
    expect(mounts.execution).toEqual(expect.arrayContaining([
      { name: "testnet", mountPath: PATHS.testnetRoot, readOnly: true },
      { name: "jwt", mountPath: PATHS.jwtDir, readOnly: true },
      { name: "execution-data", mountPath: PATHS.data },
    ]));
    expect(mounts.validator).toEqual(expect.arrayContaining([{ name: "validator-keys", mountPath: PATHS.keysRoot, readOnly: true }]));
    expect(mounts.validator).not.toEqual(expect.arrayContaining([expect.objectContaining({ name: "jwt" })]));
    const vols = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    expect(vols.jwt.secret).toEqual({ secretName: "n1-jwt", defaultMode: 0o400, items: [{ key: "jwt.hex", path: "jwt.hex" }] });
    expect(vols["validator-keys"].secret.defaultMode).toBe(0o400);
    expect(vols["validator-keys"].secret.items.every((i: { path: string }) => i.path.startsWith("current/"))).toBe(true);
    const claims = sts(out.objects).spec.volumeClaimTemplates.map((t: { metadata: { name: string } }) => t.metadata.name);
    expect(claims).toEqual(["testnet", "execution-data", "consensus-data", "validator-data"]);
  });

  test("no secret value lands outside a Secret: not in a ConfigMap, an env var, args or annotations", () => {
    const { out } = render(host());
    const plain = JSON.stringify(out.objects);
    for (const secret of [JWT, PASSWORD, "c1pherTextThatIsSecret"]) {
      expect(plain).not.toContain(secret);
      const decoded = out.secrets.flatMap((o) => Object.values((o as unknown as { data: Record<string, string> }).data)).map((v) => Buffer.from(v, "base64").toString());
      expect(decoded.join("\n")).toContain(secret);
    }
    expect(kindOf(out.objects, "ConfigMap")).toEqual([]);
    expect(kindOf(out.objects, "Secret")).toEqual([]);
    expect(out.secrets.every((s) => s.kind === "Secret")).toBe(true);
    for (const c of sts(out.objects).spec.template.spec.containers) expect(c.env ?? []).toEqual([]);
  });

  test("hostile extra args stay data: Kubernetes' $(VAR) expansion gives back exactly the spec's words", () => {
    const hostile = ["--x=$(HOSTNAME)", "--y=$$", "--z=$(JWT)'; rm -rf / #", "--w=`id`"];
    const h = host({ execution: { extraArgs: hostile } });
    const { specs, out } = render(h);
    const el = sts(out.objects).spec.template.spec.containers[0];
    const env = { HOSTNAME: "pod-0", JWT: "leak" };
    expect(el.args.map((a: string) => kubeExpand(a, env))).toEqual(specs[0].command);
    expect(el.command.map((a: string) => kubeExpand(a, env))).toEqual(specs[0].entrypoint);
    expect(el.args.slice(-4).map((a: string) => kubeExpand(a, env))).toEqual(hostile);
  });

  test.each([
    ["geth", "prysm"], ["geth", "lighthouse"], ["geth", "teku"], ["geth", "nimbus"], ["geth", "lodestar"],
    ["besu", "lighthouse"], ["nethermind", "lighthouse"], ["erigon", "lighthouse"], ["reth", "lighthouse"],
  ])("%s + %s: each container's argv and user in the pod are the ones the compose file gives Docker", (el, cl) => {
    const clients = { execution: { client: el, extraArgs: ["--x=$HOME"] }, consensus: { client: cl }, validator: { client: cl, feeRecipient: FEE } };
    const { out } = render(host(clients));
    const compose = yaml.load(renderCompose("n1", allSpecs(buildNodeSpecs({ node: "n1", host: host({ ...clients, runtime: "compose" }), checkpointSyncUrls: [] })))) as { services: Record<string, { entrypoint?: string[]; command?: string[]; user?: string }> };
    for (const c of sts(out.objects).spec.template.spec.containers) {
      const svc = compose.services[c.name];
      // Compose and the kubelet each turn the renderer's `$$` back into `$`.
      const docker = [...(svc.entrypoint ?? []), ...(svc.command ?? []).map((a) => a.replace(/\$\$/g, "$"))];
      expect({ role: c.name, argv: [...(c.command ?? []), ...(c.args ?? [])].map((a: string) => kubeExpand(a, {})) }).toEqual({ role: c.name, argv: docker });
      expect({ role: c.name, user: `${c.securityContext.runAsUser}:${c.securityContext.runAsGroup}` }).toEqual({ role: c.name, user: svc.user });
    }
  });

  test("hostile key file paths and bad JWTs are refused with what is wrong", () => {
    const h = host();
    const specs = allSpecs(buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: [] }));
    expect(() => renderNodeManifests("n1", specs, opts(), { jwtHex: JWT, keyFiles: [{ path: "../../etc/passwd", content: "x" }] }))
      .toThrow(/key file path "..\/..\/etc\/passwd" is not a plain relative path/);
    expect(() => renderNodeManifests("n1", specs, opts(), { jwtHex: "nothex" })).toThrow(/JWT must be 32 bytes/);
    expect(() => renderNodeManifests("n1", specs, opts(), { jwtHex: JWT })).toThrow(/the validator needs its key set, even an empty one/);
    expect(() => renderNodeManifests("n1", specs, opts({ namespace: "Bad_NS" }), { jwtHex: JWT })).toThrow(/namespace "Bad_NS" is not a DNS label/);
  });

  test("p2p exposure (EL p2p, CL p2p and lighthouse QUIC): hostPort by default, APIs never on the host", () => {
    const { out } = render(host());
    const ports = sts(out.objects).spec.template.spec.containers.flatMap((c: { ports: { hostPort?: number; containerPort: number }[] }) => c.ports);
    expect(ports.filter((p: { hostPort?: number }) => p.hostPort !== undefined).map((p: { hostPort?: number }) => p.hostPort).sort()).toEqual([30303, 30303, 9000, 9000, 9001]);
    expect(kindOf(out.objects, "Service").map((s) => s.metadata.name)).toEqual(["n1"]);
  });

  test("NodePort: the node port is the client's own p2p port, and a port outside the range is a clear error", () => {
    expect(() => render(host(), { p2pExposure: "NodePort" })).toThrow(/consensus p2p port 9000 is outside the NodePort range 30000-32767.*consensus.p2pPort/);
    const { out } = render(host({ consensus: { p2pPort: 31000, quicPort: 31001 } }), { p2pExposure: "NodePort" });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const svc: any = out.objects.find((o) => o.metadata.name === "n1-p2p");
    expect(svc.spec.type).toBe("NodePort");
    expect(svc.spec.ports.map((p: { nodePort: number; protocol: string }) => `${p.protocol}/${p.nodePort}`)).toEqual(["TCP/30303", "UDP/30303", "TCP/31000", "UDP/31000", "UDP/31001"]);
    const hostPorts = sts(out.objects).spec.template.spec.containers.flatMap((c: { ports: { hostPort?: number }[] }) => c.ports.filter((p) => p.hostPort));
    expect(hostPorts).toEqual([]);
  });

  test("LoadBalancer: one Service with Local traffic policy", () => {
    const { out } = render(host(), { p2pExposure: "LoadBalancer" });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const svc: any = out.objects.find((o) => o.metadata.name === "n1-p2p");
    expect(svc.spec.type).toBe("LoadBalancer");
    expect(svc.spec.externalTrafficPolicy).toBe("Local");
    expect(svc.spec.ports.find((p: { nodePort?: number }) => p.nodePort)).toBeUndefined();
  });

  test("opted-in APIs get a ClusterIP Service; engine and keymanager never do", () => {
    const { out } = render(host({ execution: { exposeRpc: true } }));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const api: any = out.objects.find((o) => o.metadata.name === "n1-api");
    expect(api.spec.ports.map((p: { port: number }) => p.port)).toEqual([8545, 8546]);
    expect(JSON.stringify(kindOf(out.objects, "Service"))).not.toMatch(/"port":(8551|5062)\b/);
  });

  test("two containers on one port in one pod are refused, naming both", () => {
    expect(() => render(host({ consensus: { metricsPort: 6060 } }))).toThrow(/n1-consensus and n1-execution both listen on tcp\/6060/);
  });

  test("the StatefulSet always keeps its PVCs (a replace must not delete identity); pull policy and storage class pass through", () => {
    const kept = sts(render(host()).out.objects).spec;
    expect(kept.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(kept.volumeClaimTemplates[0].spec.storageClassName).toBeUndefined();
    const gone = sts(render(host(), { imagePullPolicy: "Never", storageClass: "" }).out.objects).spec;
    expect(gone.persistentVolumeClaimRetentionPolicy.whenDeleted).toBe("Retain");
    expect(gone.volumeClaimTemplates.map((t: { spec: { storageClassName: string } }) => t.spec.storageClassName)).toEqual(["", "", "", ""]);
    expect(gone.template.spec.containers.map((c: { imagePullPolicy: string }) => c.imagePullPolicy)).toEqual(["Never", "Never", "Never"]);
  });

  test("a full node has no keys Secret and no validator volume", () => {
    const h = hostSchema.parse({ name: "fn", kind: "local", dataDir: "/srv/eph" });
    const specs = allSpecs(buildNodeSpecs({ node: h.name, host: h, checkpointSyncUrls: [] }));
    const out = renderNodeManifests("fn", specs, opts(), { jwtHex: JWT });
    expect(out.secrets.map((s) => s.metadata.name)).toEqual(["fn-jwt"]);
    expect(sts(out.objects).spec.volumeClaimTemplates).toHaveLength(3);
  });

  test.each(["lighthouse", "teku", "prysm", "nimbus", "lodestar"])("%s: port names are unique in the pod and valid IANA service names", (cl) => {
    const { out } = render(host({ consensus: { client: cl }, execution: { exposeRpc: true }, validator: { feeRecipient: FEE } }), { p2pExposure: "LoadBalancer" });
    const names = sts(out.objects).spec.template.spec.containers.flatMap((c: { ports: { name: string }[] }) => c.ports.map((p) => p.name));
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/);
    for (const svc of kindOf(out.objects, "Service")) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const svcNames = (svc as any).spec.ports.map((p: { name: string }) => p.name);
      expect(new Set(svcNames).size).toBe(svcNames.length);
    }
  });

  test("YAML round-trips to the same objects", () => {
    const { out } = render(host());
    expect(yaml.loadAll(toYaml(out.objects))).toEqual(JSON.parse(JSON.stringify(out.objects)));
  });

  test("errors are KubernetesRenderError", () => {
    expect(() => render(host(), { p2pExposure: "NodePort" })).toThrow(KubernetesRenderError);
  });
});
