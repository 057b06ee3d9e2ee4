package main

import (
	"sort"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// outputKeys are state-only properties, never compared as inputs.
var outputKeys = map[string]bool{"stdout": true, "stderr": true, "assets": true, "archive": true}

// diffInputs compares old and new inputs of a resource of type t the way the real provider does (pulumi-command
// v1.2.1 through pulumi-go-provider v1.3.0 infer: derivedResourceController.Diff): a property tagged
// `provider:"replaceOnChanges"` (triggers, on every resource type) replaces; a type without an Update method
// (CopyFile) replaces on any change; everything else is an in-place update. `update` being set or not does not
// matter: the schema marks triggers replaceOnChanges unconditionally.
func diffInputs(t string, olds, news *structpb.Struct) (diffs, replaces []string) {
	keys := map[string]bool{}
	for k := range olds.GetFields() {
		keys[k] = true
	}
	for k := range news.GetFields() {
		keys[k] = true
	}
	for k := range keys {
		if outputKeys[k] || k == "version" || len(k) > 1 && k[:2] == "__" {
			continue
		}
		o, n := olds.GetFields()[k], news.GetFields()[k]
		if (o == nil) == (n == nil) && (o == nil || proto.Equal(o, n)) {
			continue
		}
		diffs = append(diffs, k)
		if k == "triggers" || t == "command:remote:CopyFile" {
			replaces = append(replaces, k)
		}
	}
	sort.Strings(diffs)
	sort.Strings(replaces)
	return diffs, replaces
}

func diffResponse(t string, olds, news *structpb.Struct) *pulumirpc.DiffResponse {
	diffs, replaces := diffInputs(t, olds, news)
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{Changes: changes, Diffs: diffs, Replaces: replaces}
}
