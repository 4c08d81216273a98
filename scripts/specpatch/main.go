// Command specpatch edits a bundle's config.json for scripts/demo.sh, so the
// demo needs neither jq nor fragile sed over JSON.
//
//	go run ./scripts/specpatch [-terminal=false] [-cgroups-path P] CONFIG [ARG...]
//
// ARGs, when given, replace process.args. Every field specpatch does not set
// is kept as it was, including ones newer than this program knows.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "specpatch:", err)
		os.Exit(1)
	}
}

func run(argv []string) error {
	fs := flag.NewFlagSet("specpatch", flag.ContinueOnError)
	terminal := fs.Bool("terminal", false, "value of process.terminal")
	cgroupsPath := fs.String("cgroups-path", "", "value of linux.cgroupsPath (unchanged if empty)")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return errors.New("usage: specpatch [-terminal=false] [-cgroups-path P] CONFIG [ARG...]")
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// A generic map, not the runtime-spec structs: fields this program
	// does not know must survive the round trip.
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	process, err := object(cfg, "process")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	process["terminal"] = *terminal
	if args := fs.Args()[1:]; len(args) > 0 {
		process["args"] = args
	}
	if *cgroupsPath != "" {
		linux, err := object(cfg, "linux")
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		linux["cgroupsPath"] = *cgroupsPath
	}
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

// object returns cfg[key] as a JSON object, creating it if absent.
func object(cfg map[string]any, key string) (map[string]any, error) {
	v, ok := cfg[key]
	if !ok {
		m := map[string]any{}
		cfg[key] = m
		return m, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not an object", key)
	}
	return m, nil
}
