/**
 * Erigon's start script inits the data directory from the release's genesis once, and never starts erigon on a
 * directory whose init failed: run for real in a container on the real Docker engine, with a volume kept between
 * starts as a restarted container keeps it.
 */
import { buildNodeSpecs } from "../../lib/clients";
import { ERIGON_INIT_MARKER } from "../../lib/clients/execution/erigon";
import { hostSchema } from "../../lib/config/schema";
import { busyboxImage, docker } from "../support/dockerd";

/**
 * Stands in for the erigon binary (none can be built here: the Go proxy refuses erigon v3.2.2). `erigon init`
 * leaves a partial chaindata directory and fails while /data/fail-init exists, as an init cut short by a full disk
 * or a bad genesis would; otherwise it writes chaindata. The node itself only prints that it started.
 */
const ERIGON_STUB = `#!/bin/sh
if [ "$1" = init ]; then
  echo "init $*"
  mkdir -p /data/chaindata
  if [ -e /data/fail-init ]; then echo "init failed" >&2; exit 1; fi
  echo ok > /data/chaindata/genesis-written
  exit 0
fi
echo "erigon started (genesis written: $(cat /data/chaindata/genesis-written 2>/dev/null || echo no))"
`;

const host = hostSchema.parse({
  name: "n1", kind: "local",
  execution: { client: "erigon" }, consensus: { client: "lighthouse" },
});
const spec = buildNodeSpecs({ node: "n1", host, checkpointSyncUrls: [] }).execution;
const volume = `ephemery-erigon-init-${process.pid}`;
let image: string;

beforeAll(() => {
  image = busyboxImage("ephemery-erigon-stub", {
    "usr/local/bin/erigon": { content: ERIGON_STUB, mode: 0o755 },
    "ephemery/testnet/current/genesis.json": { content: "{}\n" },
    "ephemery/testnet/current/nodevars_env.txt": { content: "CHAIN_ID=39438150\nBOOTNODE_ENODE_LIST=enode://x@127.0.0.1:1\n" },
  });
}, 120_000);
afterAll(() => {
  try { docker(["volume", "rm", "-f", volume]); } catch { /* never created */ }
});

function start(): { ok: boolean; out: string } {
  try {
    return { ok: true, out: docker(["run", "--rm", "--network", "none", "-v", `${volume}:/data`, "--entrypoint", spec.entrypoint![0], image, ...spec.entrypoint!.slice(1), ...spec.command]) };
  } catch (e) {
    return { ok: false, out: String((e as { stdout?: string }).stdout ?? "") };
  }
}

test("a failed init stops the start and runs again at the next; a finished one is not repeated", () => {
  docker(["run", "--rm", "--network", "none", "-v", `${volume}:/data`, "--entrypoint", "/bin/sh", image, "-c", "touch /data/fail-init"]);
  const failed = start();
  expect(failed.ok).toBe(false);
  expect(failed.out).toMatch(/^init /m);
  expect(failed.out).not.toMatch(/erigon started/);

  // The partial chaindata directory is there, yet the next start inits again before erigon runs.
  docker(["run", "--rm", "--network", "none", "-v", `${volume}:/data`, "--entrypoint", "/bin/sh", image, "-c", "test -d /data/chaindata && rm /data/fail-init"]);
  const retried = start();
  expect(retried.ok).toBe(true);
  expect(retried.out).toMatch(/^init .*--datadir=\/data .*\/ephemery\/testnet\/current\/genesis\.json$/m);
  expect(retried.out).toMatch(/erigon started \(genesis written: ok\)/);

  const again = start();
  expect(again.out).not.toMatch(/^init /m);
  expect(again.out).toMatch(/erigon started \(genesis written: ok\)/);
  expect(docker(["run", "--rm", "--network", "none", "-v", `${volume}:/data`, "--entrypoint", "/bin/sh", image, "-c", `ls -a /data`])).toContain(ERIGON_INIT_MARKER);
});
