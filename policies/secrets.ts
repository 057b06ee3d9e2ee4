/**
 * Secrets: JWT secrets, SSH private keys, keystore passwords, the Grafana admin password and cloud tokens
 * are Pulumi secrets, never on a command line or in plain inputs, and never a well-known default.
 *
 * The Node.js policy SDK unwraps secrets before it calls `validateResource`, so a validation cannot tell a
 * secret from plain text. Remediations get the inputs with secrets still marked: `secret-inputs-are-secret`
 * is a remediation, and it turns a plain secret-carrying input into a secret before the engine stores it.
 */
import { ResourceRemediation, ResourceValidationPolicy, Secret } from "@pulumi/policy";
import { asArray, COMMAND_TYPES, CONTAINER_TYPE, Facts, label, plainInputs, rememberInputs, ResourceRule } from "./common";

const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY-----/;
const JWT_HEX = /^\s*(0x)?[0-9a-fA-F]{64}\s*$/;
const SECRET_ENV = /^([A-Z0-9_]*(PASSWORD|PASSWD|TOKEN|SECRET|PRIVATE_KEY|API_KEY))=(.+)$/;
const SECRET_FLAG = /--?([a-z0-9.-]*(password|passwd|token|secret|private-key|api-key))[= ]+("[^"]*"|'[^']*'|\S+)/gi;

/** Whether a value is secret material by its shape: a private key, a JWT, a keystore password file. */
export function looksSecret(value: unknown): boolean {
  return typeof value === "string" && (PEM_PRIVATE_KEY.test(value) || JWT_HEX.test(value));
}

/**
 * Inputs that carry secrets, as paths from the resource's inputs. A command's stdin counts when its content
 * is secret material or when the command is quiet (the program turns logging off for secret-writing commands).
 */
export function secretInputPaths(r: Facts): string[][] {
  const paths: string[][] = [];
  if (COMMAND_TYPES.includes(r.type)) {
    if (r.props.stdin !== undefined && (looksSecret(r.props.stdin) || r.props.logging === "none")) paths.push(["stdin"]);
    for (const k of ["privateKey", "password", "privateKeyPassword"]) if (r.props.connection?.[k] !== undefined) paths.push(["connection", k]);
  }
  if (r.type === "pulumi:providers:hcloud" && r.props.token !== undefined) paths.push(["token"]);
  if (r.type === "pulumi:providers:aws") for (const k of ["secretKey", "token"]) if (r.props[k] !== undefined) paths.push([k]);
  if (r.type === CONTAINER_TYPE) {
    asArray<string>(r.props.envs).forEach((e, i) => { if (typeof e === "string" && SECRET_ENV.test(e)) paths.push(["envs", String(i)]); });
  }
  // A Kubernetes Secret's values (the JWT, keystores, receiver URLs) and the kubeconfig of a Kubernetes provider.
  if (r.type === K8S_SECRET_TYPE) for (const k of ["data", "stringData"]) if (r.props[k] !== undefined) paths.push([k]);
  if (r.type === "pulumi:providers:kubernetes" && r.props.kubeconfig !== undefined) paths.push(["kubeconfig"]);
  return paths;
}

