/**
 * Renders one node's ContainerSpecs (the same specs lib/compose.ts and components/containers.ts turn into
 * compose files and Docker containers) as Kubernetes manifests: plain objects, applied by kubectl or any
 * Kubernetes client. Pure: no Pulumi, no cluster.
 *
 * One StatefulSet per node, not per role: the EL, CL and VC of a node share the JWT and the testnet dir, and a
 * reset must switch them together (stop all three, wipe, switch `current`, start all three). In one pod they
 * share a network namespace (the specs' `http://<node>-execution:8551` resolves to 127.0.0.1 through
 * hostAliases, so no cluster DNS is needed), one RWO testnet volume, and one lifecycle; split per role they
 * would be three rollouts that can interleave with a switch. replicas is fixed at 1: a StatefulSet never runs
 * two pods of one ordinal, which is the at-most-once guarantee a validator key needs inside a cluster.
 *
 * Secrets (the JWT, validator keystores and passwords) go into Secret objects only, mounted as files with mode
 * 0400; never a ConfigMap, never an env var. `renderNodeManifests` keeps them apart (`secrets`) so a caller can
 * mark exactly them as Pulumi secrets.
 */
import * as yaml from "js-yaml";
import { ContainerSpec, MountSpec, PATHS, hostPaths } from "../clients/types";
import type { ValidatorClientName } from "../keys/layout";
import { checkKeysSecretSize, importInitContainer, INTERCHANGE_FILE, keyAnnotations } from "./keys";

export const P2P_EXPOSURES = ["hostPort", "NodePort", "LoadBalancer"] as const;
export type P2pExposure = (typeof P2P_EXPOSURES)[number];
export const IMAGE_PULL_POLICIES = ["IfNotPresent", "Always", "Never"] as const;
export type ImagePullPolicy = (typeof IMAGE_PULL_POLICIES)[number];

/** The default NodePort range of kube-apiserver (--service-node-port-range). */
export const DEFAULT_NODE_PORT_RANGE: [number, number] = [30000, 32767];

export interface KubernetesNodeOptions {
  namespace: string;
  /** undefined: the cluster's default class; "": no class (bind to pre-made PVs, as the test tier does). */
  storageClass?: string;
  p2pExposure: P2pExposure;
  imagePullPolicy: ImagePullPolicy;
  /** Requested size per volume, GiB. */
  volumeGiB: { testnet: number; execution: number; consensus: number; validator: number };
  nodePortRange?: [number, number];
  /** The host's dataDir: bind mounts in the specs are recognised by their host paths under it. */
  dataDir: string;
}

export interface NodeSecretValues {
  /** 32-byte hex JWT shared by the EL and CL. */
  jwtHex: string;
  /** The validator key set (lib/keys/layout clientLayout), mounted under validator-keys/current/. */
  keyFiles?: { path: string; content: string }[];
  /** The pubkeys of keyFiles (lower-case hex, no 0x): public, annotated on the StatefulSet (lib/kubernetes/keys.ts). */
  pubkeys?: string[];
  /** An EIP-3076 interchange for those keys, imported before the VC starts (lib/kubernetes/keys.ts). */
  interchange?: string;
}

export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: unknown };

export interface RenderedNode {
  /** Namespace, Services, StatefulSet: nothing secret. */
  objects: KubeObject[];
  /** The Secret objects, holding the JWT and keys. */
  secrets: KubeObject[];
}

/** Names Kubernetes accepts for objects (RFC 1123 labels), and for the DNS-label fields. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SECRET_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export class KubernetesRenderError extends Error {}

/** The in-cluster reset's own files on the testnet PVC (lib/kubernetes/reset.ts); its journal gates the clients' start. */
export const RESET_STATE_ROOT = `${PATHS.testnetRoot}/.ephemery-reset`;
/** Where it writes its textfile metrics (ephemery.prom), relative to the testnet PVC. */
export const RESET_METRICS_SUBDIR = ".ephemery-reset/metrics";

export function labelsOf(node: string): Record<string, string> {
  return { "app.kubernetes.io/name": "ephemery-node", "app.kubernetes.io/instance": node, "app.kubernetes.io/managed-by": "pulumi-ephemery" };
}

