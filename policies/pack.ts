/**
 * The pack's contents: every policy, grouped by area, and the enforcement level of each. Levels live here,
 * not in the rules; operators change them with --policy-pack-config (see docs/readme/policies.md).
 */
import type { EnforcementLevel, Policies, PolicyPackConfig } from "@pulumi/policy";
import { resourcePolicy, stackPolicy } from "./common";
import { clientPairKnownToWork, imagesPinned } from "./images";
import { doppelgangerProtectionOn, keyMoveWaitsEnough, validatorKeyNotOwnedElsewhere, validatorKeyOnOneHost, validatorKeysSingleReplica } from "./keys";
import { firewallKeepsPrivatePortsClosed, privatePortsNotPublished, sshNotOpenToWorld } from "./network";
import { checkpointSyncUsesHttps, nodeHasResetJob, validatorsHaveAlerting } from "./operations";
import { grafanaPasswordNotDefault, noSecretsOnCommandLines, secretInputsAreSecret, secretsNotInConfigMaps } from "./secrets";
import { hostSizedForClients } from "./sizing";

export const PACK_NAME = "ephemery";

/** Level for every policy not listed in POLICY_LEVELS. */
export const PACK_LEVEL: EnforcementLevel = "mandatory";

export const POLICIES: Record<"keys" | "network" | "secrets" | "images" | "sizing" | "operations", Policies> = {
  keys: [
    stackPolicy(validatorKeyOnOneHost),
    resourcePolicy(validatorKeyNotOwnedElsewhere),
    resourcePolicy(doppelgangerProtectionOn),
    resourcePolicy(keyMoveWaitsEnough),
    resourcePolicy(validatorKeysSingleReplica),
  ],
  network: [resourcePolicy(privatePortsNotPublished), resourcePolicy(firewallKeepsPrivatePortsClosed), resourcePolicy(sshNotOpenToWorld)],
  secrets: [secretInputsAreSecret, resourcePolicy(noSecretsOnCommandLines), resourcePolicy(grafanaPasswordNotDefault), resourcePolicy(secretsNotInConfigMaps)],
  images: [resourcePolicy(imagesPinned), stackPolicy(clientPairKnownToWork)],
  sizing: [stackPolicy(hostSizedForClients)],
  operations: [stackPolicy(nodeHasResetJob), stackPolicy(validatorsHaveAlerting), resourcePolicy(checkpointSyncUsesHttps)],
};

/** Policies whose default differs from PACK_LEVEL, and why. */
export const POLICY_LEVELS: Record<string, EnforcementLevel> = {
  // Many operators reach SSH from changing addresses; warn, and let them tighten it.
  "ssh-not-open-to-world": "advisory",
  // Untested pairs may work; warn rather than block.
  "client-pair-known-to-work": "advisory",
  // A remediation: it fixes the input (marks it secret) instead of blocking.
  "secret-inputs-are-secret": "remediate",
};

export const ALL_POLICIES: Policies = Object.values(POLICIES).flat();

/** The initial config the pack reports to the engine: the per-policy levels above. */
export function initialConfig(): PolicyPackConfig {
  return Object.fromEntries(Object.entries(POLICY_LEVELS).map(([name, level]) => [name, level]));
}

/** The level a policy runs at, given the operator's config: config, then POLICY_LEVELS, then PACK_LEVEL. */
export function levelOf(name: string, config: PolicyPackConfig = {}): EnforcementLevel {
  const c = config[name];
  const fromConfig = typeof c === "string" ? c : c?.enforcementLevel;
  return fromConfig ?? POLICY_LEVELS[name] ?? PACK_LEVEL;
}
