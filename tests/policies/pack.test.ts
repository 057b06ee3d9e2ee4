import { ALL_POLICIES, initialConfig, levelOf, PACK_LEVEL, POLICIES, POLICY_LEVELS } from "../../policies/pack";

describe("the pack", () => {
  test("every area has policies, and names are kebab-case and unique", () => {
    for (const [area, list] of Object.entries(POLICIES)) expect([area, list.length > 0]).toEqual([area, true]);
    const names = ALL_POLICIES.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });

  test("descriptions are one sentence starting 'Checks whether'", () => {
    for (const p of ALL_POLICIES) {
      expect(p.description).toMatch(/^Checks whether .+\.$/);
      expect(p.description).not.toMatch(/\.\s/);
    }
  });

  test("rules carry no enforcement level of their own; every config property has a default", () => {
    for (const p of ALL_POLICIES) {
      expect([p.name, p.enforcementLevel]).toEqual([p.name, undefined]);
      for (const [k, spec] of Object.entries(p.configSchema?.properties ?? {})) expect([p.name, k, "default" in (spec as object)]).toEqual([p.name, k, true]);
    }
  });

  test("levels: pack default, per-policy defaults, operator config wins", () => {
    expect(PACK_LEVEL).toBe("mandatory");
    expect(levelOf("validator-key-on-one-host")).toBe("mandatory");
    expect(levelOf("ssh-not-open-to-world")).toBe("advisory");
    expect(levelOf("ssh-not-open-to-world", { "ssh-not-open-to-world": "mandatory" })).toBe("mandatory");
    expect(levelOf("images-pinned", { "images-pinned": { enforcementLevel: "disabled" } })).toBe("disabled");
    for (const name of Object.keys(POLICY_LEVELS)) expect(ALL_POLICIES.map((p) => p.name)).toContain(name);
    expect(initialConfig()).toEqual(POLICY_LEVELS);
  });
});
