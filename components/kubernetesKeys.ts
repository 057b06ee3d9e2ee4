/**
 * Validator keys of one `kind: kubernetes` node: the same workstation checks as a host's (components/validatorKeys.ts
 * scanKeys and checkedInstallKeys), the key set and its slashing protection as one Pulumi secret for the node's
 * `<node>-validator-keys` Secret, and the node's place in the key-move ordering of the update: its release step
 * joins the registry every host's release joins, and the node's apply waits for every release, as a host's
 * install does. Keys arriving from a host bring that host's exported slashing protection (imported before the
 * VC starts, lib/kubernetes/keys.ts) and wait `moveWaitEpochs`; keys leaving a cluster node for another node
 * are released by its release step (lib/kubernetes/keyRelease.ts): the pod stopped, their slashing protection
 * exported from the VC's data PVC by a Job (lib/kubernetes/keyExport.ts) and printed as a host's release prints it.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostConfig } from "../lib/config/schema";
import { filterInterchange, interchangePubkeys } from "../lib/keys/interchange";
import { clientLayout, ValidatorClientName } from "../lib/keys/layout";
import { kubeconfigLine, KubectlTarget } from "../lib/kubernetes/kubectl";
import { KUBERNETES_KEYS_TYPE } from "../lib/kubernetes/keys";
import { ReleaseTimeouts, releaseCommand, releaseStdin } from "../lib/kubernetes/keyRelease";
import { KubeObject, toYaml } from "../lib/kubernetes/manifests";
import { checkedInstallKeys, EPOCH_SEC, KeystorePasswords, mergeInterchanges, mergeReleased, registerRelease, scanKeys } from "./validatorKeys";

export interface KubernetesKeyValues {
  keyFiles: { path: string; content: string }[];
  pubkeys: string[];
  interchange?: string;
}

export interface KubernetesValidatorKeysArgs {
  readonly config: HostConfig;
  readonly scanned: ReturnType<typeof scanKeys>;
  readonly validatorClient: ValidatorClientName;
  readonly passwords: pulumi.Input<KeystorePasswords | undefined>;
  readonly kubeconfig: pulumi.Input<string>;
  readonly target: KubectlTarget;
  /** The StatefulSet's replicas as rendered (a policy fact: keys need exactly 1). */
  readonly replicas: number;
  /** The export Job and its RBAC, Secret and ConfigMap (lib/kubernetes/keyExport.ts), created only when keys leave. */
  readonly exportObjects: KubeObject[];
  readonly releaseTimeouts: ReleaseTimeouts;
  readonly threads?: number;
}

export class KubernetesValidatorKeys extends pulumi.ComponentResource {
  /** Lower-case hex without 0x, sorted. */
  public readonly pubkeys: string[];
  /** The key set, passwords and interchange for the Secret (a Pulumi secret). */
  public readonly values: pulumi.Output<KubernetesKeyValues>;
  /** Seconds the node's apply waits before the VC starts with keys moved in from another node. */
  public readonly moveWaitSec: pulumi.Output<number>;
  /** Every release step of the update (this node's too): the node's apply depends on them. */
  public readonly releases: pulumi.Output<pulumi.Resource[]>;

  constructor(name: string, args: KubernetesValidatorKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    const cfg = args.config;
    const keysCfg = cfg.validator!.keys!;
    const where = `validator.keys of host "${cfg.name}"`;
    const pubkeys = args.scanned.keys.map((k) => k.pubkey).sort();
    // The same facts as a host's ValidatorKeys (the keys policies read both), plus where they run.
    super(KUBERNETES_KEYS_TYPE, name, {
      node: cfg.name,
      pubkeys,
      doppelganger: cfg.validator!.doppelganger,
      moveWaitEpochs: keysCfg.moveWaitEpochs,
      validatorClient: args.validatorClient,
      replicas: args.replicas,
      workload: `statefulset/${args.target.namespace}/${cfg.name}`,
    }, opts);
    this.pubkeys = pubkeys;
    if (pubkeys.length > 0 && args.passwords === undefined) {
      throw new Error(`${where}: ${pubkeys.length} key(s) but no keystore password; run: pulumi config set --secret ephemery:keystorePassword <password>`);
    }

    // The release's stdin names the keys the other nodes carry, known once the registry holds every node; it
    // runs when that or this node's keys change (no key can leave otherwise) and reads the live StatefulSet.
    let registered!: (all: ReturnType<typeof registerRelease>) => void;
    const everyRelease = new Promise<Awaited<ReturnType<typeof registerRelease>>>((resolve) => { registered = (all) => resolve(all); });
    // From the plain pubkeys only: lifting the entries into an Output would wait for every release's stdout, this one's too.
    const elsewhere = pulumi.output(everyRelease.then((rs) => [...new Set(rs.filter((r) => r.node !== cfg.name).flatMap((r) => r.pubkeys))].sort()));
    const releaseCmd = releaseCommand(args.target, args.releaseTimeouts, keysCfg.moveWaitEpochs);
    const exportYaml = toYaml(args.exportObjects);
    const release = new command.local.Command(
      `${name}-release`,
      {
        create: releaseCmd,
        update: releaseCmd,
        stdin: pulumi.secret(pulumi.all([args.kubeconfig, elsewhere]).apply(([kc, other]) => releaseStdin(kubeconfigLine(kc), pubkeys, other, exportYaml))),
        logging: "stderr",
      },
      { parent: this },
    );
    registered(registerRelease({ node: cfg.name, stdout: release.stdout, resource: release, pubkeys }));
    this.releases = pulumi.output(everyRelease).apply((rs) => rs.map((r) => r.resource));

    // Slashing protection of keys arriving from another node's release in this update (hosts and cluster nodes print it).
    const movedIn = pulumi.output(everyRelease).apply((rs) =>
      pulumi.all(rs.filter((r) => r.node !== cfg.name).map((r) => r.stdout)).apply((outs) => mergeReleased(outs, pubkeys)),
    );
    const fromSource = mergeInterchanges(args.scanned.interchanges.map((i) => filterInterchange(i.interchange, pubkeys)));
    this.values = pulumi.secret(pulumi.all([args.passwords, movedIn]).apply(async ([passwords, moved]) => {
      const keys = await checkedInstallKeys(args.scanned.files, keysCfg, where, passwords, args.threads);
      const interchange = mergeInterchanges([fromSource, moved]);
      return {
        keyFiles: clientLayout(args.validatorClient, keys).map((f) => ({ path: f.path, content: f.content })),
        pubkeys,
        ...(interchange ? { interchange: JSON.stringify(interchange) } : {}),
      };
    }));
    this.moveWaitSec = movedIn.apply((m) => (m && interchangePubkeys(m).length > 0 ? keysCfg.moveWaitEpochs * EPOCH_SEC : 0));
    this.registerOutputs({ pubkeys });
  }
}
