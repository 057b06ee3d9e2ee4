/**
 * The official EIP-3076 interchange tests (eth-clients/slashing-protection-interchange-tests v5.3.0), every
 * file and step, through the project's slashing-protection path: import into the workstation's merge, the
 * verdict, then each listed block and attestation against the database after the import and against what
 * a host receives (the database exported and imported again into a fresh one, as on the next host).
 */
import * as fs from "fs";
import * as path from "path";
import {
  emptyDb, exportInterchange, importInterchange, ProtectionDb, recordAttestation, recordBlock, refusesAttestation, refusesBlock,
} from "../../lib/keys/slashingProtection";
import { Interchange, interchangeProblems } from "../../lib/keys/interchange";
import { mergeInterchanges, mergeReleased } from "../../components/validatorKeys";

// shared/ sits beside the repository (the project root's parent), in a workstation checkout and in CI alike.
const DIR = path.join(__dirname, "..", "..", "..", "shared", "vectors", "eip3076");
const VECTORS = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith(".json") && f !== "schema.json").sort() : [];

interface Step {
  should_succeed: boolean;
  contains_slashable_data: boolean;
  interchange: unknown;
  blocks: { pubkey: string; slot: string; should_succeed: boolean }[];
  attestations: { pubkey: string; source_epoch: string; target_epoch: string; should_succeed: boolean }[];
}
const pk = (p: string) => p.toLowerCase().replace(/^0x/, "");

/** Signs each item in order, as the suite's runner does: an allowed signature is recorded. */
function signAll(db: ProtectionDb, step: Step): { blocks: boolean[]; attestations: boolean[] } {
  const blocks = step.blocks.map((b) => {
    const refused = refusesBlock(db, pk(b.pubkey), BigInt(b.slot));
    if (!refused) recordBlock(db, pk(b.pubkey), BigInt(b.slot));
    return !refused;
  });
  const attestations = step.attestations.map((a) => {
    const refused = refusesAttestation(db, pk(a.pubkey), BigInt(a.source_epoch), BigInt(a.target_epoch));
    if (!refused) recordAttestation(db, pk(a.pubkey), BigInt(a.source_epoch), BigInt(a.target_epoch));
    return !refused;
  });
  return { blocks, attestations };
}
/** A copy with the same watermarks, so signing on one does not change the other. */
const copy = (db: ProtectionDb): ProtectionDb => ({ genesisValidatorsRoot: db.genesisValidatorsRoot, keys: new Map([...db.keys].map(([k, h]) => [k, { ...h, blocks: [...h.blocks], attestations: [...h.attestations] }])) });

test("the whole suite is here (38 files, 49 import steps)", () => {
  expect(VECTORS).toHaveLength(38);
  const steps = VECTORS.reduce((n, f) => n + JSON.parse(fs.readFileSync(path.join(DIR, f), "utf8")).steps.length, 0);
  expect(steps).toBe(49);
});

describe.each(VECTORS)("%s", (file) => {
  const vector = JSON.parse(fs.readFileSync(path.join(DIR, file), "utf8")) as { genesis_validators_root: string; steps: Step[] };
  test("every step: import verdict, slashable data, then each block and attestation, also after a move to a fresh host", () => {
    // The chain is the release's: the test's genesis_validators_root, never "whatever the file says".
    let db = emptyDb(vector.genesis_validators_root);
    vector.steps.forEach((step, i) => {
      const r = importInterchange(db, step.interchange);
      expect({ step: i, ok: r.ok, slashable: r.slashable.length > 0 }).toEqual({ step: i, ok: step.should_succeed, slashable: step.should_succeed && step.contains_slashable_data });
      db = r.db;
      // What moves to another host: the export, imported into that host's empty database.
      const moved = importInterchange(emptyDb(vector.genesis_validators_root), JSON.parse(JSON.stringify(exportInterchange(db))));
      expect(moved).toMatchObject({ ok: true, slashable: [] });
      const want = { blocks: step.blocks.map((b) => b.should_succeed), attestations: step.attestations.map((a) => a.should_succeed) };
      expect({ step: i, ...signAll(moved.db, step) }).toEqual({ step: i, ...want });
      expect({ step: i, ...signAll(copy(db), step) }).toEqual({ step: i, ...want });
      db = copy(db);
      signAll(db, step); // the signatures made stay in the database for the next step, as in a client
    });
  });
});

