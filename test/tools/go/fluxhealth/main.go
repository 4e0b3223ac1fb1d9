// fluxhealth judges objects as Flux's kustomize-controller does: with the healthCheckExprs of a
// Kustomization (fluxcd/pkg/runtime/cel, the evaluator Flux runs) and, without them, with kstatus
// (fluxcd/cli-utils, Flux's copy of sigs.k8s.io/cli-utils). It reads JSON on stdin,
//
//	{"healthCheckExprs": [{"apiVersion": ..., "kind": ..., "current": ..., ...}], "objects": [...]}
//
// and writes one JSON line per object: {"name": ..., "exprs": "Current", "kstatus": "InProgress", ...}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type input struct {
	HealthCheckExprs []kustomize.CustomHealthCheck `json:"healthCheckExprs"`
	Objects          []json.RawMessage             `json:"objects"`
}

type output struct {
	Name           string `json:"name"`
	Exprs          string `json:"exprs"`
	KStatus        string `json:"kstatus"`
	KStatusMessage string `json:"kstatusMessage"`
	Error          string `json:"error,omitempty"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintf(os.Stderr, "fluxhealth: reading stdin: %v\n", err)
		os.Exit(2)
	}
	if len(in.HealthCheckExprs) != 1 {
		fmt.Fprintf(os.Stderr, "fluxhealth: want exactly one healthCheckExprs entry, got %d\n", len(in.HealthCheckExprs))
		os.Exit(2)
	}
	evaluator, err := cel.NewStatusEvaluator(&in.HealthCheckExprs[0].HealthCheckExpressions)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fluxhealth: %v\n", err)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, raw := range in.Objects {
		// Unstructured's own decoding keeps integers int64, as objects read from the API server are.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			fmt.Fprintf(os.Stderr, "fluxhealth: an object: %v\n", err)
			os.Exit(2)
		}
		out := output{Name: u.GetName()}
		if res, err := evaluator.Evaluate(context.Background(), u); err != nil {
			out.Error = err.Error()
		} else {
			out.Exprs = string(res.Status)
		}
		if res, err := status.Compute(u); err != nil {
			out.Error = err.Error()
		} else {
			out.KStatus = string(res.Status)
			out.KStatusMessage = res.Message
		}
		_ = enc.Encode(out)
	}
}
