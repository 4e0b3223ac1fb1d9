//go:build tools

// Package tools records the command built from this module, so that `go mod tidy` keeps its
// requirements in go.mod and go.sum.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
