package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The producer and the consumer groups' commits run in a child process of
// their own (this program with -producer-child) at a lower CPU priority
// (-producer-nice, default 10). They are the load, not what is measured:
// on a machine whose two cores they share with the agent and the cluster,
// they take what those leave, as a real cluster's producers, on machines
// of their own, take nothing from the agent. kfake stays in this process,
// at the agent's priority: the agent waits on it.

const producerChildFlag = "-producer-child"

// producerChild runs the workload's producer and commits until its stdin
// closes (the parent is done, or gone) or it is signalled, and reports its
// counts on stdout once a second and when it ends: produced, dropped,
// failed and the last commit error, quoted.
func producerChild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scale "+producerChildFlag, flag.ContinueOnError)
	fs.SetOutput(stderr)
	w := &workload{}
	brokers := fs.String("brokers", "", "the cluster's addresses, comma-separated")
	partitions := fs.Int("partitions", 1, "partitions per product")
	fs.IntVar(&w.products, "products", 0, "products")
	fs.Float64Var(&w.rate, "rate", 1, "records per second per product")
	fs.IntVar(&w.groups, "groups", 0, "consumer groups committing")
	fs.DurationVar(&w.commit, "commit", 5*time.Second, "between commits")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	w.partitions = int32(*partitions)
	if err := w.connect(strings.Split(*brokers, ",")); err != nil {
		fmt.Fprintf(stderr, "scale producer: %v\n", err)
		return 1
	}
	defer w.cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, stdin) // until the parent closes it
		cancel()
	}()
	var wg sync.WaitGroup
	wg.Go(func() { w.produce(ctx) })
	wg.Go(func() { w.commitLoop(ctx) })
	report := func() {
		e, _ := w.commitErr.Load().(string)
		fmt.Fprintf(stdout, "%d %d %d %q\n", w.produced.Load(), w.dropped.Load(), w.failed.Load(), e)
	}
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			// Records still in flight reach their callbacks before the
			// last report, so that it counts every record written.
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := w.cl.Flush(fctx)
			cancel()
			report()
			if err != nil {
				fmt.Fprintf(stderr, "scale producer: flushing: %v\n", err)
				return 1
			}
			return 0
		case <-tk.C:
			report()
		}
	}
}

// startProducer runs the producer child for w against brokers at CPU
// priority nice (0: the agent's) and keeps w's counts from its reports.
// stop ends it and waits for its last report.
func startProducer(w *workload, brokers []string, nice int) (pid int, stop func() error, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, nil, fmt.Errorf("producer: %w", err)
	}
	cmd := exec.Command(exe, producerChildFlag,
		"-brokers", strings.Join(brokers, ","),
		"-products", strconv.Itoa(w.products),
		"-partitions", strconv.Itoa(int(w.partitions)),
		"-rate", strconv.FormatFloat(w.rate, 'g', -1, 64),
		"-groups", strconv.Itoa(w.groups),
		"-commit", w.commit.String())
	dieWithParent(cmd)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("producer: %w", err)
	}
	if nice != 0 {
		if err := setNice(cmd.Process.Pid, nice); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, nil, fmt.Errorf("producer: nice %d: %w", nice, err)
		}
	}
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var produced, dropped, failed int64
			var commitErr string
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %d %q", &produced, &dropped, &failed, &commitErr); err != nil {
				continue
			}
			w.produced.Store(produced)
			w.dropped.Store(dropped)
			w.failed.Store(failed)
			if commitErr != "" {
				w.commitErr.Store(commitErr)
			}
		}
	}()
	return cmd.Process.Pid, func() error {
		_ = in.Close() // the child stops producing, reports and exits
		t := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
		defer t.Stop()
		<-reported
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("producer: %w", err)
		}
		return nil
	}, nil
}
