package infra_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/infra"
	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// templatePath is the template under test, relative to the package.
const templatePath = "template.yaml"

// buildTimeout bounds one `go build` of a Lambda (a cold build cache
// compiles the AWS SDK).
const buildTimeout = 10 * time.Minute

// moduleRoot is the folder holding go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: %v", root, err)
	}
	return root
}

func sources() []string {
	out := make([]string, len(infra.Functions))
	for i, f := range infra.Functions {
		out[i] = f.Source
	}
	return out
}

// builder builds Go mains as Lambda bootstraps the way scripts/package.sh
// does: CGO off, -tags lambda.norpc, -trimpath, -ldflags '-s -w', for
// linux/goarch. Results are kept per source, so each main builds once.
type builder struct {
	root, out, goarch string

	mu      sync.Mutex
	results map[string]*buildResult
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

func newBuilder(t testing.TB, goarch string) *builder {
	return &builder{root: moduleRoot(t), out: t.TempDir(), goarch: goarch, results: map[string]*buildResult{}}
}

// build builds source (a folder relative to the module root) and returns
// the path of its bootstrap.
func (b *builder) build(source string) (string, error) {
	b.mu.Lock()
	r, ok := b.results[source]
	if !ok {
		r = &buildResult{}
		b.results[source] = r
	}
	b.mu.Unlock()
	r.once.Do(func() {
		r.path = filepath.Join(b.out, strings.ReplaceAll(source, "/", "_"), "bootstrap")
		r.err = goBuild(b.root, source, b.goarch, r.path)
	})
	return r.path, r.err
}

// buildAll builds sources two at a time and fails the test on any error.
func (b *builder) buildAll(t testing.TB, sources []string) map[string]string {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b.build(s)
		}()
	}
	wg.Wait()
	out := map[string]string{}
	for _, s := range sources {
		p, err := b.build(s)
		if err != nil {
			t.Fatalf("build %s for linux/%s: %v", s, b.goarch, err)
		}
		out[s] = p
	}
	return out
}

func goBuild(root, source, goarch, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, "./"+source)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// zipBootstrap writes the deployment zip of a bootstrap (one executable
// entry named bootstrap, as scripts/package.sh makes) and returns its path.
func zipBootstrap(t testing.TB, bootstrap, dir string) string {
	t.Helper()
	bin, err := os.ReadFile(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "function.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bin); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostArch is the GOARCH the smoke test builds for: RIE runs the bootstrap
// on this machine.
func hostArch() string { return runtime.GOARCH }

// ---------------------------------------------------------------- cfn-lint

// lintFinding is one entry of `cfn-lint --format json`.
type lintFinding struct {
	Filename string
	Level    string
	Message  string
	Rule     struct{ Id string }
	Location struct {
		Start struct{ LineNumber int }
	}
}

func (f lintFinding) String() string {
	return fmt.Sprintf("%s:%d: %s %s %s", filepath.Base(f.Filename), f.Location.Start.LineNumber, f.Level, f.Rule.Id, f.Message)
}

// cfnLint runs cfn-lint on files and returns the findings of each file.
// A missing cfn-lint fails the test: the template is never left unlinted.
func cfnLint(t testing.TB, files ...string) map[string][]lintFinding {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		venv := filepath.Join(moduleRoot(t), ".venv", "bin", "cfn-lint")
		if _, statErr := os.Stat(venv); statErr != nil {
			t.Fatalf("cfn-lint is not installed (not on PATH, not in .venv/bin): the template must be linted. Install it with `make tools` (pip install cfn-lint)")
		}
		bin = venv
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--format", "json", "--"}, files...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run cfn-lint: %v", err)
	}
	// Exit codes are bit flags: 2 errors, 4 warnings, 8 informational;
	// 1 (or anything else) is cfn-lint itself failing.
	if code := cmd.ProcessState.ExitCode(); code&1 != 0 || code > 15 {
		t.Fatalf("cfn-lint failed (exit %d): %s%s", code, stderr.String(), stdout.String())
	}
	var findings []lintFinding
	if err := json.Unmarshal(stdout.Bytes(), &findings); err != nil {
		t.Fatalf("cfn-lint output is not JSON (%v): %s", err, stdout.String())
	}
	out := map[string][]lintFinding{}
	for _, f := range findings {
		abs, _ := filepath.Abs(f.Filename)
		out[abs] = append(out[abs], f)
	}
	return out
}

func errorsOnly(fs []lintFinding) []lintFinding {
	var out []lintFinding
	for _, f := range fs {
		if f.Level == "Error" {
			out = append(out, f)
		}
	}
	return out
}

// readAll reads a file of the package's testdata.
func readAll(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
