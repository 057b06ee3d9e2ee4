package main

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiffInputs(t *testing.T) {
	asset := func(hash string) map[string]any {
		return map[string]any{sigKey: sigAsset, "path": "/tmp/x", "hash": hash}
	}
	cases := []struct {
		name            string
		typ             string
		olds, news      map[string]any
		diffs, replaces []string
	}{
		{"triggers replace even with an update command", "command:remote:Command",
			map[string]any{"create": "a", "update": "u", "triggers": []any{"1"}},
			map[string]any{"create": "a", "update": "u", "triggers": []any{"2"}},
			[]string{"triggers"}, []string{"triggers"}},
		{"triggers added replace", "command:local:Command",
			map[string]any{"create": "a"},
			map[string]any{"create": "a", "triggers": []any{"x"}},
			[]string{"triggers"}, []string{"triggers"}},
		{"a changed create is an update", "command:local:Command",
			map[string]any{"create": "a", "stdout": "old output"},
			map[string]any{"create": "b"},
			[]string{"create"}, nil},
		{"a changed copy source is an update (CopyToRemote has Update)", "command:remote:CopyToRemote",
			map[string]any{"source": asset("h1"), "remotePath": "/x"},
			map[string]any{"source": asset("h2"), "remotePath": "/x"},
			[]string{"source"}, nil},
		{"CopyToRemote triggers replace", "command:remote:CopyToRemote",
			map[string]any{"source": asset("h1"), "remotePath": "/x", "triggers": []any{1.0}},
			map[string]any{"source": asset("h1"), "remotePath": "/x", "triggers": []any{2.0}},
			[]string{"triggers"}, []string{"triggers"}},
		{"CopyFile has no Update: every change replaces", "command:remote:CopyFile",
			map[string]any{"localPath": "/a", "remotePath": "/x"},
			map[string]any{"localPath": "/a", "remotePath": "/y"},
			[]string{"remotePath"}, []string{"remotePath"}},
		{"outputs and internal keys are not inputs", "command:remote:Command",
			map[string]any{"create": "a", "stdout": "1", "stderr": "2"},
			map[string]any{"create": "a", "__defaults": []any{}},
			nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diffs, replaces := diffInputs(c.typ, mustStruct(t, c.olds), mustStruct(t, c.news))
			if !reflect.DeepEqual(diffs, c.diffs) || !reflect.DeepEqual(replaces, c.replaces) {
				t.Fatalf("diffs %v replaces %v, want %v %v", diffs, replaces, c.diffs, c.replaces)
			}
		})
	}
}
