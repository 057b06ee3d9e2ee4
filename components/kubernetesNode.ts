/**
 * One Ephemery node on a Kubernetes cluster (`kind: kubernetes`): the node's ContainerSpecs rendered by
 * lib/kubernetes/manifests.ts (with its reset, lib/kubernetes/reset.ts, and monitoring, lib/kubernetes/monitoring.ts)
 * and created as one typed @pulumi/kubernetes resource per object (lib/kubernetes/resources.ts says which), through
 * a Kubernetes provider of the node's own. Pulumi diffs, refreshes and deletes each object on its own.
 *
 * Beside the objects, a few @pulumi/command steps with kubectl (lib/kubernetes/kubectl.ts), for what a typed
 * resource cannot do safely: the namespace made when missing (a namespace may hold several nodes; deleting it
 * would delete their PVCs), the rollout wait (the provider's StatefulSet update await of 4.34.2 can return early),
 * the PVCs deleted at the node's destroy when retainDataOnDestroy is false, and the keys release
 * (components/kubernetesKeys.ts).
 *
 * Secrets: the kubeconfig is a Pulumi secret in the provider's inputs and in the commands' stdin, never on a
 * command line; the JWT, keys and receiver secrets are Secret objects whose data is a Pulumi secret.
 */
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { allSpecs, buildNodeSpecs, executionClients, consensusClients, NodeSpecs, validatorClientOf } from "../lib/clients";
import { clientLayout } from "../lib/keys/layout";
import { HostConfig, NetworkConfig } from "../lib/config/schema";
import { deleteDataCommand, kubeconfigStdin, namespaceCommand, rolloutCommand } from "../lib/kubernetes/kubectl";
import { KubeObject, objectNames, renderNodeManifests } from "../lib/kubernetes/manifests";
import { planResources, ResourceType } from "../lib/kubernetes/resources";
import { activeDeadlineSec, renderResetManifests, renderResetScript, stopTimeoutSec } from "../lib/kubernetes/reset";
import { keyExportChecker, renderKeyExportManifests, renderKeyExportScript } from "../lib/kubernetes/keyExport";
import { KubernetesValidatorKeys } from "./kubernetesKeys";
import { KeystorePasswords, scanKeys, stackKeystorePasswords } from "./validatorKeys";
import { nodePodSpecs, renderMonitoringManifests } from "../lib/kubernetes/monitoring";
import { KEYSET_ANNOTATION } from "../lib/kubernetes/keys";
import { placeholderSecrets, secretLookup } from "../lib/monitoring";

export interface KubernetesNodeArgs {
  /** The validated host settings (`hosts[i]`, kind kubernetes). */
  readonly config: HostConfig;
  /** Release source and schedule: the in-cluster reset fetches and verifies releases as a host's does. */
  readonly network: NetworkConfig;
  /** Checkpoint providers in the order to try; empty means genesis sync. */
  readonly checkpointSyncUrls: string[];
  /** The cluster's kubeconfig (a secret: ephemery:kubeconfigs.<host> or ephemery:kubeconfig). */
  readonly kubeconfig: pulumi.Input<string>;
  /** kubectl for the node's commands (namespace, rollout wait, data delete, keys release); default: `kubectl` on the PATH of `pulumi up`. */
  readonly kubectl?: string;
  /** Keystore passwords for validator.keys (secrets). Default: the stack's keystorePassword(s). */
  readonly keystorePasswords?: pulumi.Input<KeystorePasswords>;
  /** `ephemery:alertmanagerSecrets` (a secret), for the in-cluster monitoring's receivers. Default: none. */
  readonly alertmanagerSecrets?: pulumi.Input<Record<string, string>>;
  /** `ephemery:grafanaAdminPassword` (a secret). Default: generated once and kept in state as a secret. */
  readonly grafanaAdminPassword?: pulumi.Input<string>;
}

