/**
 * The Ephemery reset of a `kind: kubernetes` node, running in its cluster: a CronJob `<node>-reset` that runs the
 * very program hosts run from cron (host-scripts/ephemery-reset.sh, RUNTIME=kubernetes) with the node's testnet
 * and data PVCs mounted. Same download bounds, same release checker (lib/reset/release.ts), same journal, same
 * keep-lists; only "stop the clients" differs: the StatefulSet is scaled to 0 and the pod awaited gone, and
 * "start" scales it back to 1. Pure: no Pulumi, no cluster.
 *
 * The reset pod's service account may only get/patch the scale of this node's StatefulSet and get its one pod
 * (resourceNames); the client pod keeps mounting no token. Its state (marker, journal, failure count) lives on
 * the testnet PVC, which survives the job's pods; the client pod's init container waits while a switch is
 * journalled there, so a pod started by anyone mid-switch (a `pulumi up`, a human scaling it) never runs on
 * half-wiped data.
 */
import { NodeSpecs } from "../clients";
import { PATHS } from "../clients/types";
import { HostConfig, NetworkConfig } from "../config/schema";
import { renderHostScript, ScriptValues, shellArray } from "../hostScripts";
import { lockWaitSec, RESET_SCRIPT, resetScriptValues, checkpointProviders } from "../reset/values";
import { ImagePullPolicy, KubeObject, KubernetesRenderError, labelsOf, objectNames, RESET_METRICS_SUBDIR, RESET_STATE_ROOT, roleBoundServiceAccount } from "./manifests";

/** Where the reset pod mounts what (the testnet PVC where the clients mount it, so `current` means the same). */
export const RESET_POD_PATHS = {
  program: "/opt/ephemery-reset",
  testnet: PATHS.testnetRoot,
  state: `${RESET_STATE_ROOT}/state`,
  archive: `${RESET_STATE_ROOT}/archive`,
  textfile: `${PATHS.testnetRoot}/${RESET_METRICS_SUBDIR}`,
  volume: (role: string) => `/ephemery/volumes/${role}-data`,
} as const;

export function resetObjectNames(node: string) {
  const n = `${node}-reset`;
  return { serviceAccount: n, role: n, roleBinding: n, configMap: n, cronJob: n, pod: `${objectNames(node).statefulSet}-0` };
}

/** Labels of the reset's objects: the node's instance (so apply's prune and destroy find them), never the pod's selector. */
export function resetLabels(node: string): Record<string, string> {
  return { ...labelsOf(node), "app.kubernetes.io/name": "ephemery-reset" };
}

/** How long the reset waits for the node's pod to be gone after scaling to 0: the pod's grace period and a minute. */
export function stopTimeoutSec(specs: NodeSpecs): number {
  const all = [specs.execution, specs.consensus, ...(specs.validator ? [specs.validator] : [])];
  return Math.max(...all.map((s) => s.stopGraceSec)) + 60;
}

/** The reset program's values for a cluster node: the host's values, with the pod's paths and the StatefulSet as the runtime. */
export function kubernetesResetValues(host: HostConfig, network: NetworkConfig, specs: NodeSpecs): ScriptValues {
  const k = host.kubernetes;
  if (!k) throw new KubernetesRenderError(`host ${host.name}: kind kubernetes needs a kubernetes block`);
  const p = RESET_POD_PATHS;
  return {
    ...resetScriptValues(host, network, specs),
    NODE_DIR: "/ephemery",
    TESTNET_DIR: p.testnet,
    STATE_DIR: p.state,
    ARCHIVE_DIR: p.archive,
    TEXTFILE_DIR: p.textfile,
    RUNTIME: "kubernetes",
    COMPOSE_ARGS: shellArray([]),
    // Volumes are the claims mounted in the reset pod; the clients listen on the pod's address ({pod} at run time).
    EL_VOLUME: p.volume("execution"),
    CL_VOLUME: p.volume("consensus"),
    VC_VOLUME: specs.validator ? p.volume("validator") : "",
    EL_RPC_URL: `http://{pod}:${host.execution.rpcPort}`,
    CL_API_URL: `http://{pod}:${host.consensus.beaconApiPort}`,
    K8S_NAMESPACE: k.namespace,
    K8S_STATEFULSET: objectNames(host.name).statefulSet,
    K8S_POD: resetObjectNames(host.name).pod,
    K8S_STOP_TIMEOUT_SEC: stopTimeoutSec(specs),
    // validator.keys is refused on kubernetes hosts, so there is nothing to re-deposit.
    REDEPOSIT_JS: "",
    REDEPOSIT_SETTINGS: "",
  };
}

