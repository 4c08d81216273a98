package overlay

import "errors"

// ErrNoHelper is storage wanted without gtu-storage installed.
var ErrNoHelper = errors.New("gtu-storage (the image and layer store) is not installed next to gtu")
