/**
 * The slashing-protection export of a `kind: kubernetes` node whose validator keys leave it for another node in a
 * `pulumi up` (the release step, lib/kubernetes/keyRelease.ts, creates these objects while the node's pod is
 * stopped, and deletes them once it has read the result). Pure, but for the bundling of the checker.
 *
 * Why a Job and a Secret: the slashing-protection database is in the VC's data PVC, which only a pod can read;
 * kubectl logs/exec need the kubelet's API (not reachable on every cluster, nor in the test tier), and a
 * container's termination message holds 4 KiB. So the Job's init container runs the client's own export
 * (KEY_TOOLS exportCmd, exactly as a host's release runs it) in the VC's image with the data PVC, into an
 * emptyDir; its main container (resetImage: bash, curl, node) checks it with the program's parser, keeps the
 * moving keys' watermarks (lib/kubernetes/keyExportCheck.ts) and PATCHes them into the pre-created Secret with
 * its own token (host-scripts/kube-api.sh, shared with the reset CronJob). Its Role allows get and patch of that
 * one Secret only; the token is projected into the main container only, never into the client's image.
 * The moving pubkeys (public) reach the Job through the same Secret, written before the Job is unsuspended.
 */
import * as path from "path";
import { bundleProgram } from "../bundle";
import { PATHS } from "../clients/types";
import { renderHostScript, ScriptValues } from "../hostScripts";
import { DOWNLOAD_LIMITS } from "../reset/values";
import { KEY_TOOLS, ValidatorClientName } from "../keys/layout";
import { EXPORTED_KEY } from "./keyExportCheck";
import { escapeKubeExpansion, ImagePullPolicy, KubeObject, labelsOf, objectNames, projectedTokenVolume, roleBoundServiceAccount } from "./manifests";

export { EXPORTED_KEY };
export const EXPORT_SCRIPT = "keys-export.sh";
export const EXPORT_INIT_CONTAINER = "export-slashing-protection";
export const PUBLISH_CONTAINER = "publish";
/** The data key of the export Secret holding the moving pubkeys, comma-separated (written by the release step). */
export const REQUEST_KEY = "moving-pubkeys";
/** Where the service-account token goes: the path every in-cluster client (and kube-api.sh) reads. */
const TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export const KEY_EXPORT_PATHS = {
  program: "/opt/ephemery-keys-export",
  export: "/export",
  request: "/request",
} as const;

/** One name for every export object: the release step deletes them by name. */
export function keyExportNames(node: string) {
  const n = `${node}-keys-export`;
  return { job: n, secret: n, serviceAccount: n, role: n, roleBinding: n, configMap: n };
}

export function keyExportLabels(node: string): Record<string, string> {
  return { ...labelsOf(node), "app.kubernetes.io/name": "ephemery-keys-export" };
}

/** lib/kubernetes/keyExportCheck.ts with what it imports, as one file for a bare Node.js. */
export function keyExportChecker(): string {
  return bundleProgram(path.join(__dirname, "keyExportCheck.ts"), "ephemery keys-export check, bundled from lib/kubernetes/keyExportCheck.ts by pulumi-ephemery.");
}

export function renderKeyExportScript(node: string, namespace: string): string {
  return renderHostScript(EXPORT_SCRIPT, keyExportScriptValues(node, namespace));
}

/** The publisher's values (host-scripts/keys-export.sh): names and the pod's paths, nothing secret. */
export function keyExportScriptValues(node: string, namespace: string): ScriptValues {
  const p = KEY_EXPORT_PATHS;
  return {
    NODE: node,
    K8S_NAMESPACE: namespace,
    K8S_SECRET: keyExportNames(node).secret,
    EXPORT_FILE: `${p.export}/${EXPORTED_KEY}`,
    REQUEST_FILE: `${p.request}/${REQUEST_KEY}`,
    CHECKER_JS: `${p.program}/check.js`,
    // The PATCH answers with the whole Secret.
    API_MAX_BYTES: 4 * 1024 * 1024,
    API_MAX_TIME_SEC: DOWNLOAD_LIMITS.apiMaxTimeSec,
  };
}

export interface KeyExportOptions {
  namespace: string;
  validatorClient: ValidatorClientName;
  /** The VC's image and securityContext as the StatefulSet runs it (its tool image is derived as on a host). */
  validatorImage: string;
  validatorSecurityContext?: Record<string, unknown>;
  /** kubernetes.resetImage: bash, curl and node. */
  image: string;
  imagePullPolicy: ImagePullPolicy;
  /** The Job's deadline: the export of a large database plus image pulls. */
  activeDeadlineSec: number;
  /** renderKeyExportScript and keyExportChecker: no secret in either, so a ConfigMap. */
  script: string;
  checker: string;
}

/** The export's objects, the Job suspended: the release step writes the request, then starts it. */
export function renderKeyExportManifests(node: string, o: KeyExportOptions): KubeObject[] {
  const names = keyExportNames(node);
  const labels = keyExportLabels(node);
  const meta = (name: string) => ({ name, namespace: o.namespace, labels });
  const tools = KEY_TOOLS[o.validatorClient];
  const exportFile = `${KEY_EXPORT_PATHS.export}/${EXPORTED_KEY}`;
  const job: KubeObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: meta(names.job),
    spec: {
      suspend: true,
      backoffLimit: 0,
      activeDeadlineSeconds: o.activeDeadlineSec,
      // A release step that died leaves it for an hour at most (the next release deletes it first).
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: names.serviceAccount,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          restartPolicy: "Never",
          initContainers: [{
            name: EXPORT_INIT_CONTAINER,
            image: tools.toolImage ? tools.toolImage(o.validatorImage) : o.validatorImage,
            imagePullPolicy: o.imagePullPolicy,
            command: ["/bin/sh", "-c", escapeKubeExpansion(`set -eu\n( ${tools.exportCmd} ) > ${exportFile}.tmp\nmv ${exportFile}.tmp ${exportFile}`)],
            volumeMounts: [
              { name: "validator-data", mountPath: PATHS.data },
              { name: "testnet", mountPath: PATHS.testnetRoot, readOnly: true },
              { name: "export", mountPath: KEY_EXPORT_PATHS.export },
            ],
            ...(o.validatorSecurityContext ? { securityContext: o.validatorSecurityContext } : {}),
          }],
          containers: [{
            name: PUBLISH_CONTAINER,
            image: o.image,
            imagePullPolicy: o.imagePullPolicy,
            command: ["bash", `${KEY_EXPORT_PATHS.program}/keys-export`],
            volumeMounts: [
              { name: "program", mountPath: KEY_EXPORT_PATHS.program, readOnly: true },
              { name: "export", mountPath: KEY_EXPORT_PATHS.export, readOnly: true },
              { name: "request", mountPath: KEY_EXPORT_PATHS.request, readOnly: true },
              { name: "api-token", mountPath: TOKEN_DIR, readOnly: true },
            ],
            // Root as the reset's container: it reads the export the client wrote under its own uid.
            securityContext: { runAsUser: 0, allowPrivilegeEscalation: false },
            resources: { requests: { memory: "128Mi" }, limits: { memory: "1Gi" } },
          }],
          volumes: [
            { name: "validator-data", persistentVolumeClaim: { claimName: objectNames(node).pvc("validator-data") } },
            { name: "testnet", persistentVolumeClaim: { claimName: objectNames(node).pvc("testnet"), readOnly: true } },
            { name: "export", emptyDir: { sizeLimit: "512Mi" } },
            { name: "program", configMap: { name: names.configMap, defaultMode: 0o444 } },
            { name: "request", secret: { secretName: names.secret, items: [{ key: REQUEST_KEY, path: REQUEST_KEY }], defaultMode: 0o400 } },
            // What automounting would give, for this container only.
            projectedTokenVolume("api-token", { expirationSeconds: 3600, namespace: false }),
          ],
        },
      },
    },
  };
  return [
    ...roleBoundServiceAccount(names.serviceAccount, o.namespace, labels, [
      { apiGroups: [""], resources: ["secrets"], resourceNames: [names.secret], verbs: ["get", "patch"] },
    ]),
    { apiVersion: "v1", kind: "ConfigMap", metadata: meta(names.configMap), data: { "keys-export": o.script, "check.js": o.checker } },
    // Empty until the release step writes the request; no secret ever in it (pubkeys, slashing protection).
    { apiVersion: "v1", kind: "Secret", metadata: meta(names.secret), type: "Opaque", data: {} },
    job,
  ];
}
