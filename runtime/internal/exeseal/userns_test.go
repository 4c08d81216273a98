package exeseal

import "testing"

func TestInitialUserNS(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"initial", "         0          0 4294967295\n", true},
		{"no trailing newline", "0 0 4294967295", true},
		{"rootless single id", "         0       1000          1\n", false},
		{"subid range", "0 1000 1\n1 100000 65536\n", false},
		{"shifted full range", "0 1 4294967295\n", false},
		{"identity but shorter", "0 0 65536\n", false},
		{"full map plus extra line", "0 0 4294967295\n1 1 1\n", false},
		{"empty: unmapped namespace", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := initialUserNS([]byte(tt.in)); got != tt.want {
				t.Errorf("initialUserNS(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
