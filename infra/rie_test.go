package infra_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rieModule is the Runtime Interface Emulator, pinned: `go install` puts it
// in the module's .bin (never on PATH, never a download of a binary).
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

var (
	rieOnce sync.Once
	riePath string
	rieErr  error
)

// ensureRIE returns the path of aws-lambda-rie, installing it into
// <module>/.bin with `go install` the first time.
func ensureRIE(t testing.TB) string {
	t.Helper()
	rieOnce.Do(func() {
		bin := filepath.Join(moduleRoot(t), ".bin")
		riePath = filepath.Join(bin, "aws-lambda-rie")
		if _, err := os.Stat(riePath); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "install", rieModule)
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			rieErr = fmt.Errorf("go install %s: %v: %s", rieModule, err, out)
		}
	})
	if rieErr != nil {
		t.Fatal(rieErr)
	}
	return riePath
}

// lambdaProc is one bootstrap running under aws-lambda-rie on a 127.0.0.1
// port, as the Lambda service would run it.
type lambdaProc struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// startLambda runs bootstrap under RIE with exactly env (plus PATH) and
// waits until RIE listens. The runtime starts at the first invocation (its
// init is measured then), as on Lambda. The process group is stopped when the test ends.
func startLambda(t testing.TB, rie, bootstrap, name string, env map[string]string) *lambdaProc {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	apiPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Both of RIE's servers on loopback ports of their own, so that several
	// functions run side by side.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort)), bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s under RIE: %v", name, err)
	}
	p := &lambdaProc{name: name, url: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd, log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s: RIE exited before listening; its log:\n%s", name, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: RIE did not listen on %s; its log:\n%s", name, addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends RIE and the bootstrap (its process group): SIGTERM, then
// SIGKILL after 5 s.
func (p *lambdaProc) stop() {
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

// invoke sends one event and returns the function's response. A function
// error (an errorType in the answer) fails the test with the RIE log.
func (p *lambdaProc) invoke(t testing.TB, event []byte) []byte {
	t.Helper()
	out, fnErr := p.tryInvoke(t, event)
	if fnErr != "" {
		t.Fatalf("%s returned an error: %s\nits log:\n%s", p.name, fnErr, p.log.String())
	}
	return out
}

// tryInvoke is invoke that returns a function error as text instead.
func (p *lambdaProc) tryInvoke(t testing.TB, event []byte) (out []byte, fnErr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke %s: %v\nits log:\n%s", p.name, err, p.log.String())
	}
	defer resp.Body.Close()
	out, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke %s: %v", p.name, err)
	}
	var e struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &e) == nil && e.ErrorType != "" {
		return out, e.ErrorType + ": " + e.ErrorMessage
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, out)
	}
	return out, ""
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initDuration is what RIE reported of the function's init phase (start
// of the process to its first call for work), once it has run. RIE's log
// reaches the buffer through a pipe, so the line is waited for (5 s at
// most).
func (p *lambdaProc) initDuration() (time.Duration, bool) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := initReport.FindStringSubmatch(p.log.String()); m != nil {
			ms, err := strconv.ParseFloat(m[1], 64)
			return time.Duration(ms * float64(time.Millisecond)), err == nil
		}
		if time.Now().After(deadline) {
			return 0, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer safe for the writes of a process's two
// pipes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixtureEvent reads testdata/events/name and fills its ${PLACEHOLDERS}.
func fixtureEvent(t testing.TB, name string, values map[string]string) []byte {
	t.Helper()
	b := string(readAll(t, filepath.Join("testdata", "events", name)))
	for k, v := range values {
		b = strings.ReplaceAll(b, "${"+k+"}", v)
	}
	if i := strings.Index(b, "${"); i >= 0 {
		t.Fatalf("%s: placeholder left unfilled near %q", name, b[i:min(len(b), i+30)])
	}
	if !json.Valid([]byte(b)) {
		t.Fatalf("%s: not JSON once filled", name)
	}
	return []byte(b)
}