export class KubernetesNode extends pulumi.ComponentResource {
  public readonly specs: NodeSpecs;
  /** The node's objects without the Secrets (what policies and outputs may see). */
  public readonly objects: KubeObject[];
  public readonly namespace: string;
  public readonly jwt: pulumi.Output<string>;
  /** The node's Kubernetes provider (its kubeconfig and context). */
  public readonly provider: k8s.Provider;
  /** The node's objects as Pulumi resources, by resource name (`<node>-<kind>-<name>`, lib/kubernetes/resources.ts). */
  public readonly resources: Record<string, pulumi.CustomResource>;
  /** Makes the namespace when missing; every object waits for it. */
  public readonly namespaceStep: command.local.Command;
  public readonly keys?: KubernetesValidatorKeys;
  /** Grafana's admin password in the cluster, a Pulumi secret; undefined when monitoring or Grafana is off. */
  public readonly grafanaAdminPassword?: pulumi.Output<string>;

  constructor(name: string, args: KubernetesNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    const cfg = args.config;
    const k = cfg.kubernetes;
    if (!k) throw new Error(`host ${cfg.name}: kind kubernetes needs a kubernetes block (kubernetes: {})`);
    super("ephemery:kubernetes:KubernetesNode", name, { node: cfg.name, namespace: k.namespace, p2pExposure: k.p2pExposure }, opts);
    this.namespace = k.namespace;
    const specs = buildNodeSpecs({ node: cfg.name, host: cfg, checkpointSyncUrls: args.checkpointSyncUrls });
    this.specs = specs;
    const renderOpts = {
      namespace: k.namespace, storageClass: k.storageClass, p2pExposure: k.p2pExposure, imagePullPolicy: k.imagePullPolicy,
      dataDir: cfg.dataDir,
      volumeGiB: {
        testnet: k.testnetVolumeGiB,
        execution: executionClients[cfg.execution.client].minDiskGiB,
        consensus: consensusClients[cfg.consensus.client].minDiskGiB,
        validator: 1,
      },
    };
    // Without validator.keys a validator starts with its client's empty key set, as a host's does.
    const vc = validatorClientOf(cfg);
    const emptyKeyFiles = vc ? clientLayout(vc, []) : undefined;
    const keysCfg = vc ? cfg.validator?.keys : undefined;
    // Read and checked now: a bad key source stops the program before any resource.
    const scanned = keysCfg ? scanKeys(keysCfg, `validator.keys of host "${cfg.name}"`) : undefined;
    const pubkeys = scanned?.keys.map((key) => key.pubkey).sort();
    // The reset CronJob and its RBAC hold nothing secret (the program is rendered data, no key, no token).
    const resetObjects = renderResetManifests(cfg.name, {
      namespace: k.namespace, image: k.resetImage, imagePullPolicy: k.imagePullPolicy, schedule: cfg.reset.schedule, enabled: cfg.reset.enabled,
      script: renderResetScript(cfg, args.network, specs), roles: allSpecs(specs).map((s) => s.role), activeDeadlineSec: activeDeadlineSec(cfg, args.network, specs),
    });
    // The monitoring stack in the cluster (lib/kubernetes/monitoring.ts) is more of the node's resources: turning
    // monitoring off deletes them, and so does the node's destroy.
    const monitoring = cfg.monitoring.enabled;
    const podSpecs = nodePodSpecs(cfg, specs);
    const renderMonitoringWith = (alertmanager: Record<string, string> | undefined, grafanaAdminPassword: string | undefined) =>
      renderMonitoringManifests(cfg, specs, renderOpts, { alertmanager: alertmanager ? secretLookup(alertmanager) : placeholderSecrets, grafanaAdminPassword });
    // Rendered once with placeholder secrets for the plain objects (the JWT, keys and receivers only ever land in
    // Secrets); a render error (a port outside the NodePort range, two clients on one port) surfaces here, before any resource.
    const placeholder = {
      node: renderNodeManifests(cfg.name, podSpecs, renderOpts, { jwtHex: "0".repeat(64), keyFiles: emptyKeyFiles, pubkeys }),
      monitoring: monitoring ? renderMonitoringWith(undefined, "placeholder") : { objects: [], secrets: [] },
    };
    this.objects = [...placeholder.node.objects, ...resetObjects, ...placeholder.monitoring.objects];
    const target = { namespace: k.namespace, node: cfg.name, context: k.context, kubectl: args.kubectl };
    if (keysCfg && scanned && vc) {
      type Sts = { spec: { replicas: number; template: { spec: { containers: { name: string; securityContext?: Record<string, unknown> }[] } } } };
      const statefulSet = this.objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === cfg.name) as Sts | undefined;
      // The export runs the client's tool as the VC runs (its image and user), for keys that leave this node.
      const exportDeadlineSec = 900;
      const exportObjects = renderKeyExportManifests(cfg.name, {
        namespace: k.namespace, validatorClient: vc, validatorImage: specs.validator!.image,
        validatorSecurityContext: statefulSet?.spec.template.spec.containers.find((c) => c.name === "validator")?.securityContext,
        image: k.resetImage, imagePullPolicy: k.imagePullPolicy, activeDeadlineSec: exportDeadlineSec,
        script: renderKeyExportScript(cfg.name, k.namespace), checker: keyExportChecker(),
      });
      this.keys = new KubernetesValidatorKeys(`${name}-keys`, {
        config: cfg, scanned, validatorClient: vc, passwords: args.keystorePasswords ?? stackKeystorePasswords(cfg.name),
        kubeconfig: args.kubeconfig, target, replicas: statefulSet?.spec.replicas ?? 0,
        exportObjects, releaseTimeouts: { stopSec: stopTimeoutSec(specs), exportSec: exportDeadlineSec + 60 },
      }, { parent: this });
    }
    const keys = this.keys;

