package initproc

import "unsafe"

// uintptrOf is the address of a gid list for the raw setgroups syscall
// (gid_t is 32 bits on Linux, like uint32).
func uintptrOf(gids []uint32) uintptr { return uintptr(unsafe.Pointer(&gids[0])) }
