package main

import (
	"os"
	"strconv"
	"testing"
)

// TestRestoreSecrets: a re-executed process reads the secrets handed
// over by pipe into its environment, and only the secret variables.
func TestRestoreSecrets(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(`{"SOCKERLESS_SECRET":"s1","SOCKERLESS_TOKEN":"t1","PATH":"/evil"}`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	path := os.Getenv("PATH")
	t.Setenv(secretsFDEnv, strconv.Itoa(int(r.Fd())))
	t.Setenv("SOCKERLESS_SECRET", "")
	t.Setenv("SOCKERLESS_TOKEN", "")
	restored, err := restoreSecrets()
	if err != nil || !restored {
		t.Fatalf("restoreSecrets = %v, %v", restored, err)
	}
	if os.Getenv("SOCKERLESS_SECRET") != "s1" || os.Getenv("SOCKERLESS_TOKEN") != "t1" || os.Getenv("PATH") != path {
		t.Fatalf("environment after restore: secret %q token %q PATH %q", os.Getenv("SOCKERLESS_SECRET"), os.Getenv("SOCKERLESS_TOKEN"), os.Getenv("PATH"))
	}
	if _, ok := os.LookupEnv(secretsFDEnv); ok {
		t.Fatalf("%s still set", secretsFDEnv)
	}
	dropSecretVars()
	if _, ok := os.LookupEnv("SOCKERLESS_SECRET"); ok {
		t.Fatal("dropSecretVars left SOCKERLESS_SECRET")
	}
}

// TestHideSecretsWithoutSecrets: with nothing to hide, no re-exec.
func TestHideSecretsWithoutSecrets(t *testing.T) {
	if err := hideSecrets("/nonexistent", []string{"x"}, []string{"PATH=/bin", "SOCKERLESS_STATE=memory"}); err != nil {
		t.Fatalf("hideSecrets = %v, want nil (nothing to hide, no exec)", err)
	}
}