export const K8S_SECRET_TYPE = "kubernetes:core/v1:Secret";
export const K8S_CONFIGMAP_TYPE = "kubernetes:core/v1:ConfigMap";
/** Workloads whose pod templates the command-line check reads. */
const K8S_WORKLOADS: Record<string, (props: any) => any> = {
  "kubernetes:apps/v1:StatefulSet": (p) => p.spec?.template?.spec,
  "kubernetes:apps/v1:Deployment": (p) => p.spec?.template?.spec,
  "kubernetes:apps/v1:DaemonSet": (p) => p.spec?.template?.spec,
  "kubernetes:batch/v1:Job": (p) => p.spec?.template?.spec,
  "kubernetes:batch/v1:CronJob": (p) => p.spec?.jobTemplate?.spec?.template?.spec,
};
/** An EIP-2335 keystore: its `crypto` block is the encrypted key. */
const KEYSTORE = /"crypto"\s*:\s*\{[\s\S]*"cipher"/;

function rawChild(container: any, key: string): any {
  // A property descriptor reaches past the SDK's proxies to the stored value, Secret wrapper included.
  return container === null || typeof container !== "object" ? undefined : Object.getOwnPropertyDescriptor(container, key)?.value;
}

/** Whether the value at `path` (or a value on the way to it) is marked secret. */
export function isMarkedSecret(rawProps: Record<string, any>, path: string[]): boolean {
  let v: any = rawProps;
  for (const key of path) {
    if (v instanceof Secret) return true;
    v = rawChild(v, key);
  }
  return v instanceof Secret;
}

/** Remediation: marks each secret-carrying input that is still plain text as a secret. */
export const markSecretInputs: ResourceRemediation = (args) => {
  rememberInputs(args);
  const facts: Facts = { type: args.type, urn: args.urn, name: args.name, props: plainInputs(args.props) };
  const plain = secretInputPaths(facts).filter((path) => !isMarkedSecret(args.props, path));
  if (plain.length === 0) return undefined;
  for (const path of plain) {
    const parent = path.slice(0, -1).reduce((o: any, k) => o[k], args.props);
    const key = path[path.length - 1];
    parent[key] = new Secret(parent[key]);
  }
  return args.props;
};

export const secretInputsAreSecret: ResourceValidationPolicy = {
  name: "secret-inputs-are-secret",
  description: "Checks whether JWT secrets, SSH keys, passwords and cloud tokens reach resources as Pulumi secrets, and marks them secret when not.",
  remediateResource: markSecretInputs,
};

/** Strings that end up where any user of the machine (ps, docker inspect) or the state file can read them. */
function exposedStrings(r: Facts): { where: string; value: string }[] {
  const out: { where: string; value: string }[] = [];
  const add = (where: string, v: unknown) => {
    if (typeof v === "string") out.push({ where, value: v });
    else if (Array.isArray(v)) v.forEach((x, i) => add(`${where}[${i}]`, x));
  };
  if (COMMAND_TYPES.includes(r.type)) for (const k of ["create", "update", "delete"]) add(k, r.props[k]);
  if (r.type === CONTAINER_TYPE) {
    add("command", r.props.command);
    add("entrypoints", r.props.entrypoints);
    add("envs", r.props.envs);
  }
  if (r.type.startsWith("ephemery:")) add("command", r.props.command);
  const podSpec = K8S_WORKLOADS[r.type]?.(r.props);
  if (podSpec) {
    for (const c of [...asArray(podSpec.initContainers), ...asArray(podSpec.containers)]) {
      add(`container ${c?.name} command`, c?.command);
      add(`container ${c?.name} args`, c?.args);
      // As NAME=value, so the env check reads them as a container's; a valueFrom (a Secret key) has no value here.
      asArray(c?.env).forEach((e: any, i) => { if (typeof e?.value === "string") add(`envs[${i}] of container ${c?.name}`, `${e.name}=${e.value}`); });
    }
  }
  return out;
}

export const noSecretsOnCommandLines: ResourceRule = {
  name: "no-secrets-on-command-lines",
  description: "Checks whether a private key, JWT, password or token is written into a command line or a container's environment.",
  check(r) {
    const out: string[] = [];
    for (const { where, value } of exposedStrings(r)) {
      const envMatch = where.startsWith("envs") ? SECRET_ENV.exec(value) : null;
      if (PEM_PRIVATE_KEY.test(value)) {
        out.push(`${label(r)} must not carry a private key in ${where}. Pass it on stdin or in a 0600 file instead.`);
      } else if (envMatch && !envMatch[1].endsWith("_FILE") && !/^\$\{?\w+\}?$/.test(envMatch[3])) {
        out.push(`${label(r)} must not set ${envMatch[1]} in ${where}: the value shows in \`docker inspect\`. Write it to a 0600 file and use ${envMatch[1]}__FILE (or the client's password-file flag).`);
      } else {
        for (const m of value.matchAll(SECRET_FLAG)) {
          const v = m[3].replace(/^["']|["']$/g, "");
          if (v.startsWith("/") || v.startsWith("$")) continue; // a file path or a variable, not the secret itself
          out.push(`${label(r)} must not pass --${m[1]} with a literal value in ${where}: command lines show in \`ps\`. Use the client's file option or stdin.`);
        }
      }
    }
    return out;
  },
};

export interface GrafanaConfig {
  forbiddenPasswords: string[];
  minLength: number;
}

/** Where a Grafana admin password can appear: a container env, or an env/ini file a command writes. */
export function grafanaPasswords(r: Facts): string[] {
  const found: string[] = [];
  const scan = (text: string) => {
    for (const m of text.matchAll(/^\s*GF_SECURITY_ADMIN_PASSWORD\s*=\s*(.*)$/gm)) found.push(m[1].trim().replace(/^["']|["']$/g, ""));
    for (const m of text.matchAll(/^\s*admin_password\s*=\s*(.*)$/gm)) found.push(m[1].trim().replace(/^["']|["']$/g, ""));
  };
  if (r.type === CONTAINER_TYPE) asArray<string>(r.props.envs).forEach((e) => typeof e === "string" && scan(e));
  if (COMMAND_TYPES.includes(r.type) && typeof r.props.stdin === "string") scan(r.props.stdin);
  if (typeof r.props.grafanaAdminPassword === "string") found.push(r.props.grafanaAdminPassword);
  // The in-cluster Grafana's Secret (lib/kubernetes/monitoring.ts): admin_password, base64 in data.
  if (r.type === K8S_SECRET_TYPE) {
    if (typeof r.props.data?.admin_password === "string") found.push(Buffer.from(r.props.data.admin_password, "base64").toString("utf8"));
    if (typeof r.props.stringData?.admin_password === "string") found.push(r.props.stringData.admin_password);
  }
  return found;
}

export const grafanaPasswordNotDefault: ResourceRule<GrafanaConfig> = {
  name: "grafana-password-not-default",
  description: "Checks whether Grafana runs with a well-known or short admin password.",
  config: {
    forbiddenPasswords: {
      type: "array",
      items: { type: "string" },
      default: ["admin", "password", "grafana", "changeme", "prom-operator", "secret", "123456", "12345678", "ephemery"],
      description: "Passwords that must never be used (compared case-insensitively).",
    },
    minLength: { type: "integer", minimum: 1, default: 12, description: "Shortest acceptable admin password." },
  },
  check(r, config) {
    const out: string[] = [];
    const forbidden = new Set(config.forbiddenPasswords.map((p) => p.toLowerCase()));
    for (const pw of grafanaPasswords(r)) {
      if (pw.startsWith("$__file{") || pw.startsWith("$__env{")) continue; // Grafana reads it from elsewhere
      if (forbidden.has(pw.toLowerCase())) {
        out.push(`The Grafana admin password set by ${label(r)} must not be a well-known default. Unset ephemery:grafanaAdminPassword (a random one is generated) or set a new one with --secret.`);
      } else if (pw.length < config.minLength) {
        out.push(`The Grafana admin password set by ${label(r)} must be at least ${config.minLength} characters; it has ${pw.length}. Set a longer one: pulumi config set --secret ephemery:grafanaAdminPassword <value>.`);
      }
    }
    if (r.type === CONTAINER_TYPE && /(^|\/)grafana(:|@|$)/.test(String(r.props.image ?? "")) && !asArray<string>(r.props.envs).some((e) => /^GF_SECURITY_ADMIN_PASSWORD(__FILE)?=/.test(String(e)))) {
      out.push(`Grafana container ${label(r)} must set an admin password; without one Grafana starts with admin/admin. Set GF_SECURITY_ADMIN_PASSWORD__FILE to a 0600 file.`);
    }
    return out;
  },
};

export const secretsNotInConfigMaps: ResourceRule = {
  name: "secrets-not-in-configmaps",
  description: "Checks whether a Kubernetes ConfigMap carries a private key, a JWT or a validator keystore, which belong in a Secret.",
  types: [K8S_CONFIGMAP_TYPE],
  check(r) {
    const out: string[] = [];
    for (const [key, value] of Object.entries({ ...(r.props.data ?? {}) } as Record<string, unknown>)) {
      if (typeof value !== "string") continue;
      const what = PEM_PRIVATE_KEY.test(value) ? "a private key" : JWT_HEX.test(value) ? "a JWT secret" : KEYSTORE.test(value) ? "a validator keystore" : undefined;
      if (what) out.push(`${label(r)} must not carry ${what} (key ${key}): a ConfigMap is readable by anyone who may read the namespace's configuration and is stored in plain text. Put it in a Secret (mounted 0400).`);
    }
    return out;
  },
};
