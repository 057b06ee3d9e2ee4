/**
 * The ephemery policy pack: `pulumi preview --policy-pack policies` blocks unsafe plans before anything runs.
 * Policies live in area modules (keys, network, secrets, images, sizing, operations); pack.ts assembles them.
 */
import { PolicyPack } from "@pulumi/policy";
import { ALL_POLICIES, initialConfig, PACK_LEVEL, PACK_NAME } from "./pack";

new PolicyPack(
  PACK_NAME,
  {
    description: "Blocks unsafe Ephemery node plans: duplicate validator keys, exposed APIs, plain secrets, unpinned images, undersized hosts.",
    enforcementLevel: PACK_LEVEL,
    policies: ALL_POLICIES,
  },
  initialConfig(),
);
