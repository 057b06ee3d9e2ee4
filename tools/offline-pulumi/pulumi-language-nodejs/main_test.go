package main

import (
	"encoding/json"
	"reflect"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestProgramConfigOfAStackWithoutConfigIsAnEmptyObject(t *testing.T) {
	got, err := programConfig(nil)
	if err != nil || got != "{}" {
		t.Fatalf("got %q, %v; JSON null crashes the SDK's config parser", got, err)
	}
}

func TestProgramConfigUsesTheNamespaceConfigNameForm(t *testing.T) {
	got, err := programConfig(map[string]string{"ephemery:hosts": "[]", "aws:region": "eu-central-1"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	must(t, json.Unmarshal([]byte(got), &m))
	want := map[string]string{"ephemery:config:hosts": "[]", "aws:config:region": "eu-central-1"}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %v, want %v", m, want)
	}
}

func TestProgramConfigRejectsAKeyWithoutNamespace(t *testing.T) {
	if _, err := programConfig(map[string]string{"hosts": "x"}); err == nil {
		t.Fatal("a key without a namespace must be refused")
	}
}

func TestPolicyPackEnvCarriesTheStackTheEngineConfigured(t *testing.T) {
	env, err := policyPackEnv(&pulumirpc.AnalyzerStackConfigureRequest{
		Organization: "organization", Project: "ephemery", Stack: "prod", DryRun: true,
		Config: map[string]string{"ephemery:network": "{}"},
	})
	must(t, err)
	want := []string{
		"PULUMI_NODEJS_ORGANIZATION=organization", "PULUMI_NODEJS_PROJECT=ephemery", "PULUMI_NODEJS_STACK=prod",
		"PULUMI_NODEJS_DRY_RUN=true", `PULUMI_CONFIG={"ephemery:network":"{}"}`,
	}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("got %q, want %q", env, want)
	}
	if env, _ := policyPackEnv(nil); env != nil {
		t.Fatalf("no configuration, no variables: got %q", env)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
