package meshwatch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Bounds of the files Load reads (contracts have theirs in contract.go). A
// configuration is far smaller than maxConfigFile and a password or a token
// far smaller than maxSecretFile; the bounds keep a mistaken path to a huge
// file from exhausting memory.
const (
	maxConfigFile = 16 << 20
	maxSecretFile = 64 << 10
)

// LoadFile reads the configuration file at path and loads it as Load does,
// with the process environment. Relative *_file paths are relative to the
// directory of path. The error is non-nil when the file cannot be read or
// the configuration has errors; see Load.
func LoadFile(path string) (*Config, Problems, error) {
	return LoadFileWith(path)
}

// Load parses, checks and completes a configuration. name is the file name
// shown in problems and the directory of relative *_file paths; env looks up
// environment variables (nil means that none is set).
//
// Load parses data as YAML; expands ${VAR} and ${VAR:-default} in every
// scalar value (not in keys; "$${" is a literal "${"); decodes it strictly,
// reporting unknown and duplicate keys and values of the wrong type; reads
// the secrets of sasl.password_file and sasl.token_file; reads the ODCS data
// contracts that contracts: lists (relative to the directory of name) and
// appends their products, and the teams they declare that owners: lacks;
// applies SetDefaults and runs Validate. A problem of a contract's product
// is placed in the contract file, with the path of the contract's value
// (slaProperties[1].value); Config.Position still takes config paths.
//
// Load goes on after a problem so as to report every problem at once, each
// with the position of its value in the file (or of the mapping that lacks
// it), sorted by file (the configuration first, then the contracts in the
// order they were read), line and column.
//
// Problems holds every problem, warnings included. The error is nil when
// none of them is an error; then Config is complete and valid. Otherwise
// Config is nil and the error is the Problems, errors and warnings, which
// print one per line as "file:line:col: path: msg". No problem shows the
// value of a secret: the value of a Secret field, of a *_file, or of an
// environment variable that is substituted into a Secret or whose name holds
// PASSWORD, SECRET, TOKEN, CREDENTIAL, PRIVATE or API_KEY.
//
// Load is safe for concurrent use; its only I/O is reading *_file secrets
// and contracts. Each must be a regular file (a named pipe, a device, a
// socket or a directory is a problem, never opened for reading), a secret
// of at most 64 KiB and a contract of at most 4 MiB.
func Load(name string, data []byte, env func(string) (string, bool)) (*Config, Problems, error) {
	return LoadWith(name, data, env)
}

// Extension extends Load with a top-level section that a leaf package owns
// (cost: for package cost), or a further check of the loaded model (CEL
// rules for package quality), or both. cmd/meshwatch wires them, so that
// the root package imports no leaf, and every problem of every part is
// still reported at once, in file order, with its position.
type Extension struct {
	// Key is a top-level key decoded, as strictly as the rest, into Into (a
	// pointer to a struct); "" for a check only.
	Key  string
	Into any
	// Check runs after SetDefaults and Validate, unless the document was
	// cut short. It returns problems with Path set; Load adds the position.
	// Config.Position works inside it.
	Check func(cfg *Config) Problems
}

// LoadFileWith is LoadFile with extensions. The file must be a regular file
// of at most 16 MiB: a named pipe, a device, a socket or a directory is an
// error, not read, so that a mistaken path neither blocks nor fills memory.
func LoadFileWith(path string, ext ...Extension) (*Config, Problems, error) {
	data, err := readRegularFile(path, maxConfigFile, "a configuration is far smaller; is it the right file?")
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	return LoadWith(path, data, os.LookupEnv, ext...)
}

