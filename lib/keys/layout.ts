/**
 * The files each validator client reads under `<node>/validator-keys/current/`, and the bundle that carries
 * them to the host. Each client's start script copies `current/` to /data/keys (clients write lock files next
 * to their keys), so paths inside client config files point at /data/keys. Pure.
 */
import { createHash } from "crypto";
import { KEYS_IN_DATA } from "../clients/common";
import { NIMBUS_KEYMANAGER_TOKEN } from "../clients/validator/nimbus";
import { DEFAULT_IMAGES, formatImage, parseImage } from "../config/images";
import type { ValidatorClientModule } from "../clients/types";
import { KEY_FILES, SET_CLIENT_FILE, SET_PUBKEYS_FILE } from "./setFiles";

export { KEY_FILES, SET_CLIENT_FILE, SET_PUBKEYS_FILE };

export type ValidatorClientName = ValidatorClientModule["name"];

export interface InstallKey {
  pubkey: string;
  /** The keystore JSON, byte for byte as validated. */
  keystore: string;
  password: string;
}

export interface LayoutFile {
  /** Relative to the key set's root (what `current` points at). */
  path: string;
  content: string;
  /** Files holding secrets: 0600 on the host, like every file of the set. */
  secret: boolean;
}

const ox = (pk: string) => `0x${pk}`;


/** The key set for one client: keystores, one password file per key, the client's own config. */
export function clientLayout(client: ValidatorClientName, keys: InstallKey[]): LayoutFile[] {
  const sorted = [...keys].sort((a, b) => a.pubkey.localeCompare(b.pubkey));
  const files: LayoutFile[] = [];
  const add = (path: string, content: string, secret = true) => files.push({ path, content, secret });
  const addKey = (k: InstallKey) => { const f = KEY_FILES[client](k.pubkey); add(f.keystore, k.keystore); add(f.password, k.password); };
  switch (client) {
    case "lighthouse": {
      const defs = sorted.map((k) => [
        "- enabled: true",
        `  voting_public_key: "${ox(k.pubkey)}"`,
        "  type: local_keystore",
        `  voting_keystore_path: "${KEYS_IN_DATA}/lighthouse/keystores/${ox(k.pubkey)}.json"`,
        `  voting_keystore_password_path: "${KEYS_IN_DATA}/lighthouse/secrets/${ox(k.pubkey)}"`,
      ].join("\n"));
      add("lighthouse/validator_definitions.yml", defs.length ? `---\n${defs.join("\n")}\n` : "--- []\n", false);
      sorted.forEach(addKey);
      break;
    }
    case "teku":
      sorted.forEach(addKey);
      if (!sorted.length) { add("keystores/.keep", "", false); add("secrets/.keep", "", false); }
      break;
    case "nimbus":
      sorted.forEach(addKey);
      if (!sorted.length) { add("nimbus/validators/.keep", "", false); add("nimbus/secrets/.keep", "", false); }
      break;
    case "lodestar":
      sorted.forEach(addKey);
      if (!sorted.length) { add("lodestar/keystores/.keep", "", false); add("lodestar/secrets/.keep", "", false); }
      break;
    case "prysm":
      // Imported into the wallet in the validator's data volume by the installer (see KEY_TOOLS.prysm).
      add("prysm/wallet-password.txt", prysmWalletPassword(sorted));
      sorted.forEach(addKey);
      break;
  }
  return files;
}

/** The wallet only lives next to the keys on the host; derived so every `up` renders the same set. */
function prysmWalletPassword(keys: InstallKey[]): string {
  const h = createHash("sha256").update("pulumi-ephemery prysm wallet\0");
  for (const k of keys) h.update(k.pubkey).update("\0").update(k.password).update("\0");
  return h.digest("hex");
}

/**
 * Lodestar's slashing-protection import/export on a database without a stored genesis_validators_root asks a
 * beacon node for it (packages/cli/src/cmds/validator/slashingProtection/utils.ts getGenesisValidatorsRoot) and
 * defines no option to pass it; the one-off container runs under `--network none`. So the release's
 * genesis_validators_root.txt (checked: 0x + 64 hex) is served from loopback for the one call lodestar makes,
 * GET /eth/v1/beacon/genesis (only the root is read; time and fork version are placeholders). The root reaches
 * the server as an environment value, never as code.
 */
