/**
 * Validator keys on one node: validated on the workstation, uploaded as one checksummed bundle, staged,
 * backed up with the slashing protection, swapped atomically and checked by the host installer
 * (host-scripts/keys-install.sh). Keys moving between hosts in one `pulumi up` are released (client stopped,
 * slashing protection exported) on every host before any host installs, through resource dependencies.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ContainerSpec } from "../lib/clients/types";
import { HostConfig } from "../lib/config/schema";
import { renderHostScript } from "../lib/hostScripts";
import { readKeySource, SourceFile } from "../lib/keys/archive";
import { KEYS_SCRIPT, keysScriptPath, keysScriptValues } from "../lib/keys/hostValues";
import { filterInterchange, Interchange, interchangeProblems, interchangePubkeys } from "../lib/keys/interchange";
import { installBundle, ValidatorClientName } from "../lib/keys/layout";
import { mergeInterchangeFiles } from "../lib/keys/slashingProtection";
import { LoadedKey, scanSource, ScannedSource, validateFiles } from "../lib/keys/validate";
import { normalizePubkey } from "../lib/keys/keystore";
import { Host } from "./host";
import { hostCommand, hostFile } from "./hostCommand";
import { shellQuote } from "../lib/hostScripts";

/** Keystore passwords of one host: one for every key, or one per pubkey (hex, with or without 0x). */
export type KeystorePasswords = string | Record<string, string>;

export interface ValidatorKeysArgs {
  readonly host: Host;
  /** The validated host settings; `validator.keys` decides what gets installed. */
  readonly config: HostConfig;
  /** Where in the stack config the keys are set, for messages (default `validator.keys of host "<name>"`). */
  readonly configPath?: string;
  /** The validator container spec from lib/clients (name, image, data volume). */
  readonly spec: ContainerSpec;
  /** The validator client that loads the keys. */
  readonly validatorClient: ValidatorClientName;
  /** Keystore passwords (Pulumi secrets); required when the source holds keys. */
  readonly passwords?: pulumi.Input<KeystorePasswords | undefined>;
  /** Resources the installer waits for (host bootstrap, the testnet files). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /** Threads for the password checks (default: one per core). */
  readonly threads?: number;
}

/** Seconds per Ephemery epoch: 32 slots of 12 s. */
export const EPOCH_SEC = 384;

/**
 * Every node's release step, collected while the program constructs its nodes. Installs wait for all of
 * them: the set is complete once the program's construction is over, that is at the next macrotask, or, while
 * the program holds the registry (it builds host by host, yielding between hosts), when it lets go.
 */
/** A node's release step; `pubkeys` are the keys the node holds after this update (cluster nodes check moves out with them). */
interface Release { node: string; stdout: pulumi.Output<string>; resource: pulumi.Resource; pubkeys: string[] }
/**
 * What every install waits for once the set is complete: `released` is done after every host's release, and
 * `exported` holds the slashing protection each releasing node printed (nodes that released nothing are absent).
 */
export interface KeyMoves { released: pulumi.Resource; exported: pulumi.Output<Record<string, Interchange>> }
const releases: Release[] = [];
let allReleases: Promise<Release[]> | undefined;
let completeReleases: (() => void) | undefined;
let holds = 0;
export function registerRelease(entry: Release): Promise<Release[]> {
  releases.push(entry);
  if (!allReleases) {
    allReleases = new Promise((resolve) => { completeReleases = () => resolve([...releases]); });
    setImmediate(completeUnlessHeld);
  }
  return allReleases;
}
function completeUnlessHeld(): void {
  if (holds === 0) completeReleases?.();
}

/** One KeyMoves per complete set of releases, however many installs wait for it. */
const keyMovesBySet = new WeakMap<Promise<Release[]>, Promise<KeyMoves>>();
function keyMovesAfter(all: Promise<Release[]>): Promise<KeyMoves> {
  let moves = keyMovesBySet.get(all);
  if (!moves) {
    moves = all.then(keyMovesOf);
    keyMovesBySet.set(all, moves);
  }
  return moves;
}

/** Name of the one resource that stands for "every host has released": installs depend on it alone. */
export const KEY_MOVES_RELEASED = "key-moves-released";

