package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
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

// The producer child runs at the priority asked (it is load, and yields
// the cores), and the parent's own is untouched.
func TestProducerChildNice(t *testing.T) {
	kc := kafkatest.New(t)
	w := &workload{products: 1, partitions: 1, rate: 1, commit: time.Second}
	kc.MustCreateTopic(t, topicName(0), 1, 1, nil)
	self := nice(t, 0)
	pid, stop, err := startProducer(w, kc.Addrs(), 7)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if got := nice(t, pid); got != 7 {
		t.Errorf("the producer child's nice is %d, want 7", got)
	}
	if got := nice(t, 0); got != self {
		t.Errorf("this process's nice moved from %d to %d: only the child's should", self, got)
	}
}

// nice is process pid's nice value (0: this process).
func nice(t *testing.T, pid int) int {
	t.Helper()
	// The raw system call answers 20 - nice.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, pid)
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}
