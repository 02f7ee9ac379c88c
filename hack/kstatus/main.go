// kstatus computes, with the kstatus library that Flux, kpt and cli-utils use, the status of the objects
// `kubectl get -o json` prints on stdin (one object or a List): one JSON line per object,
// {"name", "status", "message"}. The integration tests use it to check what GitOps tools see.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(data); err != nil {
		return fmt.Errorf("stdin is not a Kubernetes object: %w", err)
	}
	items := []unstructured.Unstructured{obj}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			return err
		}
		items = list.Items
	}
	enc := json.NewEncoder(out)
	for i := range items {
		res, err := status.Compute(&items[i])
		if err != nil {
			return fmt.Errorf("%s: %w", items[i].GetName(), err)
		}
		if err := enc.Encode(result{Name: items[i].GetName(), Status: res.Status.String(), Message: res.Message}); err != nil {
			return err
		}
	}
	return nil
}
