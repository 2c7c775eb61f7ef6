package main

import (
	"testing"
	"time"
)

func TestProc(t *testing.T) {
	stat := "1234 (meshwatch (x) y) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 2000000 5000 18446744073709551615"
	if d, err := parseStatCPU(stat); err != nil || d != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s (250+50 ticks)", d, err)
	}
	if _, err := parseStatCPU("1234 (x) S 1 2"); err == nil {
		t.Error("parseStatCPU of a short line: nil error")
	}
	status := "Name:\tmeshwatch\nVmPeak:\t  200000 kB\nVmRSS:\t   81920 kB\nThreads:\t12\n"
	if n, err := parseStatusRSS(status); err != nil || n != 80<<20 {
		t.Errorf("parseStatusRSS = %d, %v; want 80 MiB", n, err)
	}
	if _, err := parseStatusRSS("Name:\tx\n"); err == nil {
		t.Error("parseStatusRSS without VmRSS: nil error")
	}
}
