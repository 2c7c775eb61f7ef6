// Package secretfmt prints a pointer to a struct that holds secrets
// (meshwatch.Secret fields) the way fmt prints any pointer to a struct,
// for every verb, without ever showing a secret.
//
// fmt prints a struct's fields through their methods, so a Secret field
// prints as "<secret>" — except when a pointer to the struct sits inside
// another value and is printed with a verb that does not suit a pointer
// (%s, %d, %t…): fmt then reports the bad verb and prints the value by
// reflection alone, secrets included. A type whose pointer implements
// fmt.Formatter with Format avoids that path.
package secretfmt

import (
	"fmt"
	"io"
	"strings"
)

// Format prints fields, a pointer to a method-less copy of the struct type
// named name (e.g. (*saslFields)(s) for a *config.SASL named
// "config.SASL"), with the verb and flags of f; isNil says that the
// original pointer is nil. fieldsName is the copy type's name, replaced by
// name's in %#v output.
func Format(f fmt.State, verb rune, name, fieldsName string, fields any, isNil bool) {
	sharp := verb == 'v' && f.Flag('#')
	if isNil {
		if sharp {
			_, _ = io.WriteString(f, "(*"+name+")(nil)")
		} else {
			_, _ = io.WriteString(f, "<nil>")
		}
		return
	}
	out := fmt.Sprintf(fmt.FormatString(f, verb), fields)
	if sharp {
		out = strings.Replace(out, fieldsName, name[strings.LastIndexByte(name, '.')+1:], 1)
	}
	_, _ = io.WriteString(f, out)
}
