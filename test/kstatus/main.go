// kstatus reads one Kubernetes object as JSON on stdin and prints the verdict of kstatus
// (sigs.k8s.io/cli-utils/pkg/kstatus/status, the rules Flux, kpt and cli-utils' `status`
// use) as one JSON line: {"status":"Current|InProgress|Failed|Terminating|...","message":"..."}.
// The e2e and unit tests use it to check that StandbySite status follows the kstatus
// conventions (test/kstatus/kstatus.ts builds and runs it).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	// UnmarshalJSON keeps whole numbers as int64, as the API machinery (and kstatus) expects.
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(in); err != nil {
		fail("stdin is not a Kubernetes object in JSON: %v", err)
	}
	res, err := status.Compute(obj)
	if err != nil {
		fail("%v", err)
	}
	out, err := json.Marshal(verdict{Status: res.Status.String(), Message: res.Message})
	if err != nil {
		fail("encoding the verdict: %v", err)
	}
	fmt.Println(string(out))
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(2)
}