/**
 * A ServiceAccount (no token automounted: the pod that uses it says where), a Role of exactly `rules` and their
 * RoleBinding, all named `name`: the in-cluster jobs' RBAC (the reset CronJob, the keys export Job).
 */
export function roleBoundServiceAccount(name: string, namespace: string, labels: Record<string, string>, rules: Record<string, unknown>[]): KubeObject[] {
  const metadata = { name, namespace, labels };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata, automountServiceAccountToken: false },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  ];
}

/** Names of the node's objects. */
export function objectNames(node: string) {
  return {
    statefulSet: node,
    headlessService: node,
    apiService: `${node}-api`,
    p2pService: `${node}-p2p`,
    jwtSecret: `${node}-jwt`,
    keysSecret: `${node}-validator-keys`,
    /** PVC names the StatefulSet controller makes: <template>-<statefulset>-<ordinal>. */
    pvc: (template: string) => `${template}-${node}-0`,
  };
}

/**
 * A memory size as the API server writes it back: it canonicalises quantities ("1024Mi" is stored as "1Gi"), so
 * any other spelling would make every client-side apply patch it again ("configured" with nothing changed).
 */
export function memoryQuantity(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}

/** Kubernetes expands `$(VAR)` and turns `$$` into `$` in command and args: doubling every `$` keeps the text as written. */
export function escapeKubeExpansion(v: string): string {
  return v.replace(/\$/g, "$$$$");
}

/** A container's name in a pod: its role for a client (`execution`), its component for the rest (`node-exporter`). */
export function podContainerName(s: ContainerSpec): string {
  return s.role === "monitoring" ? s.client : s.role;
}

function volumeFor(m: MountSpec, node: string, dataDir: string): { volume: string; readOnly: boolean; subPath?: string } {
  const paths = hostPaths(dataDir, node);
  if (m.kind === "volume") {
    const role = /-(execution|consensus|validator)-data$/.exec(m.source)?.[1];
    if (!role) throw new KubernetesRenderError(`${node}: volume ${m.source} is not a client data volume; the Kubernetes renderer knows execution, consensus and validator data only`);
    return { volume: `${role}-data`, readOnly: m.readOnly };
  }
  if (m.source === paths.testnetRoot) return { volume: "testnet", readOnly: m.readOnly };
  // Only the reset's metrics directory of the testnet PVC, read-only: not its releases, journal or archive.
  if (m.source === `${paths.testnetRoot}/${RESET_METRICS_SUBDIR}`) return { volume: "testnet", readOnly: true, subPath: RESET_METRICS_SUBDIR };
  if (m.source === paths.jwtDir) return { volume: "jwt", readOnly: true };
  if (m.source === paths.keysRoot) return { volume: "validator-keys", readOnly: true };
  throw new KubernetesRenderError(`${node}: bind mount ${m.source} has no Kubernetes volume; only the testnet dir (or its reset metrics directory), the JWT dir and the validator keys map to volumes`);
}

/**
 * A container port's name: unique in the pod (a role's p2p TCP/UDP and QUIC ports share a purpose, so the port
 * number is part of it) and an IANA service name (a-z, 0-9, single -, at most 15 characters).
 */
export function portName(role: string, purpose: string, protocol: string, port: number): string {
  const r = { execution: "el", consensus: "cl", validator: "vc", monitoring: "mon" }[role] ?? role.slice(0, 3);
  const p = { keymanager: "km", metrics: "met", beacon: "api", engine: "eng" }[purpose] ?? purpose.slice(0, 6);
  return `${r}-${p}-${port}${protocol === "udp" ? "u" : ""}`;
}

