package main

import (
	"os"
	"testing"
)

func TestCommittedModuleIsCurrent(t *testing.T) {
	have, err := os.ReadFile("../static/assets/js/lifecycle.gen.js")
	if err != nil {
		t.Fatalf("read the committed module: %v; run `make generate`", err)
	}
	if string(have) != string(Render()) {
		t.Fatalf("services/api/ui/static/assets/js/lifecycle.gen.js differs from the orchestrator's table: run `make generate` and commit")
	}
}