/**
 * With one host there is nothing to move: its install waits for its own release. With more, one barrier
 * depends on every release and every install on the barrier, so the wiring grows with the hosts, not with
 * their square (each install depending on every release made 100 hosts with keys take 47 s under mocks, not 5).
 * The barrier carries the exports (parsed once for the fleet) as its stdin, so an install's inputs depend on
 * it alone too. Slashing protection is public data, as in the releases' own stdout.
 */
function keyMovesOf(rs: Release[]): KeyMoves {
  if (rs.length === 1) return { released: rs[0].resource, exported: pulumi.output<Record<string, Interchange>>({}) };
  const exported = pulumi.all(rs.map((r) => r.stdout)).apply((outs) => {
    const byNode: Record<string, Interchange> = {};
    outs.forEach((out, i) => {
      const interchange = parseReleased(out);
      if (interchange && interchange.data.length > 0) byNode[rs[i].node] = interchange;
    });
    return JSON.stringify(byNode);
  });
  // `cat`, not `true`: the command reads what it is given.
  const barrier = new command.local.Command(KEY_MOVES_RELEASED, { create: "cat >/dev/null", update: "cat >/dev/null", stdin: exported }, { dependsOn: rs.map((r) => r.resource) });
  return { released: barrier, exported: barrier.stdin.apply((s) => JSON.parse(s ?? "{}") as Record<string, Interchange>) };
}
/** Keeps the set open until the returned function is called: for a program that yields while it builds. */
export function holdKeyMoveRegistry(): () => void {
  holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
    completeUnlessHeld();
  };
}
/** Tests construct several programs in one process. */
export function resetKeyMoveRegistry(): void {
  releases.length = 0;
  allReleases = undefined;
  completeReleases = undefined;
  holds = 0;
}

export class ValidatorKeys extends pulumi.ComponentResource {
  /** Lower-case hex without 0x, sorted. */
  public readonly pubkeys: string[];
  /** Done when the keys are installed (or unchanged); the validator client depends on it. */
  public readonly installed: pulumi.Resource;
  public readonly scriptPath: string;