// LoadWith is Load with extensions.
func LoadWith(name string, data []byte, env func(string) (string, bool), ext ...Extension) (*Config, Problems, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	root, syntaxErr := parse(name, data)
	if syntaxErr != nil {
		ps := Problems{*syntaxErr}
		return nil, ps, ps
	}

	d := newDecoder(name, env)
	var cfg Config
	root = d.sections(root, ext)
	if root != nil {
		d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
	}
	d.readSecretFiles(&cfg, filepath.Dir(name))
	contracts := loadContracts(d, &cfg, filepath.Dir(name))
	cfg.SetDefaults()

	ps := d.problems
	var invalid Problems
	if !d.tooLarge {
		// A document cut short holds empty values that Validate would
		// report by the million.
		invalid = cfg.Validate()
	}
	if !d.tooLarge {
		cfg.positions = d.pos
		for _, e := range ext {
			if e.Check != nil {
				invalid = append(invalid, e.Check(&cfg)...)
			}
		}
	}
	for _, p := range invalid {
		if d.repeats(p.Path) {
			continue
		}
		p.Pos = d.position(p.Path)
		p.Path = contracts.sourcePath(p.Path)
		ps = append(ps, p)
	}

	if s := cfg.Cluster.SASL; s != nil {
		d.secrets = append(d.secrets, string(s.Password), string(s.Token))
	}
	if r := cfg.SchemaRegistry; r != nil {
		d.secrets = append(d.secrets, string(r.Password), string(r.Token))
	}
	redact(ps, d.secrets)
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if fa, fb := contracts.files[a.Pos.File], contracts.files[b.Pos.File]; fa != fb {
			return fa - fb
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	if err := ps.Err(); err != nil {
		return nil, ps, err
	}
	cfg.positions = d.pos
	return &cfg, ps, nil
}

// sections decodes the extensions' keys out of root and returns root
// without them (a copy: the parsed tree is left as it was).
func (d *decoder) sections(root *yaml.Node, ext []Extension) *yaml.Node {
	if root == nil || root.Kind != yaml.MappingNode {
		return root
	}
	keep := *root
	keep.Content = nil
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		j := slices.IndexFunc(ext, func(e Extension) bool { return e.Key != "" && e.Key == k.Value })
		if j < 0 {
			keep.Content = append(keep.Content, k, v)
			continue
		}
		d.decode(v, reflect.ValueOf(ext[j].Into).Elem(), ext[j].Key)
	}
	return &keep
}

// parse parses data into a node tree and returns its root value, nil for an
// empty document. A YAML syntax error, or a second document that is not
// empty, is returned as a problem.
func parse(name string, data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root *yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return root, nil
		}
		if err != nil {
			p := syntaxProblem(name, data, err)
			return nil, &p
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // a stray "---"
		}
		if root != nil {
			return nil, &Problem{Pos: Position{File: name, Line: doc.Line, Col: doc.Column},
				Msg: `invalid YAML: a second document; the config must be a single document (remove the "---" line)`}
		}
		root = doc.Content[0]
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlParserErrors are the messages of the YAML parser, as opposed to its
// scanner. go.yaml.in/yaml/v3 prints the line of a parser error counted from
// 0 and that of a scanner error counted from 1, and prints no line at all
// for an error on the first line.
var yamlParserErrors = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"found undefined tag handle",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

// syntaxProblem turns a YAML syntax error into a problem at its line.
func syntaxProblem(name string, data []byte, err error) Problem {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	col := 0
	switch {
	case slices.Contains(yamlParserErrors, msg):
		line++
	case strings.HasPrefix(msg, "unknown anchor "):
		line, col = findAlias(data, msg)
	case line == 0:
		// Errors of the reader carry no line at all; find the bad bytes.
		if l, c, ok := findBadChar(data); ok {
			line, col = l, c
		} else {
			line = 1
		}
	}
	if hint, ok := yamlHints[msg]; ok {
		msg += " (" + hint + ")"
	}
	return Problem{Pos: Position{File: name, Line: line, Col: col}, Msg: "invalid YAML: " + msg}
}

