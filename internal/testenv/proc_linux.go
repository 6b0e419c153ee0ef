//go:build linux

package testenv

import (
	"errors"
	"os"
	"syscall"
)

// procAttr puts moto in its own process group, so that stopping it stops
// anything it spawned, and has the kernel kill it if the test binary dies
// without stopping it (a panic, a -timeout).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// terminate asks moto's process group to stop.
func terminate(p *os.Process) error { return signalGroup(p, syscall.SIGTERM) }

// kill stops moto's process group for good.
func kill(p *os.Process) error { return signalGroup(p, syscall.SIGKILL) }

func signalGroup(p *os.Process, sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid, sig)
	if errors.Is(err, syscall.ESRCH) { // already gone
		return nil
	}
	return err
}