describe("what the suite does not spell out, on the workstation's checks and merge", () => {
  const ROOT = `0x${"ab".repeat(32)}`;
  const PK = "a99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c";
  const ic = (data: unknown[], root = ROOT) => ({ metadata: { interchange_format_version: "5", genesis_validators_root: root }, data });
  const rec = (blocks: unknown[], atts: unknown[] = [], pubkey = `0x${PK}`) => ({ pubkey, signed_blocks: blocks, signed_attestations: atts });

  test.each([
    ["a slot above 2^64-1", rec([{ slot: "18446744073709551616" }]), /signed_blocks\[0\]\.slot is "18446744073709551616"; it must be a decimal string from 0 to 18446744073709551615/],
    ["a 40-digit epoch", rec([], [{ source_epoch: "1".repeat(40), target_epoch: "2" }]), /signed_attestations\[0\]\.source_epoch is "1{40}"; it must be a decimal string/],
    ["a number instead of a string", rec([{ slot: 5 }]), /slot is 5; it must be a decimal string/],
    ["a short signing root", rec([{ slot: "5", signing_root: "0x1234" }]), /signed_blocks\[0\]\.signing_root is "0x1234"; it must be 0x and 32 bytes of hex, or absent/],
    ["a signing root without 0x", rec([], [{ source_epoch: "1", target_epoch: "2", signing_root: "ab".repeat(32) }]), /signed_attestations\[0\]\.signing_root is "abab/],
  ])("%s is refused by keys validate, the program's scan and the merge", (_label, record, message) => {
    const file = ic([record]);
    expect(interchangeProblems(file)).toEqual([expect.stringMatching(message)]);
    expect(importInterchange(emptyDb(ROOT), file)).toMatchObject({ ok: false, problems: [expect.stringMatching(message)] });
    expect(() => mergeInterchanges([file as Interchange])).toThrow(message);
  });

  test("2^64-1 itself is a valid slot and survives the export exactly", () => {
    const r = importInterchange(emptyDb(ROOT), ic([rec([{ slot: "18446744073709551615" }])]));
    expect(r.ok).toBe(true);
    expect(exportInterchange(r.db).data[0].signed_blocks).toEqual([{ slot: "18446744073709551615" }]);
  });

  test("source > target is slashable data; the export keeps a watermark a client accepts (target raised to the source)", () => {
    const r = importInterchange(emptyDb(ROOT), ic([rec([], [{ source_epoch: "5", target_epoch: "2" }])]));
    expect(r.slashable).toEqual([expect.stringMatching(/source epoch 5 after its target epoch 2/)]);
    expect(exportInterchange(r.db).data[0].signed_attestations).toEqual([{ source_epoch: "5", target_epoch: "5" }]);
    const moved = importInterchange(emptyDb(ROOT), exportInterchange(r.db));
    expect(moved).toMatchObject({ ok: true, slashable: [] });
    expect(refusesAttestation(moved.db, PK, 5n, 5n)).toBe(true);
    expect(refusesAttestation(moved.db, PK, 4n, 6n)).toBe(true);
    expect(refusesAttestation(moved.db, PK, 5n, 6n)).toBe(false);
  });

  test("a file for another chain is refused: the root is always compared with the database's", () => {
    expect(importInterchange(emptyDb(ROOT), ic([], `0x${"cd".repeat(32)}`))).toMatchObject({ ok: false, problems: [expect.stringMatching(/belongs to another chain/)] });
    expect(() => emptyDb("")).toThrow(/genesis validators root "" must be 0x and 32 bytes of hex/);
  });

  test("duplicate pubkeys in one file pass the key-source scan and are merged to the highest watermarks", () => {
    const file = ic([rec([{ slot: "10" }], [{ source_epoch: "0", target_epoch: "2" }]), rec([{ slot: "13" }], [{ source_epoch: "1", target_epoch: "3" }])]);
    expect(interchangeProblems(file, { allowedPubkeys: [PK] })).toEqual([]);
    expect(mergeInterchanges([file as Interchange])).toEqual(ic([rec([{ slot: "13" }], [{ source_epoch: "1", target_epoch: "3" }])]));
  });

  test("a releasing host's export that is not JSON, or not a valid interchange, stops the move with the reason", () => {
    const block = (body: string) => `released 1\n-----BEGIN SLASHING PROTECTION-----\n${body}\n-----END SLASHING PROTECTION-----\n`;
    expect(() => mergeReleased([block("{oops")], [PK])).toThrow(/exported for moved keys is not JSON .*docker logs/);
    expect(() => mergeReleased([block(JSON.stringify(ic([rec([{ slot: "-1" }])])))], [PK])).toThrow(/exported for moved keys is unusable: data\[0\]\.signed_blocks\[0\]\.slot is "-1"/);
    expect(mergeReleased([block(JSON.stringify(ic([rec([{ slot: "7" }])])))], [PK])).toEqual(ic([rec([{ slot: "7" }])]));
  });

  test("merging two hosts' exports keeps each key's highest slot and epochs whatever the order; different chains are refused", () => {
    const a = ic([rec([{ slot: "40" }], [{ source_epoch: "2", target_epoch: "30" }])]) as Interchange;
    const b = ic([rec([{ slot: "20" }, { slot: "50" }], [{ source_epoch: "10", target_epoch: "20" }])]) as Interchange;
    const want = ic([rec([{ slot: "50" }], [{ source_epoch: "10", target_epoch: "30" }])]);
    expect(mergeInterchanges([a, b])).toEqual(want);
    expect(mergeInterchanges([b, a])).toEqual(want);
    expect(() => mergeInterchanges([a, ic([rec([{ slot: "1" }])], `0x${"cd".repeat(32)}`) as Interchange])).toThrow(/files of different chains cannot be imported together/);
  });
});
