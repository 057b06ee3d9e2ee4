// Offline stand-in for the pulumi-command resource provider (pulumi-ephemery test toolchain).
// Written for this project, after the @pulumi/command 1.x schema: command:local:Command, command:local:run,
// command:remote:Command, command:remote:CopyToRemote (file/text assets, directory archives) and
// command:remote:CopyFile, with the real provider's (pulumi/pulumi-command v1.2.1) diff, copy, environment and
// logging behaviour (see diff.go, copy.go, run.go). Not supported: assetPaths/archivePaths.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

var version = "1.0.0" // overridden with -ldflags "-X main.version=..."

const (
	unknown    = "04da6b54-80e4-46f7-96ec-b56ff0331ba9" // the engine's marker for unknown values
	sigKey     = "4dabf18193072939515e22adb298388d"
	sigAsset   = "c44067f5952c0a294b673a41bacd8c17"
	sigArchive = "0def7320c3a5731c473e5ecbe6d01bc7"
)

// engine receives command output (nil when the provider runs without an engine, as in unit tests).
var engine engineLog

type prov struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			if err := rpcutil.Healthcheck(ctx, a, 5*time.Minute, cancel); err != nil {
				fmt.Fprintf(os.Stderr, "health check: %v\n", err)
				os.Exit(1)
			}
			// Command output goes to the engine's log as the real provider's does (status lines per resource).
			host, err := provider.NewHostClient(a)
			if err != nil {
				fmt.Fprintf(os.Stderr, "connecting to the engine at %s: %v\n", a, err)
				os.Exit(1)
			}
			engine = host
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, &prov{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "provider stopped: %v\n", err)
		os.Exit(1)
	}
}

