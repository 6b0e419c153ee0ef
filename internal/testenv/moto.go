package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MotoBinary is the name of moto's stand-alone server.
const MotoBinary = "moto_server"

// InstallHint says how to get moto_server on a machine that lacks it.
const InstallHint = "install it with `pip install 'moto[server]'`, or run `make test`, which installs it into .venv"

// startAttempts bounds how often StartMoto tries a fresh port when the
// server dies during start-up (another process may take the free port
// between our probe and moto's bind).
const startAttempts = 3

// FindMoto returns the path of moto_server: on PATH, or in the .venv/bin of
// the module that contains the working directory (where `make test` puts it).
func FindMoto() (string, error) {
	if p, err := exec.LookPath(MotoBinary); err == nil {
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".venv", "bin", MotoBinary)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
					return p, nil
				}
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("%s not found on PATH nor in the module's .venv/bin: the AWS adapter tests need it; %s", MotoBinary, InstallHint)
}

// StartMoto starts one moto_server on a free 127.0.0.1 port and waits until
// it answers. It returns the endpoint URL ("http://127.0.0.1:PORT") and a
// stop function that terminates the server (its whole process group) and
// removes its log. ctx bounds the start-up only; the server runs until stop
// is called. It is usable from any program, not only from tests.
//
// If the server does not come up, the error carries the tail of its log.
func StartMoto(ctx context.Context) (endpoint string, stop func() error, err error) {
	bin, err := FindMoto()
	if err != nil {
		return "", nil, err
	}
	for attempt := 1; ; attempt++ {
		endpoint, stop, err = startOnce(ctx, bin)
		if err == nil || attempt == startAttempts || ctx.Err() != nil || !errors.Is(err, errExited) {
			return endpoint, stop, err
		}
	}
}

var errExited = errors.New("moto_server exited during start-up")

func startOnce(ctx context.Context, bin string) (string, func() error, error) {
	port, err := freePort()
	if err != nil {
		return "", nil, fmt.Errorf("start moto: find a free port: %w", err)
	}
	logFile, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return "", nil, fmt.Errorf("start moto: %w", err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		os.Remove(logFile.Name())
		return "", nil, fmt.Errorf("start moto: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() error {
		defer os.Remove(logFile.Name())
		defer logFile.Close()
		select {
		case <-exited:
			return nil
		default:
		}
		if err := terminate(cmd.Process); err != nil {
			return fmt.Errorf("stop moto (pid %d): %w", cmd.Process.Pid, err)
		}
		select {
		case <-exited:
			return nil
		case <-time.After(5 * time.Second):
		}
		if err := kill(cmd.Process); err != nil {
			return fmt.Errorf("kill moto (pid %d): %w", cmd.Process.Pid, err)
		}
		<-exited
		return nil
	}
	endpoint := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	err = waitReady(ctx, endpoint, exited)
	if err == nil {
		return endpoint, stop, nil
	}
	select {
	case <-exited:
		err = fmt.Errorf("%w (%v)", errExited, waitErr)
	default:
	}
	tail := logTail(logFile.Name(), 20)
	stop()
	return "", nil, fmt.Errorf("start moto at %s: %w; the tail of its log:\n%s", endpoint, err, tail)
}

// waitReady polls the server until it answers HTTP, the process exits or
// ctx ends.
func waitReady(ctx context.Context, endpoint string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/moto-api/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("no answer before the start-up deadline: %w", ctx.Err())
		case <-tick.C:
		}
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

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "(log empty)"
	}
	return strings.Join(lines, "\n")
}
