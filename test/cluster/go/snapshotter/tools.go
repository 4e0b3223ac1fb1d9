//go:build tools

// Package tools keeps the client module in go.mod and go.sum under `go mod tidy`.
package tools

import (
	_ "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
)
