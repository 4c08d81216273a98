package slirp

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParsePort(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Port
		wantErr string
	}{
		{in: "8080:80", want: Port{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{in: "8080:80/udp", want: Port{HostPort: 8080, ContainerPort: 80, Proto: "udp"}},
		{in: "127.0.0.1:8080:80", want: Port{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{in: "127.0.0.1:53:53/udp", want: Port{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Proto: "udp"}},
		{in: "[::1]:8080:80/tcp", want: Port{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		{in: "65535:1", want: Port{HostPort: 65535, ContainerPort: 1, Proto: "tcp"}},
		{in: "80", wantErr: `"80": no host port`},
		{in: "", wantErr: `"": no host port`},
		{in: "8080:80/sctp", wantErr: `protocol "sctp"`},
		{in: "8080:80/", wantErr: `protocol ""`},
		{in: "0:80", wantErr: `host port "0"`},
		{in: "8080:65536", wantErr: `container port "65536"`},
		{in: "http:80", wantErr: `host port "http"`},
		{in: "8080-8081:80-81", wantErr: "port ranges are not supported"},
		{in: ":8080:80", wantErr: "empty host address"},
		{in: "localhost:8080:80", wantErr: `host address "localhost"`},
		{in: "::1:8080:80", wantErr: "in brackets"},
		{in: "[::1]8080:80", wantErr: "in brackets"},
		{in: "[::1]:8080", wantErr: "[HOSTIP]:HOSTPORT:CONTAINERPORT"},
		{in: "[fe80::1%eth0]:8080:80", wantErr: `host address "fe80::1%eth0"`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePort(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadPort) {
					t.Fatalf("ParsePort(%q) = %+v, %v; want an ErrBadPort containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePort(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			// String gives back a form that parses to the same Port.
			again, err := ParsePort(got.String())
			if err != nil || again != got {
				t.Errorf("ParsePort(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

func TestPastaArgs(t *testing.T) {
	for _, tt := range []struct {
		name  string
		ports []Port
		want  []string
	}{
		{"none", nil, []string{"-t", "none", "-u", "none", "-T", "none", "-U", "none"}},
		{"tcp and udp", []Port{
			{HostPort: 8080, ContainerPort: 80},
			{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Proto: "udp"},
			{HostIP: "::1", HostPort: 8443, ContainerPort: 443, Proto: "tcp"},
		}, []string{"-t", "8080:80", "-t", "::1/8443:443", "-u", "127.0.0.1/5353:53", "-T", "none", "-U", "none"}},
		{"udp only", []Port{{HostPort: 53, ContainerPort: 53, Proto: "udp"}},
			[]string{"-t", "none", "-u", "53:53", "-T", "none", "-U", "none"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pastaArgs(tt.ports); !slices.Equal(got, tt.want) {
				t.Errorf("pastaArgs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHostfwdRequest(t *testing.T) {
	for _, tt := range []struct {
		p    Port
		want string
	}{
		{Port{HostPort: 8080, ContainerPort: 80},
			`{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_port":80}}`},
		{Port{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 5353, Proto: "udp"},
			`{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"127.0.0.1","host_port":53,"guest_port":5353}}`},
	} {
		got, err := hostfwdRequest(tt.p)
		if err != nil || string(got) != tt.want {
			t.Errorf("hostfwdRequest(%v) = %s, %v; want %s", tt.p, got, err, tt.want)
		}
	}
}

func TestParseAPIReply(t *testing.T) {
	for _, tt := range []struct {
		in      string
		wantErr string
	}{
		{`{"return": {"id": 1}}`, ""},
		{`{"return": {}}`, ""},
		{`{"error": {"desc": "bad request: add_hostfwd: slirp_add_hostfwd failed"}}`, "slirp4netns refused: bad request: add_hostfwd: slirp_add_hostfwd failed"},
		{`{}`, "neither return nor error"},
		{``, "api reply"},
		{`not json`, "api reply"},
	} {
		err := parseAPIReply([]byte(tt.in))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("parseAPIReply(%s) = %v, want error containing %q", tt.in, err, tt.wantErr)
		}
	}
}
