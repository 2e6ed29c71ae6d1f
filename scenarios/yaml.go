package scenarios

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// nodeKind is the shape of a YAML node as the knob parsers see it.
type nodeKind int

const (
	scalarNode nodeKind = iota
	sequenceNode
	mappingNode
	aliasNode
)

// node is a YAML node reduced to what scenarios need. The knob parsers
// take it rather than the YAML library's AST, which has a type per scalar
// flavour (string, integer, null, literal...) that a knob never cares about,
// and so the library can change without touching the knob table.
type node struct {
	kind  nodeKind
	value string  // a scalar's text, unquoted
	items []*node // a sequence's items; a mapping's keys and values alternating
	line  int     // 1-based; 0 when the node did not come from a file (Set)
	col   int     // 1-based, in runes
}

// parseYAML parses the first document of data. A nil node means the
// document is empty (or only comments). Syntax errors are *SourceError
// values naming file, line and column, with the offending line and a caret.
func parseYAML(file string, data []byte) (*node, error) {
	// Duplicate keys are allowed here so that Parse can report them with
	// every other problem, rather than stop at the first.
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			p := ye.GetToken().Position
			return nil, newSourceError(file, data, p.Line, p.Column, ye.GetMessage())
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, nil
	}
	return convert(f.Docs[0].Body), nil
}

// convert turns the library's AST into nodes. Anchors and tags are
// transparent, as they are to a decoder; an alias stays an alias, which
// every knob refuses.
func convert(n ast.Node) *node {
	out := &node{}
	if tk := n.GetToken(); tk != nil {
		out.line, out.col = tk.Position.Line, tk.Position.Column
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		return convert(v.Value)
	case *ast.TagNode:
		return convert(v.Value)
	case *ast.AliasNode:
		out.kind = aliasNode
	case *ast.MappingNode:
		out.kind = mappingNode
		for _, mv := range v.Values {
			out.items = append(out.items, convert(mv.Key), convert(mv.Value))
		}
		// A mapping's token is its first colon; point at its first key.
		if len(out.items) > 0 {
			out.line, out.col = out.items[0].line, out.items[0].col
		}
	case *ast.MappingValueNode:
		out.kind = mappingNode
		out.items = []*node{convert(v.Key), convert(v.Value)}
		out.line, out.col = out.items[0].line, out.items[0].col
	case *ast.SequenceNode:
		out.kind = sequenceNode
		for _, it := range v.Values {
			out.items = append(out.items, convert(it))
		}
	case *ast.StringNode:
		out.value = v.Value
	case *ast.LiteralNode:
		out.value = v.Value.Value
	case *ast.NullNode:
		// An empty value reads as "" (the token says "null" even then);
		// a written ~ or null keeps its spelling.
		if n.String() != "" {
			out.value = n.GetToken().Value
		}
	default:
		// Integers, floats, booleans, infinities: their text as written,
		// which each knob parses by its own rules (yes/no are booleans to
		// a bool knob, 0x10 is not a batch size).
		if tk := n.GetToken(); tk != nil {
			out.value = tk.Value
		}
	}
	return out
}

// kindName names a node kind for messages.
func kindName(k nodeKind) string {
	switch k {
	case sequenceNode:
		return "list"
	case mappingNode:
		return "mapping"
	case aliasNode:
		return "alias"
	}
	return "value"
}

// SourceError is a problem at a place in a scenario file. Error renders it
// as "FILE:LINE: MESSAGE" followed by the source line and a caret under the
// column, the way compilers do, so a scenario author sees the spot.
type SourceError struct {
	File   string
	Line   int    // 1-based
	Column int    // 1-based, in runes
	Msg    string // the problem, without the position
	Text   string // the source line, without its newline; empty if unknown
}

// Error implements error. The first line keeps the FILE:LINE: prefix that
// editors and earlier versions print; the snippet follows on two more.
func (e *SourceError) Error() string {
	head := fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	if e.Text == "" {
		return head
	}
	num := fmt.Sprintf("%5d | ", e.Line)
	var pad strings.Builder
	for i, r := range []rune(e.Text) {
		if i >= e.Column-1 {
			break
		}
		// Keep tabs so the caret lines up however the terminal expands them.
		if r == '\t' {
			pad.WriteRune('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	return head + "\n" + num + e.Text + "\n" + strings.Repeat(" ", len(num)-2) + "| " + pad.String() + "^"
}

// newSourceError builds a SourceError, taking line's text from data.
func newSourceError(file string, data []byte, line, col int, msg string) *SourceError {
	return &SourceError{File: file, Line: line, Column: col, Msg: msg, Text: sourceLine(data, line)}
}

// sourceLine returns line n (1-based) of data, or "" when there is none.
func sourceLine(data []byte, n int) string {
	if n < 1 {
		return ""
	}
	lines := strings.Split(string(data), "\n")
	if n > len(lines) {
		return ""
	}
	return strings.TrimRight(lines[n-1], "\r")
}
