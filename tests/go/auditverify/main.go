// Command auditverify checks the hub's audit evidence with none of the hub's code: the Go
// checksum database's own packages (golang.org/x/mod/sumdb/note and sumdb/tlog, as Debian
// ships them) verify the signed checkpoint (C2SP signed-note, tlog-checkpoint text), each
// event's inclusion in the tree it commits to (RFC 6962/9162 hashing), and that a later
// checkpoint's tree extends an earlier one's.
//
// Input (JSON on stdin):
//
//	{"vkey": "<verifier key>", "org": "<organization id>",
//	 "checkpoint": "<signed note>", "events": [{"index": 0, "leaf": "<event JSON>", "proof": ["<base64>", ...]}],
//	 "old_checkpoint": "<signed note, optional>", "consistency": ["<base64>", ...],
//	 "witnesses": ["<witness verifier key>", ...], "k": 1}
//
// With "k", the checkpoint must also carry valid cosignatures of at least k of the witnesses.
//
// It prints one JSON line {"ok": true, "size": N, "events": K} or {"ok": false, "error": "..."}
// and exits 1 on any failure. An event must name the organization in its "orgs".
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type event struct {
	Index int64    `json:"index"`
	Leaf  string   `json:"leaf"`
	Proof []string `json:"proof"`
}

type input struct {
	Vkey          string   `json:"vkey"`
	Org           string   `json:"org"`
	Checkpoint    string   `json:"checkpoint"`
	Events        []event  `json:"events"`
	OldCheckpoint string   `json:"old_checkpoint"`
	Consistency   []string `json:"consistency"`
	Witnesses     []string `json:"witnesses"`
	K             int      `json:"k"`
}

type tree struct {
	origin string
	size   int64
	root   tlog.Hash
	// The names of the keys whose signatures verified.
	signers []string
}

// open verifies the note's signature by the log's key and parses its checkpoint text:
// origin, size, base64 root hash (C2SP tlog-checkpoint), extension lines ignored.
func open(msg string, verifiers note.Verifiers) (tree, error) {
	n, err := note.Open([]byte(msg), verifiers)
	if err != nil {
		return tree{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return tree{}, errors.New("checkpoint: too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return tree{}, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return tree{}, fmt.Errorf("checkpoint: bad root %q", lines[2])
	}
	var signers []string
	for _, sig := range n.Sigs {
		signers = append(signers, sig.Name)
	}
	return tree{origin: lines[0], size: size, root: root, signers: signers}, nil
}

func hashes(in []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(in))
	for _, s := range in {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("bad proof hash %q", s)
		}
		var h tlog.Hash
		copy(h[:], b)
		out = append(out, h)
	}
	return out, nil
}

func run(in input) (tree, error) {
	v, err := note.NewVerifier(in.Vkey)
	if err != nil {
		return tree{}, fmt.Errorf("verifier key: %w", err)
	}
	verifiers := note.VerifierList(v)
	all := []note.Verifier{v}
	witnesses := map[string]bool{}
	for _, w := range in.Witnesses {
		wv, err := note.NewVerifier(w)
		if err != nil {
			return tree{}, fmt.Errorf("witness key: %w", err)
		}
		all = append(all, wv)
		witnesses[wv.Name()] = true
	}
	t, err := open(in.Checkpoint, note.VerifierList(all...))
	if err != nil {
		return t, err
	}
	if t.origin != v.Name() {
		return t, fmt.Errorf("checkpoint origin %q is not the key's name %q", t.origin, v.Name())
	}
	logSigned, cosigned := false, 0
	for _, name := range t.signers {
		if name == v.Name() {
			logSigned = true
		} else if witnesses[name] {
			cosigned++
		}
	}
	if !logSigned {
		return t, errors.New("checkpoint signature: not signed by the log's key")
	}
	if cosigned < in.K {
		return t, fmt.Errorf("only %d of the required %d witnesses cosigned the checkpoint", cosigned, in.K)
	}
	for _, e := range in.Events {
		var fields struct {
			Orgs []string `json:"orgs"`
		}
		if err := json.Unmarshal([]byte(e.Leaf), &fields); err != nil {
			return t, fmt.Errorf("event %d: not JSON: %w", e.Index, err)
		}
		mine := false
		for _, o := range fields.Orgs {
			mine = mine || o == in.Org
		}
		if !mine {
			return t, fmt.Errorf("event %d does not name organization %s", e.Index, in.Org)
		}
		proof, err := hashes(e.Proof)
		if err != nil {
			return t, fmt.Errorf("event %d: %w", e.Index, err)
		}
		leaf := tlog.RecordHash([]byte(e.Leaf))
		if err := tlog.CheckRecord(proof, t.size, t.root, e.Index, leaf); err != nil {
			return t, fmt.Errorf("event %d is not in the tree of size %d: %w", e.Index, t.size, err)
		}
	}
	if in.OldCheckpoint != "" {
		old, err := open(in.OldCheckpoint, verifiers)
		if err != nil {
			return t, fmt.Errorf("old %w", err)
		}
		proof, err := hashes(in.Consistency)
		if err != nil {
			return t, err
		}
		if err := tlog.CheckTree(proof, t.size, t.root, old.size, old.root); err != nil {
			return t, fmt.Errorf("the tree of size %d does not extend the one of size %d: %w", t.size, old.size, err)
		}
	}
	return t, nil
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	var in input
	if err == nil {
		err = json.Unmarshal(raw, &in)
	}
	var t tree
	if err == nil {
		t, err = run(in)
	}
	out := json.NewEncoder(os.Stdout)
	if err != nil {
		out.Encode(map[string]any{"ok": false, "error": err.Error()})
		os.Exit(1)
	}
	out.Encode(map[string]any{"ok": true, "size": t.size, "events": len(in.Events)})
}
