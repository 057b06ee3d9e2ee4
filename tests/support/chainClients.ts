/** The real client binaries and images the live-chain tier runs (scripts/client-binaries.sh, scripts/client-images.sh). */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_IMAGES, parseImage } from "../../lib/config/images";

const REPO = path.resolve(__dirname, "..", "..");
const CACHE = path.join(process.env.PULUMI_EPHEMERY_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-ephemery"), "clients");

export interface ClientBinaries { geth: string; beaconChain: string; validator: string; prysmctl: string }

/** Paths of the cached binaries at the pinned versions; names the command that builds them when one is missing. */
export function clientBinaries(): ClientBinaries {
  const gethDir = path.join(CACHE, `geth-${parseImage(DEFAULT_IMAGES.geth).tag}`);
  const prysmDir = path.join(CACHE, `prysm-${parseImage(DEFAULT_IMAGES.prysmBeacon).tag}`);
  for (const dir of [gethDir, prysmDir]) {
    if (!fs.existsSync(path.join(dir, ".done"))) throw new Error(`${dir} is not built: run bash scripts/client-binaries.sh (the .ci/run script does)`);
  }
  return {
    geth: path.join(gethDir, "geth"),
    beaconChain: path.join(prysmDir, "beacon-chain"),
    validator: path.join(prysmDir, "validator"),
    prysmctl: path.join(prysmDir, "prysmctl"),
  };
}

/** Imports the client images into the running engine (seconds when the binaries are cached). */
export function ensureClientImages(): string[] {
  const out = execFileSync("bash", [path.join(REPO, "scripts", "client-images.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 3_600_000 });
  return out.split("\n").filter(Boolean);
}