  constructor(name: string, args: ValidatorKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    const cfg = args.config;
    const keysCfg = cfg.validator?.keys;
    const where = args.configPath ?? `validator.keys of host "${cfg.name}"`;
    if (!cfg.validator || !keysCfg) throw new Error(`${where}: ValidatorKeys needs validator.keys to be set`);
    const scanned = scanKeys(keysCfg, where);
    const pubkeys = scanned.keys.map((k) => k.pubkey).sort();
    const moveWaitEpochs = keysCfg.moveWaitEpochs;
    // The facts a stack policy checks (no key on two hosts); never secrets.
    super("ephemery:keys:ValidatorKeys", name, {
      node: cfg.name,
      pubkeys,
      doppelganger: cfg.validator.doppelganger,
      moveWaitEpochs,
      validatorClient: args.validatorClient,
    }, opts);
    this.pubkeys = pubkeys;
    if (pubkeys.length > 0 && args.passwords === undefined) {
      throw new Error(`${where}: ${pubkeys.length} key(s) but no keystore password; run: pulumi config set --secret ephemery:keystorePassword <password>`);
    }

    const host = args.host;
    this.scriptPath = keysScriptPath(cfg.dataDir, cfg.name);
    const script = renderHostScript(KEYS_SCRIPT, keysScriptValues(cfg, args.validatorClient, args.spec));
    const quotedProgram = shellQuote(this.scriptPath);
    const program = hostFile(`${name}-program`, host.connection, { path: this.scriptPath, mode: "0700", content: script }, { parent: this, dependsOn: args.dependsOn ?? [] });

    // Keys leaving this host: stop the client and export their slashing protection before anyone installs.
    const keep = pubkeys.join("\n") + "\n";
    const release = hostCommand(
      `${name}-release`,
      host.connection,
      // A changed key list is an update, never a replacement: a replacement would run `remove` on the old one.
      { create: `${quotedProgram} release`, update: `${quotedProgram} release`, stdin: keep, delete: `${quotedProgram} remove && rm -rf ${shellQuote(`${host.paths.keysRoot}/current`)} ${shellQuote(`${host.paths.keysRoot}/sets`)}` },
      { parent: this, dependsOn: [program] },
    );
    const moves = keyMovesAfter(registerRelease({ node: cfg.name, stdout: release.stdout, resource: release, pubkeys }));

    // Slashing protection of keys that arrive here from another host's release in this same update.
    const movedIn: pulumi.Output<Interchange | undefined> = pulumi.output(moves.then((m) => m.exported)).apply((byNode) =>
      mergeInterchanges(Object.entries(byNode).filter(([node]) => node !== cfg.name).map(([, exported]) => filterInterchange(exported, pubkeys))),
    );
    // Interchange files shipped in the key source (checked by scanSource) are imported too, without a wait.
    const fromSource = mergeInterchanges(scanned.interchanges.map((i) => filterInterchange(i.interchange, pubkeys)));
    const bundle = pulumi.secret(
      pulumi.all([args.passwords, movedIn]).apply(async ([passwords, moved]) => {
        const withPasswords = await checkedInstallKeys(scanned.files, keysCfg, where, passwords, args.threads);
        const toImport = mergeInterchanges([fromSource, moved]);
        return installBundle(args.validatorClient, withPasswords, toImport ? JSON.stringify(toImport) : undefined);
      }),
    );
    const waitSec = movedIn.apply((m) => (m && interchangePubkeys(m).length > 0 ? moveWaitEpochs * EPOCH_SEC : 0));
    const installCmd = pulumi.interpolate`KEYS_MOVE_WAIT_SEC=${waitSec} ${quotedProgram} install`;
    this.installed = hostCommand(
      `${name}-install`,
      host.connection,
      { create: installCmd, update: installCmd, stdin: bundle, quiet: true },
      { parent: this, dependsOn: moves.then((m) => [program, m.released]) as unknown as pulumi.Input<pulumi.Resource>[] },
    );
    this.registerOutputs({ pubkeys: this.pubkeys, scriptPath: this.scriptPath });
  }
}

/** Reads and checks the source synchronously: a bad source stops the program before any resource exists here. */
export function scanKeys(keysCfg: NonNullable<NonNullable<HostConfig["validator"]>["keys"]>, where: string): { files: SourceFile[]; keys: LoadedKey[]; interchanges: ScannedSource["interchanges"] } {
  if (keysCfg.path === undefined) return { files: [], keys: [], interchanges: [] };
  let files: SourceFile[];
  try {
    files = readKeySource(keysCfg.path);
  } catch (e) {
    const entry = (e as { entry?: string }).entry;
    throw new Error(`${where}.path: ${entry && entry !== keysCfg.path ? `${entry} ` : `${keysCfg.path} `}${(e as Error).message}`);
  }
  const scanned = scanSource(files, { expectedCount: keysCfg.expectedCount, expectedPubkeys: keysCfg.pubkeys });
  if (scanned.errors.length) {
    throw new Error(`${where}: the key source ${keysCfg.path} has ${scanned.errors.length} problem(s):\n${scanned.errors.map((e) => `  ${e.file}: ${e.message}`).join("\n")}\nCheck it with: npx ephemery keys validate ${keysCfg.path}`);
  }
  return { files, keys: scanned.keys, interchanges: scanned.interchanges };
}

/** Decrypts every keystore with its password and checks the derived pubkeys; throws with every problem named. */
export async function checkedInstallKeys(
  files: SourceFile[],
  keysCfg: NonNullable<NonNullable<HostConfig["validator"]>["keys"]>,
  where: string,
  passwords: KeystorePasswords | undefined,
  threads?: number,
) {
  if (keysCfg.path === undefined) return []; // no keys on this host: install an empty set
  const passwordFor = ({ pubkey }: { pubkey: string }) => passwordOf(passwords, pubkey);
  const { report, scanned } = await validateFiles(files, { expectedCount: keysCfg.expectedCount, expectedPubkeys: keysCfg.pubkeys, passwordFor, threads });
  if (!report.ok) {
    throw new Error(`${where}: ${report.errors.length} problem(s) with the keys; nothing was installed:\n${report.errors.map((e) => `  ${e.file}: ${e.message}`).join("\n")}`);
  }
  return scanned.keys.map((k) => ({ pubkey: k.pubkey, keystore: k.text, password: passwordFor(k)! }));
}

