// Command loyaltyctl is the command-line client of loyaltyd (over gRPC).
//
//	loyaltyctl [--addr HOST:PORT] [--key SECRET] [--tls | --tls-ca FILE] GROUP COMMAND [flags] [args]
//
// The address and key also come from LOYALTY_GRPC_ADDR and LOYALTY_API_KEY, TLS
// from LOYALTY_TLS=1 or LOYALTY_TLS_CA; imports and exports use the REST listener
// (--http, LOYALTY_HTTP_URL).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the server refused or failed
	exitUsage = 2 // the command line is wrong
)

// errUsage marks a command-line mistake; errBadFlag one the flag package has
// already explained (with the usage).
var (
	errUsage   = errors.New("usage")
	errBadFlag = fmt.Errorf("bad flag: %w", errUsage)
)

// command is one `GROUP COMMAND`.
type command struct {
	args string // synopsis of flags and arguments
	help string
	run  func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error)
	// follows: the command runs until interrupted (no --timeout), printing as it
	// goes, and returns no message.
	follows bool
	// local: the command needs no server (no key, no connection): webhooks listen.
	local bool
}

// byID is a command that takes one positional argument, an id, and no flags.
func byID(call func(ctx context.Context, c *client, id string) (proto.Message, error)) func(context.Context, *client, *flag.FlagSet, []string) (proto.Message, error) {
	return func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
		pos, err := parse(fs, args, 1)
		if err != nil {
			return nil, err
		}
		return call(ctx, c, pos[0])
	}
}

// commands holds every command by group and name; see commands.go.
var commands = map[string]map[string]command{}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("loyaltyctl", flag.ContinueOnError)
	global.SetOutput(stderr)
	addr := global.String("addr", envOr(getenv, "LOYALTY_GRPC_ADDR", "127.0.0.1:9090"), "loyaltyd gRPC address (LOYALTY_GRPC_ADDR)")
	key := global.String("key", getenv("LOYALTY_API_KEY"), "API key secret (LOYALTY_API_KEY)")
	timeout := global.Duration("timeout", 30*time.Second, "time limit of the call")
	useTLS := global.Bool("tls", getenv("LOYALTY_TLS") == "1", "talk TLS, trusting the system's certificate authorities (LOYALTY_TLS=1)")
	tlsCA := global.String("tls-ca", getenv("LOYALTY_TLS_CA"), "talk TLS, trusting only the CA certificate(s) in this PEM file (LOYALTY_TLS_CA)")
	httpURL := global.String("http", envOr(getenv, "LOYALTY_HTTP_URL", "http://127.0.0.1:8080"), "loyaltyd REST base URL, for imports and exports (LOYALTY_HTTP_URL)")
	global.Usage = func() { usage(stderr, global) }
	if err := global.Parse(args); err != nil {
		return exitUsage
	}
	rest := global.Args()
	// A group with a command named "" runs it when no command is named: `audit --member bob`.
	if _, ok := commands[rest0(rest)][""]; ok && (len(rest) == 1 || strings.HasPrefix(rest[1], "-")) {
		rest = append([]string{rest[0], ""}, rest[1:]...)
	}
	if len(rest) < 2 {
		usage(stderr, global)
		return exitUsage
	}
	cmd, ok := commands[rest[0]][rest[1]]
	if !ok {
		fmt.Fprintf(stderr, "loyaltyctl: unknown command %q\n\n", strings.Join(rest[:2], " "))
		usage(stderr, global)
		return exitUsage
	}
	var conn *grpc.ClientConn
	if !cmd.local {
		if *key == "" {
			fmt.Fprintln(stderr, "loyaltyctl: no API key: pass --key or set LOYALTY_API_KEY")
			return exitUsage
		}
		creds, err := transportCredentials(*useTLS, *tlsCA)
		if err != nil {
			fmt.Fprintln(stderr, "loyaltyctl:", err)
			return exitUsage
		}
		if conn, err = grpc.NewClient(*addr, grpc.WithTransportCredentials(creds)); err != nil {
			fmt.Fprintln(stderr, "loyaltyctl:", err)
			return exitUsage
		}
		defer conn.Close()
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+*key)
	var cancel context.CancelFunc
	if cmd.follows {
		// A command that follows the server runs until interrupted, not for --timeout.
		ctx, cancel = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	} else {
		ctx, cancel = context.WithTimeout(ctx, *timeout)
	}
	defer cancel()

	fs := flag.NewFlagSet(strings.TrimSpace(rest[0]+" "+rest[1]), flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loyaltyctl %s %s\n  %s\n", fs.Name(), cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	msg, err := cmd.run(ctx, &client{conn: conn, stdout: stdout, stderr: stderr,
		httpURL: strings.TrimRight(*httpURL, "/"), key: *key, tlsCA: *tlsCA}, fs, rest[2:])
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		if errors.Is(err, errUsage) && !errors.Is(err, errBadFlag) {
			fs.Usage()
		}
		return exitUsage
	}
	if err != nil {
		if msg != nil && msg.ProtoReflect().IsValid() {
			printJSON(stdout, stderr, msg) // a command that did part of its work says what
		}
		printError(stderr, err)
		return exitError
	}
	if msg == nil {
		return exitOK // the command printed as it went
	}
	if !printJSON(stdout, stderr, msg) {
		return exitError
	}
	return exitOK
}

// printJSON prints a message as indented JSON.
func printJSON(stdout, stderr io.Writer, msg proto.Message) bool {
	raw, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(msg)
	if err != nil {
		fmt.Fprintln(stderr, "loyaltyctl:", err)
		return false
	}
	// protojson varies its whitespace on purpose; print a stable, indented form.
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		fmt.Fprintln(stderr, "loyaltyctl:", err)
		return false
	}
	fmt.Fprintln(stdout, out.String())
	return true
}

// rest0 is the first argument, or "" if there is none.
func rest0(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// parse parses the command's flags and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	// Accept flags after the positional arguments too: `members enroll bob --name Bob`.
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && fs.Lookup(strings.TrimLeft(a, "-")) != nil && !isBoolFlag(fs, a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errBadFlag
	}
	if len(pos) != positional {
		return nil, errUsage
	}
	return pos, nil
}

func isBoolFlag(fs *flag.FlagSet, a string) bool {
	f := fs.Lookup(strings.TrimLeft(a, "-"))
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func printError(w io.Writer, err error) {
	st, ok := status.FromError(err)
	if !ok {
		fmt.Fprintln(w, "loyaltyctl:", err)
		return
	}
	fmt.Fprintf(w, "loyaltyctl: %s: %s\n", codeName(st.Code().String()), st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				fmt.Fprintf(w, "  %s: %s\n", fv.GetField(), fv.GetDescription())
			}
		case *errdetails.ErrorInfo:
			fmt.Fprintf(w, "  reason: %s\n", d.GetReason())
		}
	}
}

func usage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprintln(w, "usage: loyaltyctl [--addr HOST:PORT] [--key SECRET] [--tls | --tls-ca FILE] GROUP COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	groups := make([]string, 0, len(commands))
	for g := range commands {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		names := make([]string, 0, len(commands[g]))
		for n := range commands[g] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := commands[g][n]
			fmt.Fprintf(w, "  %-40s %s\n", g+" "+n+" "+c.args, c.help)
		}
	}
	fmt.Fprintln(w, "\nglobal flags:")
	global.PrintDefaults()
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// codeName spells a gRPC code the way the API documents it: PermissionDenied ->
// PERMISSION_DENIED.
func codeName(camel string) string {
	var b strings.Builder
	for i, r := range camel {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
