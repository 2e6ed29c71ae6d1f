package ray_test

import (
	"fmt"

	"workbench/ray"
)

// A token given as --header 'Authorization: Bearer $RAY_TOKEN' expands from
// the environment and never prints.
func ExampleParseHeader() {
	env := map[string]string{"RAY_TOKEN": "eyJhbGciOi.secret"}
	h, err := ray.ParseHeader("Authorization: Bearer $RAY_TOKEN", func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(h)
	fmt.Printf("%v %q\n", h.Value, h.Value)
	fmt.Println(len(h.Value.Reveal()))
	// Output:
	// Authorization: [REDACTED]
	// [REDACTED] [REDACTED]
	// 24
}
