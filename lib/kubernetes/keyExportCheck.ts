/**
 * The check inside a kubernetes node's `<node>-keys-export` Job (host-scripts/keys-export.sh runs it bundled, in
 * the node's resetImage): the validator client's EIP-3076 export is parsed by the program's own strict parser
 * (lib/keys/slashingProtection mergeInterchangeFiles, as for every interchange the program imports), and only the
 * watermarks of the keys that move are kept, as one minimal interchange (a month of attestations of one key is
 * about 1 MB in full, the Secret holds at most 1 MiB). The file and the pubkeys are data read from volumes.
 */
import * as fs from "fs";
import { mergeInterchangeFiles } from "../keys/slashingProtection";

/** The client's full export may be much larger than what is kept; beyond this it is refused, not read. */
export const MAX_EXPORT_BYTES = 256 * 1024 * 1024;
/** Base64 of the kept interchange, below the API server's 1 MiB per Secret with room for the request and metadata. */
export const MAX_PUBLISHED_BYTES = 900 * 1024;
/** The data key of the export Secret that holds the kept interchange (the workstation reads it back). */
export const EXPORTED_KEY = "slashing-protection.json";
const PUBKEY = /^[0-9a-f]{96}$/;
const MAX_REQUEST_BYTES = 2000 * 97 + 1024;

export class KeyExportError extends Error {}

/** The minimal interchange of `moving` from the client's export, or an error naming what is wrong. */
export function keptInterchange(exportText: string, moving: string[]): string {
  if (moving.length === 0) throw new KeyExportError("no pubkeys to export were requested");
  for (const pk of moving) if (!PUBKEY.test(pk)) throw new KeyExportError(`the requested pubkey "${pk.slice(0, 20)}" is not 48 bytes of lowercase hex`);
  let value: unknown;
  try {
    value = JSON.parse(exportText);
  } catch (e) {
    throw new KeyExportError(`the validator client's export is not JSON (${(e as Error).message.slice(0, 200)})`);
  }
  const merged = mergeInterchangeFiles([{ file: "the validator client's export", value }], { pubkeys: moving });
  if (merged.problems.length) throw new KeyExportError(`the validator client's export is not a usable EIP-3076 interchange: ${merged.problems.slice(0, 5).join("; ")}`);
  const root = (value as { metadata: { genesis_validators_root: string } }).metadata.genesis_validators_root.toLowerCase();
  // Keys that never signed have no records: an empty interchange of the same chain says so.
  return JSON.stringify(merged.interchange ?? { metadata: { interchange_format_version: "5", genesis_validators_root: root }, data: [] });
}

function readBounded(file: string, max: number, what: string): string {
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
  if (size === undefined) throw new KeyExportError(`${what} ${file} is missing`);
  if (size > max) throw new KeyExportError(`${what} ${file} is ${size} bytes; at most ${max} are read`);
  return fs.readFileSync(file, "utf8");
}

/** argv: the client's export, the requested pubkeys (comma-separated), the merge-patch body to write. */
export async function main(argv: string[]): Promise<number> {
  const [exportFile, requestFile, bodyFile] = argv;
  try {
    if (!bodyFile) throw new KeyExportError("usage: keys-export-check EXPORT_FILE REQUEST_FILE BODY_FILE");
    const moving = readBounded(requestFile, MAX_REQUEST_BYTES, "the request").trim().split(",").filter((p) => p !== "");
    const kept = keptInterchange(readBounded(exportFile, MAX_EXPORT_BYTES, "the export"), moving);
    const encoded = Buffer.from(kept, "utf8").toString("base64");
    if (encoded.length > MAX_PUBLISHED_BYTES) throw new KeyExportError(`the slashing protection of ${moving.length} moving key(s) is ${encoded.length} bytes in base64; a Secret holds at most ${MAX_PUBLISHED_BYTES} here: move fewer keys per pulumi up`);
    fs.writeFileSync(bodyFile, JSON.stringify({ data: { [EXPORTED_KEY]: encoded } }));
    process.stderr.write(`kept the slashing protection of ${moving.length} moving key(s)\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`keys-export: ${(e as Error).message}\n`);
    return 1;
  }
}
