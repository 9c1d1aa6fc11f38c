package lint

import (
	"errors"
	"io/fs"
	"os"

	"github.com/gjallar-dev/gjallar/rules"
)

// DefaultConfigFile is looked for in the current directory.
const DefaultConfigFile = ".gjallar.yaml"

// LoadConfig reads the config file at path, or .gjallar.yaml in the current
// directory when path is empty (a missing default file is no config). A
// config that cannot be read or parsed is a usage error.
func LoadConfig(path string) (*rules.Config, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultConfigFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, &UsageError{err}
	}
	cfg, err := rules.ParseConfig(path, data)
	if err != nil {
		return nil, &UsageError{err}
	}
	return cfg, nil
}
