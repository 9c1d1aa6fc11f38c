package checks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostImageArgs catches container args the official image never passes
// to Bifrost.
var BifrostImageArgs = &rules.Rule{
	ID:       "bifrost-image-args",
	Summary:  "The official Bifrost image's entrypoint drops container args other than -port and -host: use its environment variables",
	Severity: rules.Warning,
	Rationale: "The official image's entrypoint (maximhq/bifrost transports/docker-entrypoint.sh, v1.2.x " +
		"to v1.5.11 and later) always starts `/app/main -app-dir \"$APP_DIR\" -port \"$APP_PORT\" -host " +
		"\"$APP_HOST\" -log-level \"$LOG_LEVEL\" -log-style \"$LOG_STYLE\"`. Of the container's args it " +
		"only reads -port/--port and -host/--host; anything else is dropped, and when it is given two " +
		"or more arguments its loop rotates an unknown one forever, so the container never starts " +
		"(the unmerged PR #5300 changes that). The runbook's `args: [\"-app-dir\", \"/app/data\"]` " +
		"therefore does nothing at best. Set the environment variable instead: APP_DIR for -app-dir, " +
		"APP_PORT for -port, APP_HOST for -host, LOG_LEVEL for -log-level, LOG_STYLE for -log-style; " +
		"or give the container a `command` that runs /app/main itself. Checked on containers running a " +
		"Bifrost image without a command of their own.",
	Kinds: rules.PodTemplateKinds,
	Check: checkBifrostImageArgs,
}

func checkBifrostImageArgs(c *rules.Context, obj *rules.Object) {
	t, err := obj.PodTemplate()
	if err != nil || t == nil {
		return
	}
	for _, ctr := range bifrost.Containers(t) {
		ignored := ctr.IgnoredArgs()
		if len(ignored) == 0 {
			continue
		}
		effect := "drops it"
		if len(ctr.Args)+max(len(ctr.Command)-1, 0) > 1 {
			effect = "loops forever on it, so Bifrost never starts"
		}
		at := ctr.Path.Child("args")
		if len(ctr.Args) == 0 {
			at = ctr.Path.Child("command")
		}
		c.Reportf(at, "container %q passes %s to the Bifrost image's entrypoint, which only reads -port and -host and %s; %s",
			ctr.Name, quoteArgs(ignored), effect, envInstead(ignored))
	}
}

func quoteArgs(args []string) string {
	return "[" + strings.Join(args, " ") + "]"
}

// envInstead says which environment variables do the job of the flags.
func envInstead(args []string) string {
	set := map[string]string{}
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		env, ok := bifrost.EntrypointEnv[name]
		if !ok {
			continue
		}
		if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value = args[i+1]
		}
		set[env] = value
	}
	if len(set) == 0 {
		return "remove the args (the entrypoint takes its settings from APP_DIR, APP_PORT, APP_HOST, LOG_LEVEL and LOG_STYLE)"
	}
	var parts []string
	for env, value := range set {
		if value == "" {
			parts = append(parts, env)
		} else {
			parts = append(parts, fmt.Sprintf("%s=%s", env, value))
		}
	}
	sort.Strings(parts)
	return "remove the args and set env " + strings.Join(parts, ", ") + " instead"
}