export function passwordOf(passwords: KeystorePasswords | undefined, pubkey: string): string | undefined {
  if (passwords === undefined) return undefined;
  if (typeof passwords === "string") return passwords;
  for (const [k, v] of Object.entries(passwords)) if (normalizePubkey(k) === pubkey) return v;
  return undefined;
}

/** The records of `pubkeys` from the interchange blocks other hosts printed when releasing keys. */
export function mergeReleased(outputs: (string | undefined)[], pubkeys: string[]): Interchange | undefined {
  const parts: Interchange[] = [];
  for (const out of outputs) {
    const exported = parseReleased(out);
    if (exported) parts.push(filterInterchange(exported, pubkeys));
  }
  return mergeInterchanges(parts);
}

/** The interchange block a release printed, checked; undefined when it printed none. */
function parseReleased(out: string | undefined): Interchange | undefined {
  const m = /-----BEGIN SLASHING PROTECTION-----\n([\s\S]*?)\n-----END SLASHING PROTECTION-----/.exec(out ?? "");
  if (!m || !m[1].trim()) return undefined;
  let exported: unknown;
  try {
    exported = JSON.parse(m[1]);
  } catch (e) {
    throw new Error(`the slashing protection exported for moved keys is not JSON (${(e as Error).message.slice(0, 200)}); check the releasing host's validator client (docker logs)`);
  }
  const problems = interchangeProblems(exported);
  if (problems.length) throw new Error(`the slashing protection exported for moved keys is unusable: ${problems.join("; ")}`);
  return exported as Interchange;
}

/**
 * One minimal EIP-3076 interchange from several of the same chain (lib/keys/slashingProtection: duplicate
 * pubkeys merged, watermarks only rise); the host checks the chain against the release. Undefined when empty.
 */
export function mergeInterchanges(parts: (Interchange | undefined)[]): Interchange | undefined {
  const nonEmpty = parts.filter((p): p is Interchange => p !== undefined && p.data.length > 0);
  if (nonEmpty.length === 0) return undefined;
  const merged = mergeInterchangeFiles(nonEmpty.map((value, i) => ({ file: `slashing-protection file ${i + 1} of ${nonEmpty.length}`, value })));
  if (merged.problems.length) throw new Error(`slashing protection cannot be imported: ${merged.problems.join("; ")}`);
  // Slashable records cannot lower a watermark, so they are imported; the operator should still know.
  if (merged.slashable.length) pulumi.log.warn(`slashing protection holds slashable data (kept, it only raises the watermarks): ${merged.slashable.slice(0, 5).join("; ")}${merged.slashable.length > 5 ? `; and ${merged.slashable.length - 5} more` : ""}`);
  return merged.interchange;
}

/** Passwords for one host from the secret settings: its own (keystorePasswords.<host>), else keystorePassword. */
export function keystorePasswordsFor(
  secrets: { keystorePassword?: pulumi.Input<string>; keystorePasswords?: pulumi.Input<Record<string, string | Record<string, string>>> },
  node: string,
): pulumi.Output<KeystorePasswords | undefined> {
  return pulumi.secret(
    pulumi.all([secrets.keystorePassword, secrets.keystorePasswords]).apply(([one, perHost]) => perHost?.[node] ?? one),
  );
}

/**
 * The host's passwords read from the stack's own secret settings, for programs that do not pass them in
 * (`ephemery:keystorePasswords.<host>`, else `ephemery:keystorePassword`).
 */
export function stackKeystorePasswords(node: string): pulumi.Output<KeystorePasswords | undefined> {
  const config = new pulumi.Config("ephemery");
  return keystorePasswordsFor(
    { keystorePassword: config.getSecret("keystorePassword"), keystorePasswords: config.getSecretObject<Record<string, string | Record<string, string>>>("keystorePasswords") },
    node,
  );
}