    // Generated on the workstation at create time only, so every later `up` keeps the same secret.
    const generated = new command.local.Command(
      `${name}-jwt-generate`,
      { create: `node -e "process.stdout.write(require('crypto').randomBytes(32).toString('hex'))"`, logging: "none" },
      { parent: this, additionalSecretOutputs: ["stdout"] },
    );
    this.jwt = pulumi.secret(generated.stdout);
    const grafanaOn = monitoring && cfg.monitoring.grafana;
    if (grafanaOn && args.grafanaAdminPassword === undefined) {
      const pw = new command.local.Command(
        `${name}-grafana-secret-generate`,
        { create: `node -e "process.stdout.write(require('crypto').randomBytes(18).toString('base64url'))"`, logging: "none" },
        { parent: this, additionalSecretOutputs: ["stdout"] },
      );
      this.grafanaAdminPassword = pulumi.secret(pw.stdout);
    } else if (grafanaOn) {
      this.grafanaAdminPassword = pulumi.secret(pulumi.output(args.grafanaAdminPassword!));
    }

    // The provider's inputs hold the kubeconfig (a secret in state; the SDK's schema does not mark it, so the
    // program does). Mutable ConfigMaps and Secrets: a data change updates the object in place, as `kubectl
    // apply` did; the provider's default would replace it, and a replace of a named object deletes it first (a
    // window without the node's JWT, keys or program). Pods roll from their templates' digests instead: the keys'
    // (lib/kubernetes/keys.ts keyAnnotations) and the monitoring files' (lib/kubernetes/monitoring.ts); the reset
    // reads its ConfigMap at each run.
    this.provider = new k8s.Provider(`${name}-provider`, {
      kubeconfig: pulumi.secret(pulumi.output(args.kubeconfig)),
      ...(k.context ? { context: k.context } : {}),
      enableServerSideApply: true,
      enableConfigMapMutable: true,
      enableSecretMutable: true,
    }, { parent: this });
    const kubeconfigIn = pulumi.secret(pulumi.output(args.kubeconfig).apply(kubeconfigStdin));
    const nsScript = namespaceCommand(target);
    // An older stack's `<node>-apply` (kubectl apply --prune of every object) becomes this command: an update,
    // never its delete, which would delete every object of the node.
    this.namespaceStep = new command.local.Command(
      `${name}-namespace`,
      { create: nsScript, update: nsScript, stdin: kubeconfigIn, logging: "stdoutAndStderr" },
      { parent: this, aliases: [{ name: `${name}-apply` }] },
    );

