//go:build !linux

package testenv

import (
	"errors"
	"os"
	"syscall"
)

// procAttr: outside Linux moto runs as a plain child process.
func procAttr() *syscall.SysProcAttr { return nil }

// terminate stops moto.
func terminate(p *os.Process) error { return kill(p) }

// kill stops moto for good.
func kill(p *os.Process) error {
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
