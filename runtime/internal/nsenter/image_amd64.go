package nsenter

import _ "embed"

// image is c/nsenter.c built by build.sh (TestImageUpToDate keeps it honest).
//
//go:embed nsenter_amd64.bin
var image []byte
