//go:build tools

// Package tools records the krew CLI, built by test/tools to install the plugin's krew manifest,
// so that `go mod tidy` keeps its requirements in go.mod and go.sum.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
)