const LODESTAR_GENESIS_PORT = 9596;
const LODESTAR_GENESIS_SERVER = [
  'const r=process.env.GVR;',
  'require("http").createServer((q,s)=>{',
  'if(q.url!=="/eth/v1/beacon/genesis"){s.writeHead(404);s.end();return;}',
  's.writeHead(200,{"content-type":"application/json"});',
  's.end(JSON.stringify({data:{genesis_time:"0",genesis_validators_root:r,genesis_fork_version:"0x00000000"}}));',
  `}).listen(${LODESTAR_GENESIS_PORT},"127.0.0.1",()=>require("fs").writeFileSync("/tmp/genesis-ready",""));`,
].join("");

function lodestarWithGenesisRoot(tool: string): string {
  return [
    "GVR=$(tr -d ' \\r\\n' < /ephemery/testnet/current/genesis_validators_root.txt)",
    'case "$GVR" in 0x*) ;; *) GVR=bad ;; esac',
    'case "${GVR#0x}" in *[!0-9a-fA-F]*) GVR=bad ;; esac',
    '[ "${#GVR}" -eq 66 ] || { echo "genesis_validators_root.txt of the current release is not 0x and 64 hex digits" >&2; exit 1; }',
    "rm -f /tmp/genesis-ready",
    `GVR="$GVR" node -e '${LODESTAR_GENESIS_SERVER}' & server=$!`,
    "i=0; while [ ! -e /tmp/genesis-ready ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done",
    `rc=0; ${tool} --beaconNodes=http://127.0.0.1:${LODESTAR_GENESIS_PORT} >&2 || rc=$?`,
    'kill "$server" 2>/dev/null || true',
    '[ "$rc" -eq 0 ]',
  ].join("; ");
}

const LODESTAR_SP = "node /usr/app/packages/cli/bin/lodestar validator slashing-protection";
const LODESTAR_SP_ARGS = "--dataDir=/data --paramsFile=/ephemery/testnet/current/config.yaml --file=/tmp/sp.json";

/**
 * Per-client commands run by the host installer in a one-off container (the validator's image, or `toolImage`
 * when that image lacks the tool) with its data volume at /data: slashing-protection export (EIP-3076 JSON on
 * stdout) and import (JSON on stdin), and where the keymanager API token lives. The option guard
 * (tests/unit/clientOptions.test.ts) checks every option here against the client's pinned definitions.
 */
export const KEY_TOOLS: Record<ValidatorClientName, {
  exportCmd: string;
  importCmd: string;
  apiTokenPath: string;
  walletImportCmd?: string;
  /** The image to run the tools in, from the validator's image; default: the validator's image. */
  toolImage?: (validatorImage: string) => string;
}> = {
  lighthouse: {
    exportCmd: "lighthouse account validator slashing-protection export --testnet-dir=/ephemery/testnet/current --datadir=/data /tmp/sp.json >&2 && cat /tmp/sp.json",
    importCmd: "cat > /tmp/sp.json && lighthouse account validator slashing-protection import --testnet-dir=/ephemery/testnet/current --datadir=/data /tmp/sp.json >&2",
    apiTokenPath: "/data/validators/api-token.txt",
  },
  teku: {
    exportCmd: "/opt/teku/bin/teku slashing-protection export --data-path=/data --to=/tmp/sp.json >&2 && cat /tmp/sp.json",
    importCmd: "cat > /tmp/sp.json && /opt/teku/bin/teku slashing-protection import --data-path=/data --from=/tmp/sp.json >&2",
    apiTokenPath: "/data/validator/key-manager/validator-api-bearer",
  },
  nimbus: {
    // The validator-client image holds only nimbus_validator_client (docker/dist/binaries/Dockerfile.vc.*);
    // `slashingdb` is a nimbus_beacon_node command, so the tools run in the beacon image of the same release.
    exportCmd: "/home/user/nimbus_beacon_node slashingdb export /tmp/sp.json --data-dir=/data >&2 && cat /tmp/sp.json",
    importCmd: "cat > /tmp/sp.json && /home/user/nimbus_beacon_node slashingdb import /tmp/sp.json --data-dir=/data >&2",
    apiTokenPath: NIMBUS_KEYMANAGER_TOKEN,
    toolImage: nimbusBeaconImageFor,
  },
  lodestar: {
    exportCmd: `${lodestarWithGenesisRoot(`${LODESTAR_SP} export ${LODESTAR_SP_ARGS}`)} && cat /tmp/sp.json`,
    importCmd: `cat > /tmp/sp.json && ${lodestarWithGenesisRoot(`${LODESTAR_SP} import ${LODESTAR_SP_ARGS}`)}`,
    apiTokenPath: "/data/validator-db/api-token.txt",
  },
  prysm: {
    exportCmd: "/app/cmd/validator/validator slashing-protection-history export --datadir=/data --slashing-protection-export-dir=/tmp/sp --accept-terms-of-use >&2 && cat /tmp/sp/slashing_protection.json",
    importCmd: "cat > /tmp/sp.json && /app/cmd/validator/validator slashing-protection-history import --datadir=/data --slashing-protection-json-file=/tmp/sp.json --accept-terms-of-use >&2",
    apiTokenPath: "/data/wallet/auth-token",
    walletImportCmd: "for f in /ephemery/validator-keys/current/prysm/keystores/*.json; do [ -e \"$f\" ] || continue; pk=$(basename \"$f\" .json); pk=${pk#keystore-}; /app/cmd/validator/validator accounts import --wallet-dir=/data/wallet --keys-dir=\"$f\" --wallet-password-file=/ephemery/validator-keys/current/prysm/wallet-password.txt --account-password-file=/ephemery/validator-keys/current/prysm/passwords/$pk.txt --accept-terms-of-use >&2; done",
  },
};

