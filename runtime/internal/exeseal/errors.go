package exeseal

import "errors"

// errReplaced means the overlay shows a different file under the binary's
// name than the one this process runs, e.g. after a package upgrade renamed
// a new gtu into place. The init stage must run the same build as the
// parent, so Open falls back to copying /proc/self/exe.
var errReplaced = errors.New("binary on disk is not the running binary")