export function renderResetScript(host: HostConfig, network: NetworkConfig, specs: NodeSpecs): string {
  return renderHostScript(RESET_SCRIPT, kubernetesResetValues(host, network, specs));
}

export interface ResetManifestOptions {
  namespace: string;
  image: string;
  imagePullPolicy: ImagePullPolicy;
  /** Cron schedule (hosts[].reset.schedule). */
  schedule: string;
  /** false suspends the CronJob (hosts[].reset.enabled). */
  enabled: boolean;
  /** The rendered program (renderResetScript): no secret in it, so a ConfigMap. */
  script: string;
  /** Data roles of the node (execution, consensus, validator): their PVCs are mounted. */
  roles: string[];
  /** The job's deadline: longer than one run can take (lock wait, stop, checks). */
  activeDeadlineSec: number;
}

/** The job's deadline for a host: what `ensure` waits for the lock on a host, plus the pod's stop timeout. */
export function activeDeadlineSec(host: HostConfig, network: NetworkConfig, specs: NodeSpecs): number {
  return lockWaitSec(checkpointProviders(host, network).length) + stopTimeoutSec(specs);
}

export function renderResetManifests(node: string, o: ResetManifestOptions): KubeObject[] {
  const names = resetObjectNames(node);
  const labels = resetLabels(node);
  const meta = (name: string) => ({ name, namespace: o.namespace, labels });
  const pvc = objectNames(node).pvc;
  const dataRoles = o.roles.filter((r) => r === "execution" || r === "consensus" || r === "validator");
  const volumes: Record<string, unknown>[] = [
    { name: "program", configMap: { name: names.configMap, defaultMode: 0o555 } },
    { name: "testnet", persistentVolumeClaim: { claimName: pvc("testnet") } },
    ...dataRoles.map((r) => ({ name: `${r}-data`, persistentVolumeClaim: { claimName: pvc(`${r}-data`) } })),
  ];
  const mounts = [
    { name: "program", mountPath: RESET_POD_PATHS.program, readOnly: true },
    { name: "testnet", mountPath: RESET_POD_PATHS.testnet },
    ...dataRoles.map((r) => ({ name: `${r}-data`, mountPath: RESET_POD_PATHS.volume(r) })),
  ];
  const cronJob: KubeObject = {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: meta(names.cronJob),
    spec: {
      schedule: o.schedule,
      suspend: !o.enabled,
      // One run at a time (the program's flock guards the PVC too); a missed minute is caught up within 5 min.
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          // The next minute's run is the retry, resuming a journalled switch where this one stopped.
          backoffLimit: 0,
          activeDeadlineSeconds: o.activeDeadlineSec,
          ttlSecondsAfterFinished: 3600,
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: names.serviceAccount,
              automountServiceAccountToken: true,
              enableServiceLinks: false,
              restartPolicy: "Never",
              // ReadWriteOnce claims: next to the node's pod while it runs. Preferred, not required: while the pod
              // is scaled to 0 (a switch interrupted) there is no pod to be next to, and the run must still happen.
              affinity: {
                podAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [{
                    weight: 100,
                    podAffinityTerm: { labelSelector: { matchLabels: labelsOf(node) }, topologyKey: "kubernetes.io/hostname" },
                  }],
                },
              },
              containers: [{
                name: "reset",
                image: o.image,
                imagePullPolicy: o.imagePullPolicy,
                command: ["bash", `${RESET_POD_PATHS.program}/ephemery-reset`, "run"],
                volumeMounts: mounts,
                // Root: the wipe removes files the clients wrote under their own uids.
                securityContext: { runAsUser: 0, allowPrivilegeEscalation: false },
                resources: { requests: { memory: "256Mi" }, limits: { memory: "1Gi" } },
              }],
              volumes,
            },
          },
        },
      },
    },
  };
  return [
    // One name for the three (resetObjectNames): the helper names them alike.
    ...roleBoundServiceAccount(names.serviceAccount, o.namespace, labels, [
      { apiGroups: ["apps"], resources: ["statefulsets/scale"], resourceNames: [objectNames(node).statefulSet], verbs: ["get", "patch"] },
      { apiGroups: [""], resources: ["pods"], resourceNames: [names.pod], verbs: ["get"] },
    ]),
    { apiVersion: "v1", kind: "ConfigMap", metadata: meta(names.configMap), data: { "ephemery-reset": o.script } },
    cronJob,
  ];
}