export function renderNodeManifests(node: string, specs: ContainerSpec[], opts: KubernetesNodeOptions, secrets: NodeSecretValues): RenderedNode {
  if (!DNS_LABEL.test(node)) throw new KubernetesRenderError(`node name "${node}" is not a DNS label (a-z, 0-9, -)`);
  if (!DNS_LABEL.test(opts.namespace)) throw new KubernetesRenderError(`namespace "${opts.namespace}" is not a DNS label (a-z, 0-9, -, at most 63 characters)`);
  if (!/^[0-9a-f]{64}$/.test(secrets.jwtHex)) throw new KubernetesRenderError(`${node}: the JWT must be 32 bytes of lowercase hex`);
  const names = objectNames(node);
  const labels = labelsOf(node);
  const ns = opts.namespace;
  const meta = (name: string) => ({ name, namespace: ns, labels });

  // One pod shares one network namespace: two containers may not listen on one port.
  const seenPorts = new Map<string, string>();
  for (const s of specs) {
    for (const p of s.ports) {
      const key = `${p.protocol}/${p.containerPort}`;
      const other = seenPorts.get(key);
      if (other && other !== s.name) throw new KubernetesRenderError(`${node}: ${s.name} and ${other} both listen on ${key}; in one pod every port must be unique: change one of them in the host's config`);
      seenPorts.set(key, s.name);
    }
  }

  const p2p = specs.flatMap((s) => s.ports.filter((p) => p.purpose === "p2p").map((p) => ({ spec: s, port: p })));
  if (opts.p2pExposure === "NodePort") {
    const [lo, hi] = opts.nodePortRange ?? DEFAULT_NODE_PORT_RANGE;
    for (const { spec, port } of p2p) {
      if (port.containerPort < lo || port.containerPort > hi) {
        throw new KubernetesRenderError(`${node}: ${spec.role} p2p port ${port.containerPort} is outside the NodePort range ${lo}-${hi}; clients advertise the port they listen on, so the NodePort must be that same port: set it (execution.p2pPort / consensus.p2pPort / consensus.quicPort) inside the range, or use p2pExposure hostPort`);
      }
    }
  }

  const containers = specs.map((s) => {
    const ports = s.ports.map((p) => ({
      name: portName(s.role, p.purpose, p.protocol, p.containerPort),
      containerPort: p.containerPort,
      protocol: p.protocol.toUpperCase(),
      // hostPort only for p2p under hostPort exposure: APIs the docker runtime binds to the host's loopback stay inside the pod.
      ...(p.purpose === "p2p" && opts.p2pExposure === "hostPort" ? { hostPort: p.containerPort } : {}),
    }));
    const c: Record<string, unknown> = {
      name: podContainerName(s),
      image: s.image,
      imagePullPolicy: opts.imagePullPolicy,
      ...(s.entrypoint ? { command: s.entrypoint.map(escapeKubeExpansion) } : {}),
      ...(s.command.length > 0 ? { args: s.command.map(escapeKubeExpansion) } : {}),
      ports,
      volumeMounts: s.mounts.map((m) => {
        const v = volumeFor(m, node, opts.dataDir);
        return { name: v.volume, mountPath: m.target, ...(v.readOnly ? { readOnly: true } : {}), ...(v.subPath ? { subPath: v.subPath } : {}) };
      }),
      resources: { limits: { memory: memoryQuantity(s.memoryMiB) }, requests: { memory: memoryQuantity(s.memoryMiB) } },
    };
    // Specs carry no secrets in env (the JWT and keys are files); env is plain data, expanded like args.
    const env = Object.entries(s.env).map(([name, value]) => ({ name, value: escapeKubeExpansion(value) }));
    if (env.length > 0) c.env = env;
    const user = s.user ? /^(\d+)(?::(\d+))?$/.exec(s.user) : null;
    if (s.user && !user) throw new KubernetesRenderError(`${s.name}: user "${s.user}" must be numeric uid[:gid] on Kubernetes`);
    if (user) c.securityContext = { runAsUser: Number(user[1]), ...(user[2] ? { runAsGroup: Number(user[2]) } : {}) };
    return c;
  });

  const hasKeys = specs.some((s) => s.mounts.some((m) => volumeFor(m, node, opts.dataDir).volume === "validator-keys"));
  const volumes: Record<string, unknown>[] = [
    { name: "jwt", secret: { secretName: names.jwtSecret, defaultMode: 0o400, items: [{ key: "jwt.hex", path: "jwt.hex" }] } },
  ];
  const secretObjects: KubeObject[] = [
    { apiVersion: "v1", kind: "Secret", metadata: meta(names.jwtSecret), type: "Opaque", data: { "jwt.hex": b64(secrets.jwtHex) } },
  ];
  let keyAnnotation: ReturnType<typeof keyAnnotations> | undefined;
  if (hasKeys) {
    const files = [...(secrets.keyFiles ?? []), ...(secrets.interchange ? [{ path: INTERCHANGE_FILE, content: secrets.interchange }] : [])];
    keyAnnotation = keyAnnotations(secrets.pubkeys ?? [], secrets.interchange);
    // The validator's start copies current/ and reads its client's files there: with no files the Secret would
    // mount no current/ at all and the container would crash-loop (seen on the real kubelet).
    if (files.length === 0) throw new KubernetesRenderError(`${node}: the validator needs its key set, even an empty one (lib/keys/layout clientLayout(client, []))`);
    const data: Record<string, string> = {};
    const items = files.map((f, i) => {
      if (!SECRET_PATH.test(f.path) || f.path.split("/").includes("..")) throw new KubernetesRenderError(`${node}: key file path "${f.path}" is not a plain relative path`);
      // Secret keys are flat names; the item path puts each file back at its place under current/.
      const key = `f${i}`;
      data[key] = b64(f.content);
      return { key, path: `current/${f.path}` };
    });
    checkKeysSecretSize(node, data);
    volumes.push({ name: "validator-keys", secret: { secretName: names.keysSecret, defaultMode: 0o400, ...(items.length ? { items } : {}) } });
    secretObjects.push({ apiVersion: "v1", kind: "Secret", metadata: meta(names.keysSecret), type: "Opaque", data });
  }

  const claimRoles = ["testnet", ...specs.map((s) => s.role).filter((r) => r === "execution" || r === "consensus" || r === "validator")] as const;
  // Written as the API server stores them (apiVersion, kind, volumeMode, status): the list has no merge key, so
  // any field the server adds would make every client-side apply patch it ("configured" with nothing changed).
  const volumeClaimTemplates = claimRoles.map((r) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: r === "testnet" ? "testnet" : `${r}-data`, labels },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(opts.storageClass !== undefined ? { storageClassName: opts.storageClass } : {}),
      resources: { requests: { storage: `${opts.volumeGiB[r]}Gi` } },
      volumeMode: "Filesystem",
    },
    status: { phase: "Pending" },
  }));

  // Clients start on a verified release only (the reset puts one under current/), and never while the in-cluster
  // reset has a switch journalled: a pod scaled up mid-switch would run on half-wiped data. The trap: as PID 1 the
  // shell ignores SIGTERM otherwise, and the reset's scale-to-0 of a waiting pod would take the whole grace period.
  const release = specs.find((s) => s.role === "execution") ?? specs[0];
  const initContainers = [{
    name: "wait-release",
    image: release.image,
    imagePullPolicy: opts.imagePullPolicy,
    command: ["/bin/sh", "-c", escapeKubeExpansion(`trap 'exit 0' TERM INT; until [ -s ${PATHS.testnet}/nodevars_env.txt ] && [ ! -e ${RESET_STATE_ROOT}/state/switch.journal ]; do echo "waiting for a verified release in ${PATHS.testnet} and no reset switch in progress" >&2; sleep 5; done`)],
    volumeMounts: [{ name: "testnet", mountPath: PATHS.testnetRoot, readOnly: true }],
  }];
  const vc = specs.find((s) => s.role === "validator");
  // Slashing protection is imported into the VC's data before the VC starts (after the release is there).
  if (hasKeys && vc) initContainers.push(importInitContainer(vc.client as ValidatorClientName, { image: vc.image, securityContext: containers.find((c) => c.name === "validator")?.securityContext }, opts.imagePullPolicy, escapeKubeExpansion) as (typeof initContainers)[number]);

  const statefulSet: KubeObject = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { ...meta(names.statefulSet), ...(keyAnnotation ? { annotations: keyAnnotation.statefulSet } : {}) },
    spec: {
      replicas: 1,
      serviceName: names.headlessService,
      podManagementPolicy: "OrderedReady",
      selector: { matchLabels: labels },
      // Always Retain: volumeClaimTemplates are immutable, so a claim template change replaces the StatefulSet,
      // and Delete would take the node keys and slashing protection with it. With retainDataOnDestroy false the
      // component deletes the PVCs when the node itself is destroyed (lib/kubernetes/kubectl.ts deleteDataCommand).
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: {
        metadata: { labels, ...(keyAnnotation ? { annotations: keyAnnotation.template } : {}) },
        spec: {
          hostAliases: [{ ip: "127.0.0.1", hostnames: specs.map((s) => s.name) }],
          terminationGracePeriodSeconds: Math.max(...specs.map((s) => s.stopGraceSec)),
          // The pod never needs the Kubernetes API: no token in any client container.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          initContainers,
          containers,
          volumes,
        },
      },
      volumeClaimTemplates,
    },
  };

  const metricsPorts = specs.flatMap((s) => (s.metrics ? [{ name: `${s.role.slice(0, 10)}-metrics`, port: s.metrics.port, targetPort: s.metrics.port, protocol: "TCP" }] : []));
  const objects: KubeObject[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { "app.kubernetes.io/managed-by": "pulumi-ephemery" } } },
    {
      apiVersion: "v1",
      kind: "Service",
      // Headless: the StatefulSet's governing service, and what Prometheus' endpoint discovery scrapes (metrics only).
      metadata: { ...meta(names.headlessService), annotations: { "prometheus.io/scrape": "true" } },
      spec: { clusterIP: "None", selector: labels, ports: metricsPorts },
    },
  ];
  // APIs the operator opted into exposing (exposeRpc, exposeBeaconApi); engine and keymanager never get a Service.
  const exposed = specs.flatMap((s) => s.ports.filter((p) => p.purpose !== "p2p" && p.purpose !== "metrics" && p.bindAddress === "0.0.0.0").map((p) => ({ s, p })));
  if (exposed.length > 0) {
    objects.push({
      apiVersion: "v1", kind: "Service", metadata: meta(names.apiService),
      spec: { type: "ClusterIP", selector: labels, ports: exposed.map(({ s, p }) => ({ name: portName(s.role, p.purpose, p.protocol, p.containerPort), port: p.containerPort, targetPort: p.containerPort, protocol: p.protocol.toUpperCase() })) },
    });
  }
  if (opts.p2pExposure !== "hostPort" && p2p.length > 0) {
    objects.push({
      apiVersion: "v1", kind: "Service", metadata: meta(names.p2pService),
      spec: {
        type: opts.p2pExposure,
        // Local: peers see the node's own address, and traffic never hops through another node.
        externalTrafficPolicy: "Local",
        selector: labels,
        ports: p2p.map(({ spec, port }) => ({
          name: portName(spec.role, port.purpose, port.protocol, port.containerPort),
          port: port.containerPort,
          targetPort: port.containerPort,
          protocol: port.protocol.toUpperCase(),
          ...(opts.p2pExposure === "NodePort" ? { nodePort: port.containerPort } : {}),
        })),
      },
    });
  }
  objects.push(statefulSet);
  return { objects, secrets: secretObjects };
}

/**
 * What automounting a ServiceAccount token gives (token, the cluster CA, optionally the namespace), as a
 * projected volume: mounted into the one container that talks to the API, not into the whole pod.
 */
export function projectedTokenVolume(name: string, o: { expirationSeconds: number; namespace: boolean }): Record<string, unknown> {
  return {
    name,
    projected: {
      defaultMode: 0o400,
      sources: [
        { serviceAccountToken: { path: "token", expirationSeconds: o.expirationSeconds } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        ...(o.namespace ? [{ downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } }] : []),
      ],
    },
  };
}

/** Secret values as `data` (base64): `stringData` is write-only, so every client-side apply would patch it again. */
function b64(v: string): string {
  return Buffer.from(v, "utf8").toString("base64");
}

/** Multi-document YAML, in apply order. */
export function toYaml(objects: KubeObject[]): string {
  return objects.map((o) => yaml.dump(o, { lineWidth: -1, noRefs: true, sortKeys: false })).join("---\n");
}