    // The real render: the same objects as the placeholder one, but the Secrets' data from the secret values, and
    // the node's pod template from the real key set (its file items and digest).
    const rendered = pulumi.secret(pulumi.all([this.jwt, keys?.values, args.alertmanagerSecrets ?? {}, this.grafanaAdminPassword ?? ""]).apply(([jwtHex, keyValues, am, grafanaPw]) => {
      const m = renderNodeManifests(cfg.name, podSpecs, renderOpts, keyValues ? { jwtHex, ...keyValues } : { jwtHex, keyFiles: emptyKeyFiles });
      const mon = monitoring ? renderMonitoringWith(am, grafanaPw || undefined) : { objects: [], secrets: [] };
      return { objects: [...m.objects, ...mon.objects], secrets: [...m.secrets, ...mon.secrets] };
    }));
    const find = (list: "objects" | "secrets", o: KubeObject) => rendered.apply((r) => {
      const found = r[list].find((x) => x.kind === o.kind && x.metadata.name === o.metadata.name);
      if (!found) throw new Error(`${cfg.name}: ${o.kind} ${o.metadata.name} is missing from the render with the secret values`);
      return found;
    });

    // Keys moved in from another node wait moveWaitEpochs before the pod may start with them, as a host's install
    // does; this runs after every release step of the update (keys.releases), and the keys Secret and the
    // StatefulSet after it. The key set's digest in the script makes it run again whenever the key set changes.
    let keysWait: command.local.Command | undefined;
    if (keys) {
      const digest = find("objects", placeholder.node.objects.find((o) => o.kind === "StatefulSet")!)
        .apply((o) => (o as unknown as { spec: { template: { metadata: { annotations?: Record<string, string> } } } }).spec.template.metadata.annotations?.[KEYSET_ANNOTATION] ?? "");
      const waitScript = pulumi.unsecret(pulumi.all([keys.moveWaitSec, digest]).apply(([sec, d]) => `# key set ${d}\n${sec > 0 ? `sleep ${Math.floor(sec)}` : "true"}`));
      keysWait = new command.local.Command(
        `${name}-keys-wait`,
        { create: waitScript, update: waitScript, logging: "stderr" },
        { parent: this, dependsOn: keys.releases.apply((rs) => [this.namespaceStep, ...rs]) as unknown as pulumi.Input<pulumi.Resource>[] },
      );
    }

    // Always there, so that turning retainDataOnDestroy on never deletes it (its delete would run): its delete
    // removes the node's PVCs only while retainDataOnDestroy is false, after the StatefulSets (they depend on it).
    const dataStep = new command.local.Command(
      `${name}-data`,
      { create: "true", update: "true", ...(k.retainDataOnDestroy ? {} : { delete: deleteDataCommand(target) }), stdin: kubeconfigIn, logging: "stdoutAndStderr" },
      { parent: this, dependsOn: [this.namespaceStep] },
    );

