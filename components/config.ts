/** Reads the stack's config from the Pulumi runtime and validates it before any resource exists. */
import * as pulumi from "@pulumi/pulumi";
import { ConfigEntry, formatProblems, loadStackConfig } from "../lib/config/load";
import { StackConfig } from "../lib/config/schema";
import { SecretSettings } from "../lib/config/secrets";

export interface ProgramConfig {
  config: StackConfig;
  /** Secret settings, each wrapped as a Pulumi secret. */
  secrets: { [K in keyof SecretSettings]: pulumi.Output<NonNullable<SecretSettings[K]>> | undefined };
  /** The SSH key for a host: its own from sshPrivateKeys, else sshPrivateKey; a secret. */
  sshKeyFor(host: string): pulumi.Output<string> | undefined;
  /** The key paying a host's re-deposits: its own from depositFundingKeys, else depositFundingKey; a secret. */
  fundingKeyFor(host: string): pulumi.Output<string> | undefined;
  /** The kubeconfig for a kind kubernetes host: its own from kubeconfigs, else kubeconfig; a secret. */
  kubeconfigFor(host: string): pulumi.Output<string> | undefined;
}

/**
 * Whether the engine holds a key encrypted. The SDK knows (it keeps the names beside the config, also under
 * the Automation API); its `isConfigSecret` is internal, so fall back to the variable the engine sets.
 */
function isSecretKey(key: string): boolean {
  const sdk = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  if (sdk) return sdk(key);
  try {
    return (JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? "[]") as string[]).includes(key);
  } catch {
    return false;
  }
}

export function runtimeConfigEntries(): Map<string, ConfigEntry> {
  const all = pulumi.runtime.allConfig();
  const entries = new Map<string, ConfigEntry>();
  for (const [key, raw] of Object.entries(all)) {
    entries.set(key, { value: parseConfigValue(raw), secret: isSecretKey(key) });
  }
  return entries;
}

/** Structured values arrive JSON-encoded; scalars arrive as strings. */
function parseConfigValue(raw: string): unknown {
  const t = raw.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}

export function readProgramConfig(entries: Map<string, ConfigEntry> = runtimeConfigEntries()): ProgramConfig {
  const result = loadStackConfig(entries);
  if (!result.ok) {
    throw new pulumi.RunError(`the stack configuration has ${result.problems.length} problem(s):\n${formatProblems(result.problems)}\nFix them (or run: npx ephemery config check) and try again.`);
  }
  const secrets = Object.fromEntries(
    Object.entries(result.secrets).map(([k, v]) => [k, v === undefined ? undefined : pulumi.secret(v)]),
  ) as ProgramConfig["secrets"];
  const plain = result.secrets;
  const sshKeyFor = (host: string) => {
    const key = plain.sshPrivateKeys?.[host] ?? plain.sshPrivateKey;
    return key === undefined ? undefined : pulumi.secret(key);
  };
  const fundingKeyFor = (host: string) => {
    const key = plain.depositFundingKeys?.[host] ?? plain.depositFundingKey;
    return key === undefined ? undefined : pulumi.secret(key);
  };
  const kubeconfigFor = (host: string) => {
    const kc = plain.kubeconfigs?.[host] ?? plain.kubeconfig;
    return kc === undefined ? undefined : pulumi.secret(kc);
  };
  return { config: result.config, secrets, sshKeyFor, fundingKeyFor, kubeconfigFor };
}