// yamlHints say what usually causes the YAML errors whose words are obscure.
var yamlHints = map[string]string{
	"did not find expected ',' or ']'":               "a [ list is not closed with ]",
	"did not find expected ',' or '}'":               "a { mapping is not closed with }",
	"mapping values are not allowed in this context": `a value that holds ": " must be quoted`,
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// findAlias finds the first use of the alias named in an "unknown anchor"
// message.
func findAlias(data []byte, msg string) (line, col int) {
	m := unknownAnchor.FindStringSubmatch(msg)
	if m == nil {
		return 1, 0
	}
	i := bytes.Index(data, []byte("*"+m[1]))
	if i < 0 {
		return 1, 0
	}
	return lineCol(data, i)
}

// findBadChar finds the first byte sequence that YAML does not allow:
// invalid UTF-8 or a control character.
func findBadChar(data []byte) (line, col int, ok bool) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		bad := (r == utf8.RuneError && size == 1) ||
			(r < 0x20 && r != '\t' && r != '\n' && r != '\r') ||
			(r >= 0x7F && r <= 0x9F && r != 0x85) ||
			(r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF
		if bad {
			line, col = lineCol(data, i)
			return line, col, true
		}
		i += size
	}
	return 0, 0, false
}

// lineCol returns the line and column (in runes, from 1) of byte offset i.
func lineCol(data []byte, i int) (line, col int) {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	return bytes.Count(data[:i], []byte("\n")) + 1, utf8.RuneCount(data[start:i]) + 1
}

// position returns the position of the value at path, or of the nearest
// enclosing value when the file does not set it.
func (d *decoder) position(path string) Position {
	for {
		if pos, ok := d.pos[path]; ok {
			return pos
		}
		if path == "" {
			return Position{File: d.file}
		}
		path = parentPath(path)
	}
}

// repeats reports whether a problem at path would repeat a decode problem:
// a value that failed to decode was left at its zero value, which Validate
// then rightly finds wrong.
func (d *decoder) repeats(path string) bool {
	for {
		if d.failed[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// failPath reports that the value at path is wrong, at its position.
func (d *decoder) failPath(path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Pos: d.position(path), Path: path, Msg: fmt.Sprintf(format, args...)})
	d.failed[path] = true
}

// readSecretFiles fills the SASL password and token from their *_file keys.
func (d *decoder) readSecretFiles(cfg *Config, dir string) {
	if s := cfg.Cluster.SASL; s != nil {
		d.readSecretFile(&s.Password, s.PasswordFile, "cluster.sasl.password", dir)
		d.readSecretFile(&s.Token, s.TokenFile, "cluster.sasl.token", dir)
	}
	if r := cfg.SchemaRegistry; r != nil {
		d.readSecretFile(&r.Password, r.PasswordFile, "schema_registry.password", dir)
		d.readSecretFile(&r.Token, r.TokenFile, "schema_registry.token", dir)
	}
}

func (d *decoder) readSecretFile(dst *Secret, file, path, dir string) {
	if file == "" {
		return
	}
	filePath := path + "_file"
	if *dst != "" {
		d.failPath(filePath, "cannot be set together with %s; set one of them", path[strings.LastIndexByte(path, '.')+1:])
		return
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	data, err := readRegularFile(file, maxSecretFile, "a *_file holds the secret alone")
	if err != nil {
		d.failPath(filePath, "%s", err.Error())
		return
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		d.failPath(filePath, "file %s is empty", quote(file))
		return
	}
	d.secrets = append(d.secrets, v)
	*dst = Secret(v)
}

// readRegularFile reads the regular file name, of at most limit bytes;
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
func readRegularFile(name string, limit int64, hint string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", quote(name), pathErr(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot read %s: it is %s, not a regular file", quote(name), fileType(st.Mode()))
	}
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", quote(name), pathErr(err))
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", quote(name), pathErr(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cannot read %s: it is %s, not a regular file", quote(name), fileType(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", quote(name), pathErr(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("cannot read %s: it is larger than %s; %s", quote(name), formatSize(limit), hint)
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

// pathErr drops the operation and path that an *fs.PathError repeats.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// redact replaces every secret value in the messages of ps by "<secret>".
func redact(ps Problems, secrets []string) {
	var rs []string
	for _, s := range secrets {
		if strings.TrimSpace(s) != "" && s != secretPlaceholder {
			rs = append(rs, s)
		}
	}
	if len(rs) == 0 {
		return
	}
	// Longest first, so that a secret holding another is replaced whole.
	slices.SortFunc(rs, func(a, b string) int { return len(b) - len(a) })
	for i := range ps {
		for _, s := range rs {
			ps[i].Msg = strings.ReplaceAll(ps[i].Msg, s, secretPlaceholder)
		}
	}
}