    const plan = planResources(cfg.name, [...this.objects, ...placeholder.node.secrets, ...placeholder.monitoring.secrets]);
    const nodeStatefulSet = objectNames(cfg.name).statefulSet;
    const keysSecret = objectNames(cfg.name).keysSecret;
    const isWorkload = (o: KubeObject) => o.kind === "StatefulSet" || o.kind === "CronJob";
    const made: Record<string, pulumi.CustomResource> = {};
    // Configuration first (Secrets, ConfigMaps, Services, RBAC), then the workloads that mount or use it.
    const config: pulumi.CustomResource[] = [];
    const statefulSets: k8s.apps.v1.StatefulSet[] = [];
    for (const p of [...plan.filter((x) => !isWorkload(x.object)), ...plan.filter((x) => isWorkload(x.object))]) {
      const o = p.object;
      const inputs: Record<string, unknown> = { ...o };
      if (o.kind === "Secret") inputs.data = pulumi.secret(find("secrets", o).apply((x) => x.data));
      const keyed = keysWait && ((o.kind === "StatefulSet" && o.metadata.name === nodeStatefulSet) || (o.kind === "Secret" && o.metadata.name === keysSecret));
      if (keyed && o.kind === "StatefulSet") {
        // File names and digest of the real key set: public (pubkeys, paths), so plain in state and in the diff.
        inputs.spec = { ...(o.spec as object), template: pulumi.unsecret(find("objects", o).apply((x) => (x.spec as { template: unknown }).template)) };
      }
      const dependsOn: pulumi.Resource[] = [this.namespaceStep, ...(isWorkload(o) ? config : []), ...(o.kind === "StatefulSet" ? [dataStep] : []), ...(keyed ? [keysWait!] : [])];
      const r = new RESOURCE_CLASSES[p.type](p.resourceName, inputs, { parent: this, provider: this.provider, dependsOn });
      made[p.resourceName] = r;
      if (!isWorkload(o)) config.push(r);
      if (o.kind === "StatefulSet") statefulSets.push(r as k8s.apps.v1.StatefulSet);
    }
    this.resources = made;

    // The rollout of the StatefulSets, waited for whenever one of them changed: each one's uid and generation in
    // the script make it an update (command 1.2.1 replaces on a `triggers` change, an extra delete step).
    const stsNames = plan.filter((p) => p.object.kind === "StatefulSet").map((p) => p.object.metadata.name);
    const rollout = pulumi.all(statefulSets.map((s) => pulumi.all([s.metadata.uid, s.metadata.generation]))).apply((seen) =>
      [...seen.map(([uid, gen], i) => `# statefulset ${stsNames[i]}: uid ${uid}, generation ${gen}`), rolloutCommand(target, stsNames)].join("\n"));
    new command.local.Command(
      `${name}-rollout`,
      { create: rollout, update: rollout, stdin: kubeconfigIn, logging: "stdoutAndStderr" },
      { parent: this, dependsOn: statefulSets },
    );
    this.registerOutputs({ namespace: this.namespace, statefulSet: cfg.name });
  }
}

type ResourceClass = new (name: string, args: any, opts: pulumi.CustomResourceOptions) => pulumi.CustomResource;
/** The class for each type lib/kubernetes/resources.ts plans. */
const RESOURCE_CLASSES: Record<ResourceType, ResourceClass> = {
  "core.v1.ConfigMap": k8s.core.v1.ConfigMap,
  "core.v1.Secret": k8s.core.v1.Secret,
  "core.v1.Service": k8s.core.v1.Service,
  "core.v1.ServiceAccount": k8s.core.v1.ServiceAccount,
  "apps.v1.StatefulSet": k8s.apps.v1.StatefulSet,
  "batch.v1.CronJob": k8s.batch.v1.CronJob,
  "rbac.v1.Role": k8s.rbac.v1.Role,
  "rbac.v1.RoleBinding": k8s.rbac.v1.RoleBinding,
};

/** What a kubernetes node exports: where it runs and what runs there. Nothing secret. */
export function kubernetesNodeOutputs(node: KubernetesNode, cfg: HostConfig) {
  const { execution, consensus, validator } = node.specs;
  return pulumi.output({
    name: cfg.name,
    kind: "kubernetes",
    namespace: node.namespace,
    statefulSet: cfg.name,
    clients: {
      execution: { client: execution.client, image: execution.image, container: execution.name },
      consensus: { client: consensus.client, image: consensus.image, container: consensus.name },
      ...(validator ? { validator: { client: validator.client, image: validator.image, container: validator.name } } : {}),
    },
  });
}
