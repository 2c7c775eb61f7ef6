//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

var errNotLinux = errors.New("the scale run reads /proc: Linux only")

var errNoNice = errors.New("setting a process's priority needs Linux")

func procCPU(int) (time.Duration, error) { return 0, errNotLinux }
func procRSS(int) (int64, error)         { return 0, errNotLinux }
func dieWithParent(*exec.Cmd)            {}
func setNice(int, int) error             { return errNoNice }
