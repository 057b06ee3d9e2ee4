/**
 * One Ephemery node on a Kubernetes cluster (`kind: kubernetes`): the node's ContainerSpecs rendered by
 * lib/kubernetes/manifests.ts and applied with kubectl through @pulumi/command.
 *
 * Why kubectl and not @pulumi/kubernetes: its provider plugin is not installable offline here (the npm package's
 * install script downloads it; building it from github.com/pulumi/pulumi-kubernetes takes ~27 min and a 292 MiB
 * binary, see TESTBED.md). The manifests are plain objects, so moving to @pulumi/kubernetes later is a renderer
 * swap. The cost today: Pulumi sees one command resource per node, not each Kubernetes object (no per-object diff
 * or refresh); `kubectl apply --prune` keeps the cluster equal to the manifests.
 *
 * Secrets: the kubeconfig and the manifests with the JWT and keys travel only in the command's stdin, a Pulumi
 * secret (encrypted in state); the command line holds validated names only (lib/kubernetes/kubectl.ts).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { allSpecs, buildNodeSpecs, executionClients, consensusClients, NodeSpecs, validatorClientOf } from "../lib/clients";
import { clientLayout } from "../lib/keys/layout";
import { HostConfig, NetworkConfig } from "../lib/config/schema";
import { applyCommand, deleteCommand, kubectlStdin } from "../lib/kubernetes/kubectl";
import { KubeObject, renderNodeManifests } from "../lib/kubernetes/manifests";
import { activeDeadlineSec, renderResetManifests, renderResetScript, stopTimeoutSec } from "../lib/kubernetes/reset";
import { keyExportChecker, renderKeyExportManifests, renderKeyExportScript } from "../lib/kubernetes/keyExport";
import { KubernetesValidatorKeys } from "./kubernetesKeys";
import { KeystorePasswords, scanKeys, stackKeystorePasswords } from "./validatorKeys";
import { monitoringObjectNames, nodePodSpecs, renderMonitoringManifests } from "../lib/kubernetes/monitoring";
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
  /** kubectl to run (default: `kubectl` on the PATH of `pulumi up`). */
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
  public readonly apply: command.local.Command;
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
      retainDataOnDestroy: k.retainDataOnDestroy, dataDir: cfg.dataDir,
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
    // The monitoring stack in the cluster (lib/kubernetes/monitoring.ts) goes in the node's own apply, so it is
    // pruned with the node's objects when monitoring is turned off and deleted with the node.
    const monitoring = cfg.monitoring.enabled;
    const podSpecs = nodePodSpecs(cfg, specs);
    const renderMonitoringWith = (alertmanager: Record<string, string> | undefined, grafanaAdminPassword: string | undefined) =>
      renderMonitoringManifests(cfg, specs, renderOpts, { alertmanager: alertmanager ? secretLookup(alertmanager) : placeholderSecrets, grafanaAdminPassword });
    // Rendered once with placeholder secrets for the plain objects (the JWT, keys and receivers only ever land in
    // Secrets); a render error (a port outside the NodePort range, two clients on one port) surfaces here, before any resource.
    this.objects = [
      ...renderNodeManifests(cfg.name, podSpecs, renderOpts, { jwtHex: "0".repeat(64), keyFiles: emptyKeyFiles, pubkeys }).objects,
      ...resetObjects,
      ...(monitoring ? renderMonitoringWith(undefined, "placeholder").objects : []),
    ];
    const target = {
      namespace: k.namespace, node: cfg.name, context: k.context, kubectl: args.kubectl,
      alsoRollOut: monitoring ? [monitoringObjectNames(cfg.name).statefulSet] : [],
    };
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
    const stdin = pulumi.secret(pulumi.all([args.kubeconfig, this.jwt, keys?.values, args.alertmanagerSecrets ?? {}, this.grafanaAdminPassword ?? ""]).apply(([kubeconfig, jwtHex, keyValues, am, grafanaPw]) => {
      const m = renderNodeManifests(cfg.name, podSpecs, renderOpts, keyValues ? { jwtHex, ...keyValues } : { jwtHex, keyFiles: emptyKeyFiles });
      const mon = monitoring ? renderMonitoringWith(am, grafanaPw || undefined) : { objects: [], secrets: [] };
      return kubectlStdin(kubeconfig, [...m.objects, ...resetObjects, ...mon.objects, ...m.secrets, ...mon.secrets]);
    }));
    // Keys moved in from a host wait moveWaitEpochs before the new pod starts with them, as a host's install does.
    const apply = keys ? keys.moveWaitSec.apply((sec) => `${sec > 0 ? `sleep ${Math.floor(sec)}\n` : ""}${applyCommand(target)}`) : applyCommand(target);
    // Like a host's install, a node with keys applies after every release step of the update.
    const dependsOn = keys
      ? keys.releases.apply((rs) => [generated, ...rs]) as unknown as pulumi.Input<pulumi.Resource>[]
      : [generated];
    this.apply = new command.local.Command(
      `${name}-apply`,
      // A changed stdin (new images, settings, keys, kubeconfig) updates in place: kubectl apply is the update.
      { create: apply, update: apply, delete: deleteCommand(target), stdin, logging: "stdoutAndStderr" },
      { parent: this, dependsOn },
    );
    this.registerOutputs({ namespace: this.namespace, statefulSet: cfg.name });
  }
}

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