func (p *prov) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *prov) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"command","version":%q}`, version)}, nil
}

func (p *prov) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *prov) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *prov) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{SupportsPreview: true}, nil
}

func (p *prov) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *prov) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds := req.GetOldInputs()
	if len(olds.GetFields()) == 0 {
		olds = req.GetOlds()
	}
	return diffResponse(typeOf(req.GetUrn()), olds, req.GetNews()), nil
}

func typeOf(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return ""
	}
	t := parts[2]
	if i := strings.LastIndex(t, "$"); i >= 0 {
		t = t[i+1:]
	}
	return t
}

func str(s *structpb.Struct, k string) string { return s.GetFields()[k].GetStringValue() }

func num(s *structpb.Struct, k string, def int) int {
	if v, ok := s.GetFields()[k]; ok {
		if _, isNum := v.GetKind().(*structpb.Value_NumberValue); isNum {
			return int(v.GetNumberValue())
		}
	}
	return def
}

func hasUnknowns(v *structpb.Value) bool {
	switch x := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return x.StringValue == unknown
	case *structpb.Value_ListValue:
		for _, e := range x.ListValue.GetValues() {
			if hasUnknowns(e) {
				return true
			}
		}
	case *structpb.Value_StructValue:
		for _, e := range x.StructValue.GetFields() {
			if hasUnknowns(e) {
				return true
			}
		}
	}
	return false
}

func withOutputs(in *structpb.Struct, stdout, stderr string) *structpb.Struct {
	out := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, v := range in.GetFields() {
		out.Fields[k] = v
	}
	out.Fields["stdout"] = structpb.NewStringValue(stdout)
	out.Fields["stderr"] = structpb.NewStringValue(stderr)
	return out
}

// execute runs a command ("create", "update" or "delete" text) for the resource or invoke urn of type t; prev is
// the state whose stdout/stderr the real provider passes on as PULUMI_COMMAND_STDOUT/STDERR (nil on create).
func execute(ctx context.Context, t, urn, command string, in *structpb.Struct, prev *structpb.Struct) (string, string, error) {
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if len(in.GetFields()[k].GetListValue().GetValues()) > 0 {
			return "", "", fmt.Errorf("%s is not supported by the offline test toolchain's command provider", k)
		}
	}
	r := run{
		command: command,
		stdin:   str(in, "stdin"),
		log:     newCommandLog(ctx, engine, urn, str(in, "logging")),
	}
	if fields := in.GetFields()["environment"].GetStructValue().GetFields(); len(fields) > 0 {
		r.env = map[string]string{}
		for k, v := range fields {
			r.env[k] = v.GetStringValue()
		}
	}
	addPrev := true
	if v, ok := in.GetFields()["addPreviousOutputInEnv"]; ok {
		if b, isBool := v.GetKind().(*structpb.Value_BoolValue); isBool {
			addPrev = b.BoolValue
		}
	}
	if prev != nil && addPrev {
		r.prevStdout, r.prevStderr = str(prev, "stdout"), str(prev, "stderr")
	}
	switch t {
	case "command:local:Command", "command:local:run":
		return runLocal(r, in)
	case "command:remote:Command":
		c, err := dial(in.GetFields()["connection"].GetStructValue())
		if err != nil {
			return "", "", err
		}
		defer c.Close()
		return runRemote(c, r)
	}
	return "", "", fmt.Errorf("unsupported type %q", t)
}

// withSFTP dials conn and opens its sftp subsystem, as the real provider's copies do (no fallback to a shell).
func withSFTP(conn *structpb.Struct, fn func(*sftp.Client) error) error {
	c, err := dial(conn)
	if err != nil {
		return err
	}
	defer c.Close()
	sc, err := sftp.NewClient(c, sftp.UseConcurrentWrites(true))
	if err != nil {
		return fmt.Errorf("opening the sftp subsystem on %s (the server needs `Subsystem sftp ...` in sshd_config): %w", str(conn, "host"), err)
	}
	defer sc.Close()
	return fn(sc)
}

func copyToRemote(in *structpb.Struct) error {
	src := parseCopySource(in.GetFields()["source"].GetStructValue())
	return withSFTP(in.GetFields()["connection"].GetStructValue(), func(c *sftp.Client) error {
		return copySourceTo(c, src, str(in, "remotePath"))
	})
}

// copyFileToRemote is CopyFile: one file to exactly remotePath, no parent directories created.
func copyFileToRemote(in *structpb.Struct) error {
	local, err := os.Open(str(in, "localPath"))
	if err != nil {
		return err
	}
	defer local.Close()
	return withSFTP(in.GetFields()["connection"].GetStructValue(), func(c *sftp.Client) error {
		dst, err := c.Create(str(in, "remotePath"))
		if err != nil {
			return err
		}
		if _, err := dst.ReadFrom(local); err != nil {
			dst.Close()
			return err
		}
		return dst.Close()
	})
}

// newID returns a random hex id (the real provider uses resource.NewUniqueHex).
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Check validates CopyToRemote's source as the real provider's CopyToRemote.Check does; others pass through.
func (p *prov) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news := req.GetNews()
	if typeOf(req.GetUrn()) != "command:remote:CopyToRemote" {
		return &pulumirpc.CheckResponse{Inputs: news}, nil
	}
	src := news.GetFields()["source"]
	if src == nil || hasUnknowns(src) {
		return &pulumirpc.CheckResponse{Inputs: news}, nil
	}
	if reason := parseCopySource(src.GetStructValue()).reason; reason != "" {
		return &pulumirpc.CheckResponse{Inputs: news, Failures: []*pulumirpc.CheckFailure{{Property: "source", Reason: reason}}}, nil
	}
	return &pulumirpc.CheckResponse{Inputs: news}, nil
}

func (p *prov) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	in := req.GetProperties()
	t := typeOf(req.GetUrn())
	if t == "command:remote:CopyToRemote" || t == "command:remote:CopyFile" {
		if req.GetPreview() {
			return &pulumirpc.CreateResponse{Properties: in}, nil
		}
		copy := copyToRemote
		if t == "command:remote:CopyFile" {
			copy = copyFileToRemote
		}
		if err := copy(in); err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Id: newID(), Properties: in}, nil
	}
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: withOutputs(in, unknown, unknown)}, nil
	}
	so, se, err := execute(ctx, t, req.GetUrn(), str(in, "create"), in, nil)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: newID(), Properties: withOutputs(in, so, se)}, nil
}

func (p *prov) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	in := req.GetNews()
	t := typeOf(req.GetUrn())
	if t == "command:remote:CopyToRemote" {
		// The real Update copies again only when the source's hash or the remote path changed.
		olds := req.GetOlds()
		oldHash := str(olds.GetFields()["source"].GetStructValue(), "hash")
		newHash := str(in.GetFields()["source"].GetStructValue(), "hash")
		if !req.GetPreview() && (oldHash != newHash || str(olds, "remotePath") != str(in, "remotePath")) {
			if err := copyToRemote(in); err != nil {
				return nil, err
			}
		}
		return &pulumirpc.UpdateResponse{Properties: in}, nil
	}
	if req.GetPreview() {
		return &pulumirpc.UpdateResponse{Properties: withOutputs(in, unknown, unknown)}, nil
	}
	command := str(in, "update")
	if command == "" {
		command = str(in, "create")
	}
	so, se, err := execute(ctx, t, req.GetUrn(), command, in, req.GetOlds())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: withOutputs(in, so, se)}, nil
}

func (p *prov) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	t := typeOf(req.GetUrn())
	if t == "command:remote:CopyToRemote" || t == "command:remote:CopyFile" {
		return &emptypb.Empty{}, nil
	}
	state := req.GetProperties()
	if _, _, err := execute(ctx, t, req.GetUrn(), str(state, "delete"), state, state); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (p *prov) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *prov) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != "command:local:run" {
		return nil, fmt.Errorf("unknown function %q", req.GetTok())
	}
	in := req.GetArgs()
	for _, v := range in.GetFields() {
		if hasUnknowns(v) {
			return nil, errors.New("command:local:run called with unknown inputs")
		}
	}
	so, se, err := execute(ctx, "command:local:run", "", str(in, "command"), in, nil)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: withOutputs(in, so, se)}, nil
}