/**
 * The nimbus beacon image of the validator image's release (`statusim/nimbus-validator-client:<tag>` ->
 * `statusim/nimbus-eth2:<tag>`); any other validator image gets the pinned beacon image.
 */
export function nimbusBeaconImageFor(validatorImage: string): string {
  const ref = parseImage(validatorImage);
  const vcRepo = parseImage(DEFAULT_IMAGES.nimbusValidator).repository;
  if (ref.repository !== vcRepo || !ref.tag || ref.digest) return DEFAULT_IMAGES.nimbusBeacon;
  return formatImage({ repository: parseImage(DEFAULT_IMAGES.nimbusBeacon).repository, tag: ref.tag });
}

/** A minimal ustar archive of the files (mode 0600, root-owned, fixed mtime) so equal sets give equal bytes. */
export function tarFiles(files: { path: string; content: string | Buffer }[]): Buffer {
  const blocks: Buffer[] = [];
  const entry = (name: string, type: string, body: Buffer) => {
    const h = Buffer.alloc(512);
    h.write(name.slice(0, 100), 0, "utf8");
    h.write("0000600\0", 100);
    h.write("0000000\0", 108);
    h.write("0000000\0", 116);
    h.write(`${body.length.toString(8).padStart(11, "0")}\0`, 124);
    h.write("00000000000\0", 136);
    h.write("        ", 148);
    h.write(type, 156);
    h.write("ustar\u000000", 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  };
  for (const f of files) {
    // Paths over 100 bytes (a 0x-pubkey file name alone is 98) go in a pax extended header.
    if (Buffer.byteLength(f.path) > 100) entry("PaxHeader", "x", paxRecord("path", f.path));
    entry(f.path, "0", Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content, "utf8"));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, "utf8");
}

export const sha256hex = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

/**
 * What the installer receives on stdin (base64 of a tar): the key set under `keys/`, `SHA256SUMS` for the
 * host-side integrity check, `pubkeys.txt` (what the client must report), and optionally
 * `slashing-protection.json`, an interchange to import before the client starts.
 */
export function installBundle(client: ValidatorClientName, keys: InstallKey[], interchange?: string): string {
  const layout = clientLayout(client, keys);
  const pubkeys = keys.map((k) => k.pubkey).sort().join("\n") + (keys.length ? "\n" : "");
  const files: { path: string; content: string }[] = [
    ...layout.map((f) => ({ path: `keys/${f.path}`, content: f.content })),
    { path: `keys/${SET_PUBKEYS_FILE}`, content: pubkeys },
    { path: `keys/${SET_CLIENT_FILE}`, content: `${client}\n` },
    ...(interchange ? [{ path: "slashing-protection.json", content: interchange }] : []),
  ];
  const sums = files.map((f) => `${sha256hex(f.content)}  ${f.path}`).join("\n") + "\n";
  return tarFiles([{ path: "SHA256SUMS", content: sums }, ...files]).toString("base64");
}
