//go:build tools

// Package tools records the S3 server command this module builds.
package tools

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
