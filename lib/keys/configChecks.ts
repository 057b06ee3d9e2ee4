/**
 * The stack-level key checks run with the config (before any resource exists): passwords present for hosts
 * with keys, per-host password maps naming real hosts and keys, every key source readable and well-formed,
 * and no key on two hosts. Password decryption runs later, in the ValidatorKeys component (it is slow).
 */
import type { Problem } from "../config/load";
import type { StackConfig } from "../config/schema";
import type { SecretSettings } from "../config/secrets";
import { ArchiveError, readKeySource } from "./archive";
import { normalizePubkey } from "./keystore";
import { duplicateKeysAcrossHosts, scanSource } from "./validate";

export function keysConfigProblems(cfg: StackConfig, secrets: SecretSettings): Problem[] {
  const problems: Problem[] = [];
  const perHost: { host: string; pubkeys: string[] }[] = [];
  cfg.hosts.forEach((h, i) => {
    const keys = h.validator?.keys;
    const at = `hosts[${i}].validator.keys`;
    if (!keys?.path) return;
    let pubkeys: string[] = [];
    try {
      const scanned = scanSource(readKeySource(keys.path), { expectedCount: keys.expectedCount, expectedPubkeys: keys.pubkeys });
      problems.push(...scanned.errors.map((e) => ({ path: `${at}.path`, message: `${e.file}: ${e.message}` })));
      pubkeys = scanned.keys.map((k) => k.pubkey);
    } catch (e) {
      if (!(e instanceof ArchiveError)) throw e;
      problems.push({ path: `${at}.path`, message: `${e.entry} ${e.message}` });
    }
    perHost.push({ host: h.name, pubkeys });
    const own = secrets.keystorePasswords?.[h.name];
    if (pubkeys.length > 0 && own === undefined && secrets.keystorePassword === undefined) {
      problems.push({
        path: at,
        message: `host "${h.name}" has ${pubkeys.length} key(s) but no keystore password is set; run: pulumi config set --secret ephemery:keystorePassword <password> (or: pulumi config set --secret --path 'ephemery:keystorePasswords.${h.name}' <password>)`,
      });
    }
    if (own !== undefined && typeof own === "object") {
      for (const key of Object.keys(own)) {
        const pk = normalizePubkey(key);
        if (!pk) problems.push({ path: `ephemery:keystorePasswords.${h.name}`, message: `has an entry "${key}" that is not a 48-byte hex pubkey` });
        else if (!pubkeys.includes(pk)) problems.push({ path: `ephemery:keystorePasswords.${h.name}`, message: `has a password for 0x${pk}, which is not among the host's keys` });
      }
      for (const pk of pubkeys) {
        if (!Object.keys(own).some((k) => normalizePubkey(k) === pk) && secrets.keystorePassword === undefined) {
          problems.push({ path: `ephemery:keystorePasswords.${h.name}`, message: `has no password for 0x${pk}; add it, or set ephemery:keystorePassword for the rest` });
        }
      }
    }
  });
  cfg.hosts.forEach((h, i) => {
    if (h.validator?.redeposit.enabled && !h.validator.keys?.path) {
      problems.push({ path: `hosts[${i}].validator.redeposit`, message: `re-deposit is on for host "${h.name}" but it has no validator.keys.path: it can only deposit keys pulumi-ephemery installs` });
    }
    if (h.validator?.redeposit.enabled && !h.validator.redeposit.dryRun && !secrets.depositFundingKeys?.[h.name] && !secrets.depositFundingKey) {
      problems.push({
        path: `hosts[${i}].validator.redeposit`,
        message: `re-deposit is on for host "${h.name}" but no funding key is set; run: pulumi config set --secret --path 'ephemery:depositFundingKeys.${h.name}' 0x<64 hex> (or set ephemery:depositFundingKey, or redeposit.dryRun: true)`,
      });
    }
  });
  for (const name of Object.keys(secrets.depositFundingKeys ?? {})) {
    if (!cfg.hosts.some((h) => h.name === name)) {
      problems.push({ path: `ephemery:depositFundingKeys.${name}`, message: `names no host; hosts are ${cfg.hosts.map((h) => h.name).join(", ")}` });
    }
  }
  for (const name of Object.keys(secrets.keystorePasswords ?? {})) {
    if (!cfg.hosts.some((h) => h.name === name)) {
      problems.push({ path: `ephemery:keystorePasswords.${name}`, message: `names no host; hosts are ${cfg.hosts.map((h) => h.name).join(", ")}` });
    }
  }
  for (const d of duplicateKeysAcrossHosts(perHost)) {
    const index = cfg.hosts.findIndex((h) => h.name === d.hosts[1]);
    problems.push({
      path: `hosts[${index}].validator.keys`,
      message: `key 0x${d.pubkey} is also configured on host(s) ${d.hosts.filter((x) => x !== d.hosts[1]).join(", ")}; a key signing from two hosts gets slashed: keep it on one host only (it is on ${d.hosts.join(" and ")}). ` +
        `To move it, take it out of the old host's validator.keys and put it in the new one's in the same pulumi up, from or to a kind kubernetes host too (README: Validator keys on Kubernetes)`,
    });
  }
  return problems;
}
