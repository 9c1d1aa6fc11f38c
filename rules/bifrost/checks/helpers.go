package checks

import (
	"strconv"
	"strings"
)

// quotedList renders names for a message as "a", "b".
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
