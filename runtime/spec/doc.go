// Package spec loads, validates and plans an OCI bundle.
//
// Everything here is pure: config.json goes in, a [Plan] comes out, and the
// only system calls are reading the file, os.Getwd to make a relative bundle
// absolute, and os.Getuid/os.Getgid for the rootless [Default]. The executor
// in runtime/initproc follows the Plan without looking at config.json again
// (STYLE.md rule 6), so every decision that can be made from the spec alone
// (flags, numbers, defaults, rejections) is made here and table-tested.
package spec
