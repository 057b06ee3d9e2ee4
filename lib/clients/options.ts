/**
 * The option guard's data: per client, where its pinned version defines its command-line options, and the
 * names found there (lib/clients/options/<client>.json, written by scripts/client-options.ts). Pure.
 */
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_IMAGES, parseImage } from "../config/images";

/** How a client declares its options, which decides how the refresh script reads them. */
export type OptionSyntax =
  | "urfave-cli" | "picocli" | "clap-derive" | "clap-builder" | "confutils" | "yargs"
  /** The client's own `--help` listing, as its published reference reproduces it (erigon). */
  | "help-listing"
  /** Nethermind's generated configuration reference: `--Section.Item` and its kebab form, plus the basic options. */
  | "nethermind-docs";

export interface OptionSource {
  repository: string;
  /** The pinned image whose tag names the source tag. */
  image: string;
  /** Paths in the repository holding the flag definitions. */
  roots: string[];
  suffix: string;
  syntax: OptionSyntax;
  /**
   * Set when the client's source at the pinned tag could not be had here, and the list is read from the
   * client's own published CLI reference instead: the reference's repository, the path of the page in it, and
   * the client version that page documents. A `version` other than the pinned tag is a near version; the
   * data file says so (`near`).
   */
  reference?: { repository: string; path: string; version: string; syntax: OptionSyntax };
}

/** One source repository per client; a client's CL, VC and key tools share its list. */
export const CLIENT_OPTION_SOURCES = {
  geth: { repository: "ethereum/go-ethereum", image: DEFAULT_IMAGES.geth, roots: ["cmd/geth", "cmd/utils", "internal/flags", "internal/debug"], suffix: ".go", syntax: "urfave-cli" },
  besu: { repository: "hyperledger/besu", image: DEFAULT_IMAGES.besu, roots: ["app/src/main/java"], suffix: ".java", syntax: "picocli" },
  reth: { repository: "paradigmxyz/reth", image: DEFAULT_IMAGES.reth, roots: ["crates"], suffix: ".rs", syntax: "clap-derive" },
  erigon: {
    repository: "erigontech/erigon", image: DEFAULT_IMAGES.erigon, roots: ["cmd/erigon", "cmd/utils", "turbo/cli"], suffix: ".go", syntax: "urfave-cli",
    // The erigon snapshot is over the fetch size limit; its docs reproduce `erigon --help` of 3.1.0 (no 3.2 page exists).
    reference: { repository: "erigontech/docs", path: "src/advanced/options.md", version: "v3.1.0", syntax: "help-listing" },
  },
  nethermind: {
    repository: "NethermindEth/nethermind", image: DEFAULT_IMAGES.nethermind, roots: ["src/Nethermind"], suffix: ".cs", syntax: "nethermind-docs",
    // Options are generated from the I*Config interfaces; the repository is over the fetch size limit, and the docs'
    // configuration page is generated from those interfaces for each minor release (1.35.0 covers 1.35.x).
    reference: { repository: "NethermindEth/docs", path: "versioned_docs/version-1.35.0/fundamentals/configuration.md", version: "1.35.0", syntax: "nethermind-docs" },
  },
  lighthouse: { repository: "sigp/lighthouse", image: DEFAULT_IMAGES.lighthouse, roots: ["beacon_node/src", "validator_client", "account_manager", "lighthouse/src", "common/clap_utils"], suffix: ".rs", syntax: "clap-builder" },
  teku: { repository: "Consensys/teku", image: DEFAULT_IMAGES.teku, roots: ["teku/src/main/java"], suffix: ".java", syntax: "picocli" },
  prysm: { repository: "OffchainLabs/prysm", image: DEFAULT_IMAGES.prysmBeacon, roots: ["cmd", "config/features"], suffix: ".go", syntax: "urfave-cli" },
  nimbus: { repository: "status-im/nimbus-eth2", image: DEFAULT_IMAGES.nimbusBeacon, roots: ["beacon_chain/conf.nim", "beacon_chain/nimbus_binary_common.nim"], suffix: ".nim", syntax: "confutils" },
  lodestar: { repository: "ChainSafe/lodestar", image: DEFAULT_IMAGES.lodestar, roots: ["packages/cli/src"], suffix: ".ts", syntax: "yargs" },
} as const satisfies Record<string, OptionSource>;

export type OptionClient = keyof typeof CLIENT_OPTION_SOURCES;

export interface ClientOptionsFile {
  client: string;
  repository: string;
  tag: string;
  commit: string;
  syntax: OptionSyntax;
  roots: readonly string[];
  /** How many source files were read. */
  files: number;
  extractedBy: string;
  /** Option names without leading dashes, sorted. */
  options: string[];
  /**
   * Only when the list was read at another version than the pinned one (`tag` is the version read): the pinned
   * tag it stands for, and why no list could be read at that tag.
   */
  near?: { pinned: string; why: string };
  /** When `options` keeps only the names a second version (one later than the pin) also defines. */
  intersectedWith?: { tag: string; commit: string; files: number };
}

/** The upstream tag of the pinned image (`multiarch-v25.11.0` -> `v25.11.0`). */
export function pinnedTag(source: OptionSource): string {
  const tag = parseImage(source.image).tag;
  if (!tag) throw new Error(`the pinned image ${source.image} has no tag to read options at`);
  return tag.replace(/^multiarch-/, "");
}

export function optionsFilePath(client: string): string {
  return path.join(__dirname, "options", `${client}.json`);
}

/** The stored list, or undefined when none was extracted yet. */
export function loadClientOptions(client: OptionClient): ClientOptionsFile | undefined {
  const file = optionsFilePath(client);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ClientOptionsFile) : undefined;
}

/**
 * The long options (`--name`, `--name=value`) a generated shell line passes, without dashes or values.
 * A bare `--` (end of options, `set --`) is not one.
 */
export function optionsIn(commandLine: string): string[] {
  const out = new Set<string>();
  for (const m of commandLine.matchAll(/(?:^|[\s"'(;|&])--([A-Za-z0-9][A-Za-z0-9._-]*)/g)) out.add(m[1]);
  return [...out].sort();
}
