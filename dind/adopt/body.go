package adopt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// field is one member of a JSON object, its value kept verbatim.
type field struct {
	Key   string
	Value json.RawMessage
}

// BodyError is a create request body the proxy cannot safely rewrite.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "parse container create body: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// ConflictError is a create request asking for a cgroup parent other than
// its creator's.
type ConflictError struct {
	Asked, Want string
	// Field is where the request asked; "" means HostConfig.CgroupParent.
	Field string
}

func (e *ConflictError) Error() string {
	field, omit := e.Field, e.Field
	if field == "" {
		field, omit = "HostConfig.CgroupParent", "CgroupParent"
	}
	return fmt.Sprintf("%s %q conflicts with the cgroup of the calling process %q: "+
		"envbox adopt-proxy places containers in their creator's cgroup; omit %s or set it to %q",
		field, e.Asked, e.Want, omit, e.Want)
}

// rewriteCreate applies the adoption policy to a POST /containers/create
// body: an empty HostConfig.CgroupParent becomes want; the same cgroup is
// accepted as is; another one is a *ConflictError unless allowOverride.
// Only CgroupParent changes: every other member keeps its bytes and order.
// Keys are matched without case, as dockerd's JSON decoder does, and a key
// present twice is refused rather than guessed at.
func rewriteCreate(body []byte, want string, same func(string) bool, allowOverride bool) ([]byte, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, &BodyError{Err: err}
	}
	hi, err := find(top, "HostConfig")
	if err != nil {
		return nil, &BodyError{Err: err}
	}
	// dockerd's decoder also reads HostConfig members from the top level
	// (a deprecated form) and uses them when HostConfig is absent; the
	// proxy always sends a HostConfig, but refuses the ask rather than
	// lean on that precedence.
	if err := checkTopLevel(top, want, same, allowOverride); err != nil {
		return nil, err
	}
	var host []field
	if hi >= 0 && !isNull(top[hi].Value) {
		if host, err = decodeObject(top[hi].Value); err != nil {
			return nil, &BodyError{Err: fmt.Errorf("HostConfig: %w", err)}
		}
	}
	ci, err := find(host, "CgroupParent")
	if err != nil {
		return nil, &BodyError{Err: fmt.Errorf("HostConfig: %w", err)}
	}
	asked := ""
	if ci >= 0 && !isNull(host[ci].Value) {
		if err := json.Unmarshal(host[ci].Value, &asked); err != nil {
			return nil, &BodyError{Err: fmt.Errorf("HostConfig.CgroupParent %s: %w", host[ci].Value, err)}
		}
	}
	if asked != "" {
		if same(asked) || allowOverride {
			return body, nil
		}
		return nil, &ConflictError{Asked: asked, Want: want}
	}
	host = set(host, ci, "CgroupParent", marshalString(want))
	return encodeObject(set(top, hi, "HostConfig", encodeObject(host))), nil
}

func checkTopLevel(top []field, want string, same func(string) bool, allowOverride bool) error {
	ti, err := find(top, "CgroupParent")
	if err != nil {
		return &BodyError{Err: err}
	}
	if ti < 0 || isNull(top[ti].Value) {
		return nil
	}
	var asked string
	if err := json.Unmarshal(top[ti].Value, &asked); err != nil {
		return &BodyError{Err: fmt.Errorf("CgroupParent %s: %w", top[ti].Value, err)}
	}
	if asked == "" || same(asked) || allowOverride {
		return nil
	}
	return &ConflictError{Asked: asked, Want: want, Field: "top-level CgroupParent"}
}

// set replaces member i (spelling its key canonically) or appends one.
func set(fs []field, i int, key string, v json.RawMessage) []field {
	if i < 0 {
		return append(fs, field{Key: key, Value: v})
	}
	fs[i] = field{Key: key, Value: v}
	return fs
}

// find returns the index of the member named key without regard to case,
// -1 when absent.
func find(fs []field, key string) (int, error) {
	at := -1
	for i, f := range fs {
		if !strings.EqualFold(f.Key, key) {
			continue
		}
		if at >= 0 {
			return 0, fmt.Errorf("member %q appears twice (as %q and %q)", key, fs[at].Key, f.Key)
		}
		at = i
	}
	return at, nil
}

// decodeObject splits one JSON object into its members, in order, values
// verbatim. Anything after the object is an error.
func decodeObject(data []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if tok != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object, got %v", tok)
	}
	var fs []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %w", tok, err)
		}
		fs = append(fs, field{Key: tok.(string), Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the object: %v %v", tok, err)
	}
	return fs, nil
}

func encodeObject(fs []field) []byte {
	b := []byte{'{'}
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, marshalString(f.Key)...)
		b = append(b, ':')
		b = append(b, f.Value...)
	}
	return append(b, '}')
}

func marshalString(s string) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }
