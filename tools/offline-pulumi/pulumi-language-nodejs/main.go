// Minimal Node.js language host for offline test toolchains (pulumi-ephemery).
// Written for this project; implements the subset of pulumirpc.LanguageRuntime that `pulumi up/preview/destroy/
// refresh` and Node.js policy packs need, with the real host's (pulumi/pulumi sdk/nodejs/cmd/pulumi-language-nodejs,
// v3.270) config encoding and policy-pack start-up.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
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

	cfg, err := programConfig(req.GetConfig())
	if err != nil {
		return &pulumirpc.RunResponse{Error: "failed to serialize configuration: " + err.Error()}, nil
	}
	secretKeys := "[]"
	if keys := req.GetConfigSecretKeys(); keys != nil {
		b, err := json.Marshal(keys)
		if err != nil {
			return nil, err
		}
		secretKeys = string(b)
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+cfg, "PULUMI_CONFIG_SECRET_KEYS="+secretKeys)
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

// programConfig is PULUMI_CONFIG as the real host writes it (pulumi/pulumi sdk/nodejs/cmd/pulumi-language-nodejs
// v3.270 constructConfig): "{}" for a stack without config (JSON null would crash the SDK's config parser), keys in
// the "<namespace>:config:<name>" form older SDKs read and newer ones accept.
func programConfig(cfg map[string]string) (string, error) {
	if cfg == nil {
		return "{}", nil
	}
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		key, err := config.ParseKey(k)
		if err != nil {
			return "", err
		}
		out[key.Namespace()+":config:"+key.Name()] = v
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// policyPackEnv is what the real host adds for a policy pack once the engine has configured the stack
// (ConfigureStack, received through sdk.PolicyProxy): organization, project, stack, dry run and the stack config.
func policyPackEnv(cfg *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	if cfg == nil {
		return nil, nil
	}
	var env []string
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("PULUMI_NODEJS_ORGANIZATION", cfg.GetOrganization())
	add("PULUMI_NODEJS_PROJECT", cfg.GetProject())
	add("PULUMI_NODEJS_STACK", cfg.GetStack())
	add("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(cfg.GetDryRun()))
	if c := cfg.GetConfig(); c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("could not marshal stack configuration: %w", err)
		}
		add("PULUMI_CONFIG", string(b))
	}
	return env, nil
}

// RunPlugin runs a Node.js policy pack (kind "analyzer") or a Node.js provider plugin, as the real host does:
// the environment is exactly the engine's (req.Env) plus the runtime options; a policy pack runs in its own
// directory with the engine's arguments before that directory, behind sdk.PolicyProxy, which receives the
// engine's stack configuration first and hands it to the pack as environment variables.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, srv pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := srv.Context()
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(srv, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	env := append([]string(nil), req.GetEnv()...)
	if h.option(info, "typescript") != "false" {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if tsc := h.option(info, "tsconfig"); tsc != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsc)
	}
	analyzer := req.GetKind() == "analyzer"
	script := "@pulumi/pulumi/cmd/run-plugin"
	if analyzer {
		script = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	path, err := resolve(dir, script)
	if err != nil {
		return err
	}
	args := append([]string{path}, strings.Fields(h.option(info, "nodeargs"))...)
	if analyzer {
		args = append(append(args, req.GetArgs()...), dir)
	} else {
		args = append(append(args, dir), req.GetArgs()...)
	}

	var proxy *sdk.PolicyProxy
	if analyzer {
		if proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout); err != nil {
			return fmt.Errorf("could not start policy pack proxy: %w", err)
		}
		cfg, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get stack configuration: %w", err)
		}
		more, err := policyPackEnv(cfg)
		if err != nil {
			return err
		}
		env = append(env, more...)
	}

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = req.GetPwd()
	if analyzer {
		cmd.Dir = dir
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("Problem executing plugin program (could not run language executor): %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd)
	} else {
		err = cmd.Wait()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", ee.ExitCode())
		}
		return err
	}
	return closer.Close()
}
