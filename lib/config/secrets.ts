import { z } from "zod";

const fundingKey = z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, "must be a 32-byte private key in hex (64 characters, 0x optional)");

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
  depositFundingKey: fundingKey.optional()
    .describe("Execution-layer private key (32 bytes hex) that pays automatic re-deposits on every host."),
  depositFundingKeys: z.record(z.string(), fundingKey).optional()
    .describe("Per-host re-deposit funding keys, by host name; they win over depositFundingKey."),
  alertmanagerSecrets: z.record(z.string(), z.string()).optional()
    .describe("Alert receiver URLs and tokens, by the name the receiver config refers to."),
  fleetTls: z.strictObject({
    caCertificate: z.string().includes("BEGIN CERTIFICATE", { message: "must be a PEM certificate" }),
    certificate: z.string().includes("BEGIN CERTIFICATE", { message: "must be a PEM certificate" }),
    privateKey: z.string().includes("PRIVATE KEY", { message: "must be a PEM private key" }),
  }).optional()
    .describe("The fleet monitor's TLS: {caCertificate, certificate, privateKey} in PEM, the certificate issued for fleet.address (default: a CA and certificate generated once and kept as secrets)."),
  fleetPasswords: z.record(z.string(), z.string().min(32, "must be at least 32 characters").max(71, "must be at most 71 characters (bcrypt's limit)")).optional()
    .describe("Per-node remote_write passwords for the fleet monitor, by host name (default: derived from a generated fleet secret)."),
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
