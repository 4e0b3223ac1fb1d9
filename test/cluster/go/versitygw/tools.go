//go:build tools

// Package tools records the commands built from this module, so that
// `go mod tidy` keeps their requirements in go.mod and go.sum.
package tools

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
