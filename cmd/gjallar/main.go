// Command gjallar checks an AI inference gateway stack (kgateway, Bifrost,
// vLLM, Langfuse) on Kubernetes: offline with `gjallar lint`, and in the
// cluster as an admission webhook. This package only wires commands: flags
// in, calls out.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "gjallar:", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors (unknown command or flag, bad arguments) are usage
	// errors.
	fmt.Fprintln(stderr, "gjallar:", err)
	return exitUsage
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "gjallar",
		Short: "Guard a kgateway + Bifrost + vLLM + Langfuse stack on Kubernetes",
		Long: "gjallar catches the mistakes that silently break an AI inference gateway stack on\n" +
			"Kubernetes: Bifrost providers written as a list, an otel plugin Langfuse cannot read,\n" +
			"a Bifrost PVC without fsGroup, a public NLB that bypasses CloudFront, model names\n" +
			"without their provider/ prefix, and a config change that never reaches the pods.\n" +
			"The same rules run offline (gjallar lint) and in the cluster (gjallar webhook).",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr(fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	root.AddCommand(newLintCommand(), newAuditCommand(), newRulesCommand(), newPolicyCommand(), newSchemaCommand(), newVersionCommand(), newWebhookCommand())
	return root
}
