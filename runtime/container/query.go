package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gophertainer/gtu/runtime/state"
)

// OCIState is exactly the state object of the OCI runtime spec.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      Status            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func (h *handle) ociState() OCIState {
	s := OCIState{OCIVersion: h.st.OCIVersion, ID: h.st.ID, Status: h.status(),
		Bundle: h.st.Bundle, Annotations: h.st.Annotations}
	if s.Status != Stopped {
		s.Pid = h.st.Pid
	}
	return s
}

// State writes the OCI state of container id to w as indented JSON.
func State(g Global, id string, w io.Writer) error {
	h, err := open(g, id, false)
	if err != nil {
		return err
	}
	defer h.close()
	return writeJSON(w, h.ociState())
}

// listEntry is one row of `list --format json`, shaped like runc's.
type listEntry struct {
	OCIState
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// List writes every container under --root: a table, JSON, or ids only.
func List(g Global, format string, quiet bool, w io.Writer) error {
	ids, err := g.store().List()
	if err != nil {
		return err
	}
	entries := make([]listEntry, 0, len(ids))
	for _, id := range ids {
		h, err := open(g, id, false)
		if err != nil {
			if errors.Is(err, state.ErrNotExist) {
				continue // deleted while we listed
			}
			return err
		}
		entries = append(entries, listEntry{OCIState: h.ociState(), Rootfs: h.st.Rootfs,
			Created: h.st.Created, Owner: h.st.Owner})
		h.close()
	}
	switch {
	case quiet:
		for _, e := range entries {
			fmt.Fprintln(w, e.ID)
		}
		return nil
	case format == "json":
		return writeJSON(w, entries)
	case format == "table" || format == "":
		tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
		fmt.Fprint(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle,
				e.Created.Format(time.RFC3339Nano), e.Owner)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("--format %q: must be table or json", format)
	}
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
