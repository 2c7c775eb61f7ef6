package yamlconf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/meshwatch/meshwatch"
)

// ReadFile reads the regular file name, of at most limit bytes;
// hint says what to do about a larger one. Every file Load reads goes
// through it. Its errors name the file and what it is, and never hold any
// of its content.
//
// A named pipe, a device, a socket or a directory is refused before it is
// opened, as opening some of them blocks (a FIFO without a writer) or acts
// (a tape rewinds). The file is opened with O_NONBLOCK all the same, and
// checked again through its descriptor, so that one swapped in after the
// first check cannot block either; O_NONBLOCK does not change how a regular
// file reads.
func ReadFile(name string, limit int64, hint string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", meshwatch.Quote(name), PathErr(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot read %s: it is %s, not a regular file", meshwatch.Quote(name), fileType(st.Mode()))
	}
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", meshwatch.Quote(name), PathErr(err))
	}
	defer func() { _ = f.Close() }() // read only
	if st, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", meshwatch.Quote(name), PathErr(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot read %s: it is %s, not a regular file", meshwatch.Quote(name), fileType(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", meshwatch.Quote(name), PathErr(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("cannot read %s: it is larger than %s; %s", meshwatch.Quote(name), formatSize(limit), hint)
	}
	return data, nil
}

// fileType names the kind of a file that is not a regular one.
func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "a special file"
	}
}

// formatSize prints a size limit in whole MiB or KiB.
func formatSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// PathErr drops the operation and path that an *fs.PathError repeats.
func PathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
