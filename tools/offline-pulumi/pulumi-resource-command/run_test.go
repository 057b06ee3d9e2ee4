package main

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// recordingEngine keeps what the provider logs, as the engine would receive it.
type recordingEngine struct {
	mu       sync.Mutex
	status   []string
	warnings []string
}

func (e *recordingEngine) Log(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if sev == diag.Warning {
		e.warnings = append(e.warnings, msg)
	}
	return nil
}

func (e *recordingEngine) LogStatus(_ context.Context, _ diag.Severity, _ resource.URN, msg string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status = append(e.status, msg)
	return nil
}

func TestLocalCommandLogging(t *testing.T) {
	script := "echo out-line; echo err-line >&2"
	cases := map[string][]string{
		"":                {"out-line", "err-line"},
		"stdoutAndStderr": {"out-line", "err-line"},
		"stdout":          {"out-line"},
		"stderr":          {"err-line"},
		"none":            nil,
	}
	for logging, want := range cases {
		t.Run("logging="+logging, func(t *testing.T) {
			eng := &recordingEngine{}
			in := mustStruct(t, map[string]any{"create": script})
			so, se, err := runLocal(run{command: script, log: newCommandLog(context.Background(), eng, "urn:x", logging)}, in)
			if err != nil {
				t.Fatal(err)
			}
			if so != "out-line" || se != "err-line" {
				t.Fatalf("outputs are captured whatever the logging: stdout %q stderr %q", so, se)
			}
			got := append([]string(nil), eng.status...)
			if strings.Join(sorted(got), ",") != strings.Join(sorted(want), ",") {
				t.Fatalf("logged %q, want %q", got, want)
			}
		})
	}
}

func TestLocalCommandPreviousOutput(t *testing.T) {
	in := mustStruct(t, map[string]any{})
	r := run{command: `echo "[${PULUMI_COMMAND_STDOUT-unset}] [${PULUMI_COMMAND_STDERR-unset}]"`, prevStdout: "before", log: newCommandLog(context.Background(), nil, "", "none")}
	so, _, err := runLocal(r, in)
	if err != nil {
		t.Fatal(err)
	}
	// An empty previous output is not passed on at all, as in the real provider.
	if so != "[before] [unset]" {
		t.Fatalf("got %q", so)
	}
}

func TestLocalCommandFailureNamesCommandAndOutput(t *testing.T) {
	r := run{command: "echo nope >&2; exit 3", log: newCommandLog(context.Background(), nil, "", "none")}
	_, _, err := runLocal(r, mustStruct(t, map[string]any{}))
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v", err)
	}
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
