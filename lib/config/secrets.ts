import { z } from "zod";

/**
 * A kubeconfig is YAML or JSON; Pulumi hands a value that starts with `{` to the program parsed, so a JSON
 * kubeconfig arrives as an object and is turned back into its text.
 */
const kubeconfigText = z.preprocess(
  (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? JSON.stringify(v) : v),
  z.string().min(1),
);

/**
 * Settings that hold secrets. They live in their own top-level keys so that `pulumi config set --secret`
 * marks exactly them, and a plain value can be caught precisely.
 */
export const secretSettingsSchema = z.strictObject({
  sshPrivateKey: z.string().min(1).optional()
    .describe("SSH private key (OpenSSH or PEM) for every SSH-reached host."),
  sshPrivateKeys: z.record(z.string(), z.string().min(1)).optional()
    .describe("Per-host SSH private keys, by host name; they win over sshPrivateKey."),
  kubeconfig: kubeconfigText.optional()
    .describe("kubeconfig (YAML) for every kind kubernetes host; reaches kubectl through a 0600 file, never argv or env."),
  kubeconfigs: z.record(z.string(), kubeconfigText).optional()
    .describe("Per-host kubeconfigs, by host name; they win over kubeconfig."),
  keystorePassword: z.string().optional().describe("One password for every keystore of the stack."),
  keystorePasswords: z.record(z.string(), z.union([z.string(), z.record(z.string(), z.string())])).optional()
    .describe("Per-host keystore passwords: a string for all keys of the host, or a map pubkey -> password."),
  grafanaAdminPassword: z.string().min(12, "must be at least 12 characters").optional()
    .describe("Grafana admin password (generated and kept as a secret when unset)."),
  alertmanagerSecrets: z.record(z.string(), z.string()).optional()
    .describe("Alert receiver URLs and tokens, by the name the receiver config refers to."),
});

export type SecretSettings = z.output<typeof secretSettingsSchema>;
export const SECRET_SETTING_NAMES = Object.keys(secretSettingsSchema.shape) as (keyof SecretSettings)[];

/** Keys of other namespaces that hold secrets and must be set with --secret when present. */
export const PROVIDER_SECRET_KEYS = ["hcloud:token", "aws:secretKey", "aws:token"];

export function secretSetCommand(fullKey: string): string {
  if (fullKey.endsWith("kubeconfig")) return `pulumi config set --secret ${fullKey} < ~/.kube/config`;
  if (fullKey.endsWith("sshPrivateKey")) return `pulumi config set --secret ${fullKey} < ~/.ssh/id_ed25519`;
  if (fullKey.includes(".") || fullKey.endsWith("s")) return `pulumi config set --secret --path '${fullKey}.<name>' <value>`;
  return `pulumi config set --secret ${fullKey} <value>`;
}
