// Minimal Node.js language host for offline test toolchains (pulumi-ephemery).
// Written for this project; implements the subset of pulumirpc.LanguageRuntime
// that `pulumi up/preview/destroy/refresh` and Node.js policy packs need.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

var version = "3.0.0" // overridden with -ldflags "-X main.version=..."

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine string
	flags  map[string]string // runtime options passed as -k=v by older engines
}

func main() {
	h := &host{flags: map[string]string{}}
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-") {
			kv := strings.SplitN(strings.TrimLeft(a, "-"), "=", 2)
			if len(kv) == 2 {
				h.flags[kv[0]] = kv[1]
			}
			continue
		}
		h.engine = a
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()
	if h.engine != "" {
		if err := rpcutil.Healthcheck(ctx, h.engine, 5*time.Minute, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "health check: %v\n", err)
			os.Exit(1)
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
		os.Exit(1)
	}
}

// option reads a runtime option (Pulumi.yaml runtime.options) from the program info or the launch flags.
func (h *host) option(info *pulumirpc.ProgramInfo, key string) string {
	if o := info.GetOptions(); o != nil {
		if v, ok := o.GetFields()[key]; ok {
			switch x := v.GetKind().(type) {
			case *structpb.Value_StringValue:
				return x.StringValue
			case *structpb.Value_BoolValue:
				return fmt.Sprint(x.BoolValue)
			case *structpb.Value_NumberValue:
				return fmt.Sprint(x.NumberValue)
			}
		}
	}
	return h.flags[key]
}

// resolve finds a module the way node would from dir (node_modules walk plus NODE_PATH).
func resolve(dir, mod string) (string, error) {
	cmd := exec.Command("node", "-e", "console.log(require.resolve(process.argv[1]))", mod)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot resolve %s from %s (is @pulumi/pulumi installed, e.g. npm install?): %w", mod, dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Plugins are not reported: with automatic plugin acquisition disabled, any reported but missing
// plugin fails the whole operation. Providers are loaded on first use instead.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest, srv pulumirpc.LanguageRuntime_InstallDependenciesServer) error {
	return nil // dependencies are installed by the project's own npm ci
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	out, _ := exec.Command("node", "--version").Output()
	return &pulumirpc.AboutResponse{Executable: "node", Version: strings.TrimSpace(string(out))}, nil
}

func (h *host) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd()
	}
	runPath, err := resolve(dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	var args []string
	if na := h.option(info, "nodeargs"); na != "" {
		args = append(args, strings.Fields(na)...)
	}
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", dir)
	add("root-directory", info.GetRootDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetQueryMode() {
		args = append(args, "--query-mode", "true")
	}
	add("parallel", fmt.Sprint(req.GetParallel()))
	program := req.GetProgram()
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cfg, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(req.GetConfigSecretKeys())
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	if ts := h.option(info, "typescript"); ts != "false" {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if tsc := h.option(info, "tsconfig"); tsc != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsc)
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == 32 { // the SDK already reported an actionable error
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", ee.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: "Problem executing program (could not run node): " + err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

type streamWriter struct {
	mu     *sync.Mutex
	srv    pulumirpc.LanguageRuntime_RunPluginServer
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	w.mu.Lock()
	defer w.mu.Unlock()
	var resp pulumirpc.RunPluginResponse
	if w.stderr {
		resp.Output = &pulumirpc.RunPluginResponse_Stderr{Stderr: b}
	} else {
		resp.Output = &pulumirpc.RunPluginResponse_Stdout{Stdout: b}
	}
	if err := w.srv.Send(&resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RunPlugin runs a Node.js policy pack (kind "analyzer") or a Node.js provider plugin.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, srv pulumirpc.LanguageRuntime_RunPluginServer) error {
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd()
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	program := filepath.Join(dir, entry)
	var script string
	var args []string
	if req.GetKind() == "analyzer" {
		script = "@pulumi/pulumi/cmd/run-policy-pack"
		engine := h.engine
		if len(req.GetArgs()) > 0 {
			engine = req.GetArgs()[0]
		}
		args = []string{engine, program}
	} else {
		script = "@pulumi/pulumi/cmd/run-plugin"
		args = append([]string{"--pwd", dir, program}, req.GetArgs()...)
	}
	path, err := resolve(dir, script)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(srv.Context(), "node", append([]string{path}, args...)...)
	cmd.Dir = dir
	cmd.Env = req.GetEnv()
	if len(cmd.Env) == 0 {
		cmd.Env = os.Environ()
	}
	mu := &sync.Mutex{}
	cmd.Stdout = streamWriter{mu: mu, srv: srv}
	cmd.Stderr = streamWriter{mu: mu, srv: srv, stderr: true}
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return err
		}
		code = int32(ee.ExitCode())
	}
	mu.Lock()
	defer mu.Unlock()
	return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}
